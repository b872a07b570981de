#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "receiver_test_util.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/mitigation/mitigator.hpp"

using namespace saslguard::receiver;
using saslguard::receiver::testing::minimal_config;
using saslguard::receiver::testing::TempDir;

TEST_CASE("a config with only the webhook token gets every documented default") {
    TempDir dir;
    auto c = parse_config(minimal_config(dir), "r.yml");
    REQUIRE(c.ok());
    CHECK(c->listen_address == "127.0.0.1:9755");
    CHECK(c->listen_port() == 9755);
    CHECK(c->webhook.bearer_token == "tok-123-0123456789abcdef");
    CHECK(c->webhook.max_body_bytes == 1048576);
    CHECK(c->prometheus.timeout == std::chrono::seconds(5));
    CHECK(c->prometheus.window == std::chrono::minutes(10));
    CHECK(c->policy.max_auto_actions_per_hour == 10);
    CHECK(c->policy.min_share == 0.5);
    CHECK(c->policy.auto_actions ==
          std::vector<ActionKind>{ActionKind::BlockLogin, ActionKind::HoldMail});
    CHECK(c->policy.action_expiry == std::chrono::hours(24));
    CHECK(c->mitigation.sasl_backend == mitigation::SaslBackendKind::Sasldb);
    CHECK(c->mitigation.max_block_ips == 50);
    CHECK(c->mitigation.postfix_bin_dir == "/usr/sbin");
    CHECK(c->mitigation.command_timeout == std::chrono::seconds(30));
    CHECK_FALSE(c->telegram.enabled);
}

TEST_CASE("the shipped deploy/receiver.yml loads once its secrets exist") {
    TempDir dir;
    auto text = saslguard::files::read_all(SASLGUARD_SOURCE_DIR "/deploy/receiver.yml");
    REQUIRE(text.ok());
    std::string yaml = *text;
    // Point the secret files at temporary ones; everything else as shipped.
    dir.write_secret("webhook_token", "0123456789abcdef0123\n");
    dir.write_secret("bot_token", "123:b\n");
    auto replace = [&](const std::string& from, const std::string& to) {
        auto pos = yaml.find(from);
        REQUIRE(pos != std::string::npos);
        yaml.replace(pos, from.size(), to);
    };
    replace("/etc/saslguard/webhook-token", dir.path("webhook_token"));
    replace("/etc/saslguard/telegram-bot-token", dir.path("bot_token"));
    auto c = parse_config(yaml, "receiver.yml");
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
}

TEST_CASE("config errors name the file and the line of the offending key") {
    TempDir dir;
    const std::string b = minimal_config(dir);
    struct Case {
        std::string yaml;
        std::string expected;
    };
    std::vector<Case> cases = {
        {b + "policy:\n  min_share: 2\n",
         "r.yml:4: policy.min_share: expected a number in [0, 1], got '2'"},
        {b + "prometheus:\n  timeout: 5\n",
         "r.yml:4: prometheus.timeout: expected a duration like 30s, 5m, 1h, got '5'"},
        {b + "policy:\n  modes:\n    SaslUserSendingSurge: yes-please\n",
         "r.yml:5: policy.modes.SaslUserSendingSurge: expected notify, confirm or auto"},
        {b + "polcy: {}\n", "r.yml:3: unknown key polcy"},
        {b + "mitigation:\n  map_type: dbm\n",
         "r.yml:4: mitigation.map_type: expected hash, btree, lmdb or cdb, got 'dbm'"},
        {b + "mitigation:\n  map_type: texthash\n",
         "r.yml:4: mitigation.map_type: texthash is not supported: Postfix reads a texthash table "
         "only when it starts, so a block would need `postfix reload`; use hash, btree, lmdb or "
         "cdb"},
        {b + "mitigation:\n  mail_log: /var/log/mail.log\n",
         "r.yml:4: unknown key mitigation.mail_log"},
        {b + "mitigation:\n  sasl_backend: command\n  lock_command: [/bin/lock, 'uid={user}']\n"
             "  unlock_command: [/bin/unlock, '{user}']\n",
         "r.yml:5: mitigation.lock_command: command template: \"{user}\" must be a whole "
         "argument, not part of \"uid={user}\""},
        {b + "listen_address: localhost\n",
         "r.yml:3: listen_address: expected host:port, got 'localhost'"},
        {b + "policy:\n  auto_actions: [block_login, delete_mail]\n",
         "r.yml:4: policy.auto_actions: delete_mail needs policy.allow_auto_delete: true"},
        {b + "policy:\n  auto_actions: [unblock_login]\n",
         "r.yml:4: policy.auto_actions: 'unblock_login' is not one of block_login, hold_mail, "
         "delete_mail, lock_account, block_ips"},
        {b + "telegram:\n  enabled: true\n  admin_chat_ids: [1]\n  admin_user_ids: [2]\n",
         "r.yml:4: telegram.bot_token_file: required"},
        {b + "telegram:\n  admin_chat_ids: [one]\n",
         "r.yml:4: telegram.admin_chat_ids: expected a list of integer ids"},
        {b + "mitigation:\n  sasl_backend: command\n",
         "r.yml:4: mitigation.sasl_backend: command needs lock_command and unlock_command"},
        {b + "webhook: [1, 2\n", "r.yml:4: end of sequence flow not found"},
        {"log_level: info\n", "r.yml:1: webhook.bearer_token_file: required"},
    };
    for (const auto& c : cases) {
        auto r = parse_config(c.yaml, "r.yml");
        INFO(c.yaml);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == c.expected);
    }
}

TEST_CASE("a token file that does not exist stops the start with the key's line") {
    auto r = parse_config("log_level: debug\nwebhook:\n  bearer_token_file: /nonexistent/token\n",
                          "r.yml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("r.yml:3: webhook.bearer_token_file: ", 0) == 0);
}

TEST_CASE("weak secrets are refused with the reason: short, the shipped example, open file") {
    TempDir dir;
    auto webhook = [&](const std::string& file) {
        return parse_config("webhook:\n  bearer_token_file: " + file + "\n", "r.yml");
    };
    auto example =
        saslguard::files::read_secret(SASLGUARD_SOURCE_DIR "/deploy/secrets/webhook-token.example");
    REQUIRE(example.ok());
    const std::string one = dir.write_secret("one", "x\n");
    const std::string shipped = dir.write_secret("shipped", *example + "\n");
    const std::string open = dir.write("open", "0123456789abcdef0123\n");
    ::chmod(open.c_str(), 0644);
    struct Case {
        std::string file, expected;
    };
    for (const auto& c : std::vector<Case>{
             {one, "r.yml:2: webhook.bearer_token_file: the secret in " + one +
                       " has 1 characters, fewer than 16; generate one "
                       "(deploy/secrets/README.md)"},
             {shipped, "r.yml:2: webhook.bearer_token_file: the secret in " + shipped +
                           " is the shipped example; generate one (deploy/secrets/README.md)"},
             {open, "r.yml:2: webhook.bearer_token_file: " + open +
                        " is readable or writable by every user (mode 0644); chmod o-rwx it "
                        "and use a new secret"},
         }) {
        auto r = webhook(c.file);
        INFO(c.file);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == c.expected);
    }
    // Group-readable (Alertmanager's group, deploy/secrets/README.md) is fine.
    const std::string group = dir.write_secret("group", "0123456789abcdef0123\n");
    ::chmod(group.c_str(), 0640);
    CHECK(webhook(group).ok());

    // The bot token: the shipped example and an open file are refused too.
    auto bot_example = saslguard::files::read_secret(SASLGUARD_SOURCE_DIR
                                                     "/deploy/secrets/telegram-bot-token.example");
    REQUIRE(bot_example.ok());
    dir.write_secret("webhook", "0123456789abcdef0123\n");
    const std::string bot = dir.write_secret("bot", *bot_example + "\n");
    auto r = parse_config("webhook:\n  bearer_token_file: " + dir.path("webhook") +
                              "\ntelegram:\n  enabled: true\n  bot_token_file: " + bot +
                              "\n  admin_chat_ids: [1]\n  admin_user_ids: [2]\n",
                          "r.yml");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "r.yml:5: telegram.bot_token_file: the secret in " + bot +
                                   " is the shipped example; generate one "
                                   "(deploy/secrets/README.md)");
}

TEST_CASE("policy modes, allowlists and lists are read as written") {
    TempDir dir;
    auto c = parse_config(minimal_config(dir) +
                              "policy:\n"
                              "  modes: {SaslUserSendingSurge: auto, PostfixQueueSurge: confirm}\n"
                              "  allowlist_users: [postmaster@example.com]\n"
                              "  allowlist_domains: [example.org]\n"
                              "  action_expiry: 0s\n"
                              "mitigation:\n  lock_command: [/usr/local/sbin/lock, '{user}']\n",
                          "r.yml");
    REQUIRE(c.ok());
    CHECK(c->policy.modes.at("SaslUserSendingSurge") == Mode::Auto);
    CHECK(c->policy.modes.at("PostfixQueueSurge") == Mode::Confirm);
    CHECK(c->policy.allowlist_users == std::vector<std::string>{"postmaster@example.com"});
    CHECK(c->policy.allowlist_domains == std::vector<std::string>{"example.org"});
    CHECK(c->policy.action_expiry.count() == 0);
    CHECK(c->mitigation.lock_command == std::vector<std::string>{"/usr/local/sbin/lock", "{user}"});
}

TEST_CASE("smtp_policy is off by default and the shipped section equals the code's defaults") {
    TempDir dir;
    auto c = parse_config(minimal_config(dir), "r.yml");
    REQUIRE(c.ok());
    const auto& d = c->smtp_policy;
    CHECK_FALSE(d.service.enabled);
    CHECK(d.service.server.listen == std::vector<std::string>{"inet:127.0.0.1:10046"});
    CHECK(d.release_grace == std::chrono::hours(1));

    // deploy/receiver.yml writes every key with its default: loading it must
    // give exactly what the code would without the section.
    auto text = saslguard::files::read_all(SASLGUARD_SOURCE_DIR "/deploy/receiver.yml");
    REQUIRE(text.ok());
    auto at = text->find("\nsmtp_policy:\n");
    REQUIRE(at != std::string::npos);
    auto shipped = parse_config(minimal_config(dir) + text->substr(at + 1), "receiver.yml");
    INFO((shipped.ok() ? "" : shipped.error().message));
    REQUIRE(shipped.ok());
    const auto& s = shipped->smtp_policy;
    CHECK(s.service.enabled == d.service.enabled);
    CHECK(s.service.server.listen == d.service.server.listen);
    CHECK(s.service.server.socket_mode == d.service.server.socket_mode);
    CHECK(s.service.server.socket_group == d.service.server.socket_group);
    CHECK(s.service.server.max_connections == d.service.server.max_connections);
    CHECK(s.service.server.request_timeout == d.service.server.request_timeout);
    CHECK(s.service.server.idle_timeout == d.service.server.idle_timeout);
    CHECK(s.service.server.parser.max_line_bytes == d.service.server.parser.max_line_bytes);
    CHECK(s.service.server.parser.max_attributes == d.service.server.parser.max_attributes);
    CHECK(s.service.server.parser.max_request_bytes == d.service.server.parser.max_request_bytes);
    CHECK(s.service.server.max_output_bytes == d.service.server.max_output_bytes);
    CHECK(s.service.login_reject_text == d.service.login_reject_text);
    CHECK(s.service.client_reject_text == d.service.client_reject_text);
    CHECK(s.service.guard.enabled == d.service.guard.enabled);
    CHECK(s.service.guard.limits.max_messages == d.service.guard.limits.max_messages);
    CHECK(s.service.guard.limits.max_recipients == d.service.guard.limits.max_recipients);
    CHECK(s.service.guard.message_window == d.service.guard.message_window);
    CHECK(s.service.guard.recipient_window == d.service.guard.recipient_window);
    CHECK(s.service.guard.hold_for == d.service.guard.hold_for);
    CHECK(s.service.guard.max_tracked_users == d.service.guard.max_tracked_users);
    CHECK(s.service.guard.user_limits.empty());
    CHECK(s.service.guard.allow_users.empty());
    CHECK(s.service.guard.allow_domains.empty());
    CHECK(s.release_grace == d.release_grace);
}

TEST_CASE("smtp_policy keys are read as written") {
    TempDir dir;
    auto c = parse_config(minimal_config(dir) +
                              "smtp_policy:\n"
                              "  enabled: true\n"
                              "  listen: ['unix:/var/spool/postfix/private/saslguard-policy',"
                              " 'inet:127.0.0.1:10099']\n"
                              "  socket_mode: '0600'\n"
                              "  socket_group: postfix\n"
                              "  request_timeout: 2s\n"
                              "  block: {login_reject_text: '5.7.1 no'}\n"
                              "  guard:\n"
                              "    max_messages: 5\n"
                              "    message_window: 30s\n"
                              "    hold_for: 0s\n"
                              "    user_limits:\n"
                              "      News@Example.com: {max_messages: 500}\n"
                              "    allow_domains: [example.org]\n"
                              "    release_grace: 15m\n",
                          "r.yml");
    INFO((c.ok() ? "" : c.error().message));
    REQUIRE(c.ok());
    const auto& s = c->smtp_policy.service;
    CHECK(s.enabled);
    CHECK(s.server.listen.size() == 2);
    CHECK(s.server.socket_mode == 0600);
    CHECK(s.server.socket_group == "postfix");
    CHECK(s.server.request_timeout == std::chrono::seconds(2));
    CHECK(s.login_reject_text == "5.7.1 no");
    CHECK(s.guard.limits.max_messages == 5);
    CHECK(s.guard.message_window == std::chrono::seconds(30));
    CHECK(s.guard.hold_for.count() == 0);
    // A per-user key left out keeps the section's default.
    CHECK(s.guard.user_limits.at("News@Example.com").max_messages == 500);
    CHECK(s.guard.user_limits.at("News@Example.com").max_recipients == 300);
    CHECK(s.guard.allow_domains == std::vector<std::string>{"example.org"});
    CHECK(c->smtp_policy.release_grace == std::chrono::minutes(15));
}

TEST_CASE("smtp_policy errors name the line of the key, including the service's own rules") {
    TempDir dir;
    const std::string b = minimal_config(dir);
    struct Case {
        std::string yaml;
        std::string expected;
    };
    std::vector<Case> cases = {
        {b + "smtp_policy:\n  listen: ['inet:192.0.2.1:10046']\n",
         "r.yml:4: smtp_policy.listen: 'inet:192.0.2.1:10046': only loopback addresses "
         "(127.0.0.0/8, ::1): the policy service must not be reachable from other hosts"},
        {b + "smtp_policy:\n  guard:\n    message_window: 2d\n",
         "r.yml:5: smtp_policy.guard.message_window: must be 1s..1d"},
        {b + "smtp_policy:\n  socket_mode: rw\n",
         "r.yml:4: smtp_policy.socket_mode: expected an octal mode like 0660, got 'rw'"},
        {b + "smtp_policy:\n  guard:\n    max_mesages: 5\n",
         "r.yml:5: unknown key smtp_policy.guard.max_mesages"},
        {b + "smtp_policy:\n  block:\n    login_reject_text: \"5.7.1 caf\xc3\xa9\"\n",
         "r.yml:5: smtp_policy.block.login_reject_text: only printable ASCII"},
        {b + "smtp_policy:\n  guard:\n    user_limits:\n      bob: {max_messages: -1}\n",
         "r.yml:6: smtp_policy.guard.user_limits.bob.max_messages: expected an integer in [0, "
         "10000000], got '-1'"},
    };
    for (const auto& c : cases) {
        auto r = parse_config(c.yaml, "r.yml");
        INFO(c.yaml);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == c.expected);
    }
}

TEST_CASE("the mitigation lock lives in the state directory, never beside the Postfix maps") {
    TempDir dir;
    // As the tests' receivers run: the shipped map paths, a private state_path.
    auto c = parse_config(minimal_config(dir) + "state_path: " + dir.path("state/state.db") +
                              "\nmitigation:\n  dry_run: true\n",
                          "r.yml");
    REQUIRE(c.ok());
    CHECK(c->mitigation.effective_lock_file() == dir.path("state/mitigation.lock"));
}

TEST_CASE("the programs mitigations run must be named by absolute paths") {
    TempDir dir;
    for (const char* bad : {"\"\"", "usr/sbin", "./bin"}) {
        auto r = parse_config(minimal_config(dir) + "mitigation:\n  postfix_bin_dir: " + bad + "\n",
                              "r.yml");
        INFO(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("r.yml:4: mitigation.postfix_bin_dir: must be an absolute") ==
              0);
    }
}

TEST_CASE("the policy's identity and corroboration keys have their documented defaults") {
    TempDir dir;
    auto c = parse_config(minimal_config(dir), "r.yml");
    REQUIRE(c.ok());
    CHECK(c->policy.auto_from_label == std::vector<std::string>{"SaslUserSendingSurge",
                                                                "SaslUserVolumeAnomaly",
                                                                "SaslUserNewSourceSurge"});
    CHECK(c->policy.min_queued_messages == 5);
    CHECK(c->mitigation.program("postsuper") == "/usr/sbin/postsuper");
    CHECK(c->mitigation.program("saslpasswd2") == "/usr/sbin/saslpasswd2");
    CHECK(c->mitigation.program("db_dump") == "/usr/bin/db_dump");
    CHECK(c->mitigation.sasldb_quarantine() == "/var/lib/saslguard/sasldb-quarantine");
    auto d = parse_config(minimal_config(dir) +
                              "policy:\n  auto_from_label: []\n  min_queued_messages: 0\n"
                              "mitigation:\n  programs: {db_dump: /opt/db/bin/db5.3_dump}\n"
                              "  never_block_ips: [10.0.0.0/8, '2001:db8::/32', 192.0.2.1]\n",
                          "r.yml");
    REQUIRE(d.ok());
    CHECK(d->policy.auto_from_label.empty());
    CHECK(d->mitigation.program("db_dump") == "/opt/db/bin/db5.3_dump");
    CHECK(d->mitigation.never_block_ips.size() == 3);
}

TEST_CASE("programs, never-block entries and allowlisted logins are checked at load") {
    TempDir dir;
    const std::string b = minimal_config(dir);
    struct Case {
        std::string yaml, expected;
    };
    for (const auto& c : std::vector<Case>{
             {b + "mitigation:\n  programs: {saslpasswd2: saslpasswd2}\n",
              "r.yml:4: mitigation.programs: saslpasswd2: must be an absolute path, got "
              "'saslpasswd2'"},
             {b + "mitigation:\n  programs: {sh: /bin/sh}\n",
              "r.yml:4: mitigation.programs: unknown program 'sh'"},
             {b + "mitigation:\n  never_block_ips: [10.0.0.0/40]\n",
              "r.yml:4: mitigation.never_block_ips: not an IP address or network (CIDR): "
              "'10.0.0.0/40'"},
             {b + "mitigation:\n  sasl_backend: command\n  lock_command: [lock, '{user}']\n"
                  "  unlock_command: [/bin/unlock, '{user}']\n",
              "r.yml:5: mitigation.lock_command: command template: the program must be an "
              "absolute path, got 'lock'"},
             {b + "policy:\n  allowlist_users: ['a b']\n",
              "r.yml:4: policy.allowlist_users: not a SASL login: 'a b'"},
         }) {
        auto r = parse_config(c.yaml, "r.yml");
        INFO(c.yaml);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == c.expected);
    }
}
