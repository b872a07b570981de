#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "receiver_test_util.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/mitigation/mitigator.hpp"

using namespace saslguard::receiver;
using saslguard::receiver::testing::TempDir;

namespace {
// A minimal valid config: only the webhook token is required.
std::string base(const TempDir& dir) {
    dir.write_secret("token", "tok-123-0123456789abcdef\n");
    return "webhook:\n  bearer_token_file: " + dir.path("token") + "\n";
}
}  // namespace

TEST_CASE("a config with only the webhook token gets every documented default") {
    TempDir dir;
    auto c = parse_config(base(dir), "r.yml");
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
    const std::string b = base(dir);
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
    auto c = parse_config(base(dir) +
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
