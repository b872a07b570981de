// Unit tests for the mitigation layer: map rendering and parsing, the pure
// parsers of Postfix/db_dump output, and the Mitigator driven with a recording
// fake CommandRunner and an in-memory store, so every argv and stdin that would
// reach postmap, postsuper, saslpasswd2, usermod or a configured command is
// checked, as is every byte written to a map file.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "memory_mitigation_repository.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/mitigation/access_map.hpp"
#include "saslguard/receiver/mitigation/mitigator.hpp"
#include "saslguard/receiver/mitigation/queue.hpp"
#include "saslguard/receiver/mitigation/sasl_backend.hpp"
#include "test_support.hpp"

using namespace saslguard;
using namespace saslguard::receiver;
using namespace saslguard::receiver::mitigation;

namespace {

struct Call {
    std::vector<std::string> argv;
    std::string stdin_data;
};

class RecordingRunner final : public CommandRunner {
public:
    std::vector<Call> calls;
    // Answers by program basename; default: success with no output.
    std::function<ProcessResult(const std::vector<std::string>&)> answer;

    ProcessResult run(const std::vector<std::string>& argv,
                      const ProcessOptions& options) override {
        calls.push_back({argv, options.stdin_data});
        if (answer) return answer(argv);
        return ok("");
    }
    static ProcessResult ok(std::string out) {
        ProcessResult r;
        r.started = true;
        r.exit_code = 0;
        r.out = std::move(out);
        return r;
    }
    static ProcessResult failed(int code, std::string err) {
        ProcessResult r;
        r.started = true;
        r.exit_code = code;
        r.err = std::move(err);
        return r;
    }
};

class FakeQueue final : public QueueSource {
public:
    std::vector<QueueEntry> entries;
    Result<std::vector<QueueEntry>> list() override { return entries; }
};

std::string base(const std::string& p) {
    return std::filesystem::path(p).filename().string();
}

struct Fixture {
    saslguard::test::TempDir tmp{"saslguard-mitigation-unit"};
    std::string dir;
    RecordingRunner runner;
    FakeQueue queue;
    testing::MemoryMitigationRepository store;
    ActiveBlocks blocks;
    std::int64_t now = 1'800'000'000'000;  // unix ms
    MitigationSettings settings;
    std::unique_ptr<Mitigator> mitigator;
    std::map<std::string, std::string> logins;  // queue id → recorded SASL login
    std::string mynetworks = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128";  // postconf -h

    explicit Fixture(SaslBackendKind backend = SaslBackendKind::Sasldb) {
        log::set_level(log::Level::Error);  // every refused request logs a warning
        dir = tmp.root();
        std::filesystem::create_directory(dir + "/state");
        settings.state_dir = dir + "/state";  // the mitigation lock, the sasldb quarantine
        settings.postfix_config_dir = dir;
        settings.postfix_bin_dir = "/usr/sbin";  // the runner is fake: nothing runs
        settings.sasl_access_map = dir + "/sasl_access";
        settings.client_access_map = dir + "/client_access";
        settings.sasldb_path = dir + "/sasldb2";
        settings.sasl_backend = backend;
        settings.lock_command = {"/usr/local/sbin/lock", "--user", "{user}"};
        settings.unlock_command = {"/usr/local/sbin/unlock", "{user}"};
        settings.max_block_ips = 4;
        queue.entries = {{"deferred", "A1B2C3D4E5", "alice@example.com"},
                         {"active", "B1B2C3D4E5", "bob@example.com"},
                         {"deferred", "C1B2C3D4E5", "forged@elsewhere.test"},
                         {"hold", "D1B2C3D4E5", "alice@example.com"},
                         // bob, authenticated as himself, with alice's address as sender.
                         {"deferred", "E1B2C3D4E5", "alice@example.com"}};
        // The SASL login Postfix recorded in each queue file (postcat -e).
        logins = {{"A1B2C3D4E5", "alice@example.com"},
                  {"B1B2C3D4E5", "bob@example.com"},
                  {"C1B2C3D4E5", "alice@example.com"},  // the forged sender is alice's
                  {"D1B2C3D4E5", "alice@example.com"},
                  {"E1B2C3D4E5", "bob@example.com"}};
        runner.answer = [this](const std::vector<std::string>& argv) {
            if (base(argv[0]) == "postconf" && argv.back() == "mynetworks")
                return RecordingRunner::ok(mynetworks + "\n");
            if (base(argv[0]) == "postconf" && argv.size() > 4 && argv[4] == "-h")
                return RecordingRunner::ok(
                    "check_client_access hash:" + settings.client_access_map +
                    "\n"
                    "check_sasl_access hash:" +
                    settings.sasl_access_map + ", permit\n");
            if (base(argv[0]) == "postcat") {
                std::string out;
                for (std::size_t i = 5; i < argv.size(); ++i) {
                    out += "*** ENVELOPE RECORDS deferred/A/" + argv[i] + " ***\n";
                    if (auto it = logins.find(argv[i]); it != logins.end())
                        out += "named_attribute: sasl_username=" + it->second + "\n";
                }
                return RecordingRunner::ok(out);
            }
            return RecordingRunner::ok("");
        };
        make();
    }
    void make() {
        MitigatorDeps deps;
        deps.runner = &runner;
        deps.store = &store;
        deps.queue_source = &queue;
        deps.blocks = &blocks;
        deps.clock = [this] { return now; };
        auto m = Mitigator::create(settings, deps);
        REQUIRE(m.ok());
        mitigator = std::move(*m);
    }

    ActionOutcome run(ActionKind kind, std::string user, std::vector<std::string> ips = {},
                      bool dry = false) {
        ActionRequest r;
        r.kind = kind;
        r.username = std::move(user);
        r.ips = std::move(ips);
        r.actor = "test";
        r.reason = "unit test";
        r.dry_run = dry;
        return mitigator->execute(r);
    }
    std::string map_text(const std::string& path) {
        auto t = files::read_all(path);
        return t ? *t : std::string();
    }
};

const std::vector<std::string> kHostileNames = {
    "a\nREJECT",
    "a\rREJECT",
    "-rf",
    "--help",
    "$(id)",
    "`id`",
    "a b",
    "a\tb",
    ";",
    "a;b",
    "'a'",
    "\"a\"",
    "a\\b",
    "",
    std::string(300, 'a'),
    "j\xc3\xbcrgen",
    std::string("a\0b", 3),
    "a@b@c",
    "..a",
    ".a",
    "a..b@x.com",
    "a@-x.com",
    "a|b",
    "a>b",
    "#comment",
    "a,b",
};

}  // namespace

TEST_CASE("a rendered map has one sorted key-value line per entry under a header") {
    auto text = render_map(
        {{"zed@example.com", "REJECT blocked"}, {"alice@example.com", "REJECT blocked"}});
    REQUIRE(text.ok());
    CHECK(text->find("# Written by saslguard") == 0);
    CHECK(text->find("alice@example.com REJECT blocked\nzed@example.com REJECT blocked\n") !=
          std::string::npos);
    auto back = parse_map(*text, "m");
    REQUIRE(back.ok());
    CHECK(back->size() == 2);
    CHECK(back->at("zed@example.com") == "REJECT blocked");
}

TEST_CASE("rendering refuses keys and values that could add a line or a field") {
    for (const char* key : {"a\nb", "a b", "#x", "-x", "", "a\tb", "\xc3\xbc"})
        CHECK_FALSE(render_map({{key, "REJECT"}}).ok());
    for (const char* value : {"REJECT\nb OK", "", " REJECT", "REJECT  x", "REJECT\x01"})
        CHECK_FALSE(render_map({{"a", value}}).ok());
}

TEST_CASE("a map line saslguard did not write is an error naming the line") {
    auto r = parse_map("# header\nalice REJECT x\nbob\tOK\n", "/etc/postfix/m");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "/etc/postfix/m:3: line not written by saslguard; fix or remove it by hand");
}

TEST_CASE("postqueue -j lines become queue entries and malformed ones are skipped") {
    auto e = parse_postqueue_json(
        "{\"queue_name\": \"deferred\", \"queue_id\": \"52EA8A722C4\", \"sender\": "
        "\"alice@saslguard.test\"}\n"
        "not json\n"
        "{\"queue_name\": \"deferred\", \"queue_id\": \"ALL\", \"sender\": \"x@y.z\"}\n"
        "{\"queue_name\": \"bogus\", \"queue_id\": \"52EA8A722C5\", \"sender\": \"x@y.z\"}\n"
        "{\"queue_name\": \"hold\", \"queue_id\": \"6262FA722CA\", \"sender\": \"\"}\n");
    REQUIRE(e.size() == 2);
    CHECK(e[0].queue_id == "52EA8A722C4");
    CHECK(e[0].sender == "alice@saslguard.test");
    CHECK(e[1].queue_name == "hold");
}

TEST_CASE("postcat envelope records give each queue file's SASL login") {
    auto m = parse_postcat_sasl_logins(
        "*** ENVELOPE RECORDS deferred/5/52EA8A722C4 ***\n"
        "named_attribute: sasl_method=PLAIN\n"
        "named_attribute: sasl_username=alice@saslguard.test\n"
        "sender: other@example.org\n"
        "*** MESSAGE CONTENTS deferred/5/52EA8A722C4 ***\n"
        "named_attribute: sasl_username=ignored-in-body\n"
        "*** ENVELOPE RECORDS active/6262FA722CA ***\n"
        "sender: bob@saslguard.test\n");
    REQUIRE(m.size() == 1);
    CHECK(m["52EA8A722C4"] == "alice@saslguard.test");
}

TEST_CASE("db_dump output splits into user, realm and property") {
    auto r = parse_db_dump(
        "VERSION=3\nformat=bytevalue\ntype=hash\ndb_pagesize=4096\nHEADER=END\n"
        " 616c69636500746573742e7265616c6d007573657250617373776f7264\n 707731\nDATA=END\n");
    REQUIRE(r.size() == 1);
    CHECK(r[0].user == "alice");
    CHECK(r[0].realm == "test.realm");
    CHECK(r[0].property == "userPassword");
    CHECK(r[0].value_hex == "707731");
}

TEST_CASE("a command template substitutes {user} only as a whole argument") {
    auto a = expand_user_template({"/bin/lock", "--user", "{user}"}, "alice@example.com");
    REQUIRE(a.ok());
    CHECK(*a == std::vector<std::string>{"/bin/lock", "--user", "alice@example.com"});
    CHECK_FALSE(expand_user_template({"/bin/lock", "uid={user},ou=people"}, "alice").ok());
    CHECK_FALSE(expand_user_template({"/bin/lock"}, "alice").ok());
    CHECK_FALSE(expand_user_template({"{user}"}, "alice").ok());
    CHECK_FALSE(expand_user_template({"/bin/lock", "{user}"}, "$(id)").ok());
}

TEST_CASE("block_login writes the map, runs postmap once and records the block") {
    Fixture f;
    auto o = f.run(ActionKind::BlockLogin, "alice@example.com");
    REQUIRE(o.ok);
    CHECK(o.summary == "blocked login alice@example.com");
    CHECK(f.map_text(f.settings.sasl_access_map)
              .find("\nalice@example.com REJECT 5.7.1 account blocked by saslguard\n") !=
          std::string::npos);
    REQUIRE(f.runner.calls.size() ==
            3);  // postmap, then the two postconf calls that find the map in use
    CHECK(f.runner.calls[0].argv == std::vector<std::string>{"/usr/sbin/postmap", "-c", f.dir,
                                                             "hash:" + f.settings.sasl_access_map});
    CHECK(base(f.runner.calls[1].argv[0]) == "postconf");
    auto blocks = f.store.blocks();
    REQUIRE(blocks->size() == 1);
    CHECK((*blocks)[0].kind == "login");
    CHECK((*blocks)[0].action_id == o.action_id);

    SECTION("repeating it changes nothing and runs nothing") {
        auto again = f.run(ActionKind::BlockLogin, "alice@example.com");
        CHECK(again.ok);
        CHECK(again.summary == "login alice@example.com was already blocked");
        CHECK(f.runner.calls.size() == 3);  // nothing new: the map's use is remembered
    }
    SECTION("unblocking removes the line, the block, and marks the block reverted") {
        auto u = f.run(ActionKind::UnblockLogin, "alice@example.com");
        CHECK(u.ok);
        CHECK(f.map_text(f.settings.sasl_access_map).find("alice@") == std::string::npos);
        CHECK(f.store.blocks()->empty());
        CHECK((*f.store.action(o.action_id))->state == "reverted");
        CHECK((*f.store.action(u.action_id))->reverts_action_id == o.action_id);
    }
}

TEST_CASE("a block in a map that Postfix does not use comes with a warning") {
    Fixture f;
    f.settings.sasl_access_map = f.dir + "/unused_map";
    f.make();
    f.runner.answer = [](const std::vector<std::string>& argv) {
        // main.cf uses some other table only.
        return RecordingRunner::ok(
            base(argv[0]) == "postconf" ? "check_sasl_access hash:/etc/postfix/other\n" : "");
    };
    auto o = f.run(ActionKind::BlockLogin, "alice@example.com");
    CHECK(o.ok);
    CHECK(o.summary ==
          "blocked login alice@example.com (WARNING: hash:" + f.dir +
              "/unused_map is not used in main.cf or master.cf: this has no effect until it is, "
              "see docs/mitigation.md)");
}

TEST_CASE("a dry run changes no file, runs no command and records no block") {
    Fixture f;
    auto o = f.run(ActionKind::BlockLogin, "alice@example.com", {}, /*dry=*/true);
    CHECK(o.ok);
    CHECK(o.summary == "would block login alice@example.com (dry run)");
    CHECK(f.runner.calls.empty());
    CHECK(f.map_text(f.settings.sasl_access_map).empty());
    CHECK(f.store.blocks()->empty());
    auto held = f.run(ActionKind::HoldMail, "alice@example.com", {}, true);
    CHECK(held.summary == "would hold 2 queued messages of alice@example.com (dry run)");
    for (const auto& c : f.runner.calls) CHECK(base(c.argv[0]) == "postcat");  // reading only
    CHECK((*f.store.action(o.action_id))->dry_run);
}

TEST_CASE("when postmap fails the map file is rolled back and no block is recorded") {
    Fixture f;
    REQUIRE(f.run(ActionKind::BlockLogin, "bob@example.com").ok);
    std::string before = f.map_text(f.settings.sasl_access_map);
    f.runner.answer = [](const std::vector<std::string>&) {
        return RecordingRunner::failed(1, "postmap: fatal: disk full");
    };
    auto o = f.run(ActionKind::BlockLogin, "alice@example.com");
    CHECK_FALSE(o.ok);
    CHECK(o.error.find("exit 1: postmap: fatal: disk full") != std::string::npos);
    CHECK(f.map_text(f.settings.sasl_access_map) == before);
    CHECK(f.store.blocks()->size() == 1);  // bob's only
    CHECK((*f.store.action(o.action_id))->state == "failed");
}

TEST_CASE("hold_mail holds exactly the user's messages, found by sender and by SASL login") {
    Fixture f;
    auto o = f.run(ActionKind::HoldMail, "alice@example.com");
    REQUIRE(o.ok);
    CHECK(o.affected == std::vector<std::string>{"A1B2C3D4E5", "C1B2C3D4E5"});
    const auto& last = f.runner.calls.back();
    CHECK(last.argv == std::vector<std::string>{"/usr/sbin/postsuper", "-c", f.dir, "-h", "-"});
    CHECK(last.stdin_data == "A1B2C3D4E5\nC1B2C3D4E5\n");

    auto r = f.run(ActionKind::ReleaseMail, "alice@example.com");
    REQUIRE(r.ok);
    // postsuper -H, then the released message is delivered now, not at the next queue run.
    REQUIRE(f.runner.calls.size() >= 2);
    const auto& release = f.runner.calls[f.runner.calls.size() - 2];
    CHECK(release.argv[3] == "-H");
    CHECK(release.stdin_data == "D1B2C3D4E5\n");  // only what is in the hold queue
    CHECK(f.runner.calls.back().argv ==
          std::vector<std::string>{"/usr/sbin/postqueue", "-c", f.dir, "-i", "D1B2C3D4E5"});
}

TEST_CASE("delete_mail by the automatic policy is refused unless configured") {
    Fixture f;
    ActionRequest r;
    r.kind = ActionKind::DeleteMail;
    r.username = "alice@example.com";
    r.actor = "auto";
    auto o = f.mitigator->execute(r);
    CHECK_FALSE(o.ok);
    CHECK(o.error == "delete_mail is never automatic unless policy.allow_auto_delete is true");
    CHECK(f.runner.calls.empty());
    r.actor = "telegram:42";
    CHECK(f.mitigator->execute(r).ok);
    CHECK(f.runner.calls.back().argv[3] == "-d");
}

TEST_CASE("block_ips is bounded and stores canonical addresses") {
    Fixture f;
    auto o =
        f.run(ActionKind::BlockIps, "alice@example.com", {"192.0.2.1", "2001:DB8::1", "192.0.2.1"});
    REQUIRE(o.ok);
    CHECK(o.affected == std::vector<std::string>{"192.0.2.1", "2001:db8::1"});
    CHECK(f.store.blocks()->size() == 2);
    auto many = f.run(ActionKind::BlockIps, "alice@example.com",
                      {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"});
    CHECK_FALSE(many.ok);
    CHECK(many.error == "too many IP addresses: 5 > max_block_ips 4");
}

TEST_CASE("expired blocks are reverted by run_expiries and nothing else is") {
    Fixture f;
    ActionRequest r;
    r.kind = ActionKind::BlockLogin;
    r.username = "alice@example.com";
    r.actor = "auto";
    r.expires_after = std::chrono::seconds(3600);
    REQUIRE(f.mitigator->execute(r).ok);
    REQUIRE(f.run(ActionKind::BlockLogin, "bob@example.com").ok);  // permanent
    r.kind = ActionKind::BlockIps;
    r.ips = {"192.0.2.7"};
    REQUIRE(f.mitigator->execute(r).ok);

    CHECK(f.mitigator->run_expiries().empty());
    f.now += 3'600'000;
    auto outcomes = f.mitigator->run_expiries();
    REQUIRE(outcomes.size() == 2);
    for (const auto& o : outcomes) CHECK(o.ok);
    auto blocks = f.store.blocks();
    REQUIRE(blocks->size() == 1);
    CHECK((*blocks)[0].target == "bob@example.com");
    CHECK(f.map_text(f.settings.client_access_map).find("192.0.2.7") == std::string::npos);
    CHECK((*f.store.actions(1))[0].actor == "expiry");
}

TEST_CASE("the command backend runs the configured argv with the user as one argument") {
    Fixture f(SaslBackendKind::Command);
    auto o = f.run(ActionKind::LockAccount, "alice@example.com");
    REQUIRE(o.ok);
    CHECK(f.runner.calls.back().argv ==
          std::vector<std::string>{"/usr/local/sbin/lock", "--user", "alice@example.com"});
    REQUIRE(f.run(ActionKind::UnlockAccount, "alice@example.com").ok);
    CHECK(f.runner.calls.back().argv ==
          std::vector<std::string>{"/usr/local/sbin/unlock", "alice@example.com"});
    f.runner.answer = [](const std::vector<std::string>&) {
        return RecordingRunner::failed(3, "ldap: no such entry");
    };
    auto bad = f.run(ActionKind::LockAccount, "bob@example.com");
    CHECK_FALSE(bad.ok);
    CHECK(bad.error == "/usr/local/sbin/lock --user bob@example.com: exit 3: ldap: no such entry");
    CHECK(f.store.find_block("account", "bob@example.com")->has_value() == false);
}

TEST_CASE("hostile usernames and IPs reach no map file and no command, and are audited") {
    for (auto backend :
         {SaslBackendKind::Sasldb, SaslBackendKind::SaslauthdShadow, SaslBackendKind::Command}) {
        Fixture f(backend);
        std::size_t audited = 0;
        for (const auto& name : kHostileNames) {
            for (auto kind : {ActionKind::BlockLogin, ActionKind::UnblockLogin,
                              ActionKind::HoldMail, ActionKind::ReleaseMail, ActionKind::DeleteMail,
                              ActionKind::LockAccount, ActionKind::UnlockAccount}) {
                auto o = f.run(kind, name);
                INFO(to_string(kind) << " " << name);
                CHECK_FALSE(o.ok);
                CHECK(o.error == "invalid SASL username");
                ++audited;
            }
            // As an IP, as a sender, and as the owner of valid IPs.
            CHECK_FALSE(f.run(ActionKind::BlockIps, "", {name}).ok);
            CHECK_FALSE(f.run(ActionKind::UnblockIps, "", {"192.0.2.1", name}).ok);
            CHECK_FALSE(f.run(ActionKind::BlockIps, name.empty() ? "x y" : name, {"192.0.2.1"}).ok);
            ActionRequest s;
            s.kind = ActionKind::HoldMail;
            s.username = "alice@example.com";
            s.senders = {name};
            s.actor = "test";
            CHECK_FALSE(f.mitigator->execute(s).ok);
            audited += 4;
        }
        for (const char* ip : {"1.2.3.4 OK", "1.2.3.4\nREJECT", "1.2.3", "999.1.1.1", "::g",
                               "-1.2.3.4", "127.0.0.1/8"})
            CHECK_FALSE(f.run(ActionKind::BlockIps, "alice@example.com", {ip}).ok);
        CHECK(f.runner.calls.empty());
        CHECK(f.map_text(f.settings.sasl_access_map).empty());
        CHECK(f.map_text(f.settings.client_access_map).empty());
        CHECK(f.store.blocks()->empty());
        auto rows = f.store.actions(100000);
        CHECK(rows->size() == audited + 7);
        for (const auto& a : *rows) {
            CHECK(a.state == "failed");
            // A refused name is kept log-quoted: one line, printable.
            for (unsigned char c : a.target) CHECK((c >= 0x20 && c < 0x7f));
            CHECK(a.target.size() <= 300);
        }
    }
}

TEST_CASE("a queue id that is not well formed never reaches postsuper") {
    RecordingRunner runner;
    FakeQueue q;
    PostfixQueue pq(runner, q, "postsuper", "postcat", "/etc/postfix", std::chrono::seconds(5));
    for (const char* id : {"ALL", "-", "A1B2C3D4E5\nALL", "A1B2 C3D4", "../../x", "-d"})
        CHECK_FALSE(pq.apply(PostfixQueue::Op::Delete, {"A1B2C3D4E5", id}).ok());
    CHECK(runner.calls.empty());
}

TEST_CASE("every kind of the catalog has its mechanism, and every undo belongs to its kind") {
    const Catalog& c = catalog();
    for (const auto* a : c.actions()) {
        INFO(to_string(a->kind));
        CHECK(c.find(a->kind) == a);
        CHECK(std::count_if(c.mechanisms().begin(), c.mechanisms().end(),
                            [&](const auto& m) { return m.name == a->mechanism; }) == 1);
        CHECK_FALSE(a->label.empty());
        CHECK(c.find_verb(a->cli_verb) == a);
        if (!a->bot_command.empty()) CHECK(c.find_bot_command(a->bot_command) == a);
        if (a->undo) {
            const auto* u = c.find(*a->undo);
            REQUIRE(u);
            CHECK_FALSE(u->forward);
            CHECK(u->mechanism == a->mechanism);
            CHECK(u->automatic == Automatic::Never);
            CHECK(c.undone_by(u->kind) == a);
        }
        if (!a->forward) CHECK(c.undone_by(a->kind) != nullptr);
    }
    CHECK(c.forward_kinds() == std::vector<ActionKind>{ActionKind::BlockLogin, ActionKind::HoldMail,
                                                       ActionKind::DeleteMail,
                                                       ActionKind::LockAccount,
                                                       ActionKind::BlockIps});
    CHECK(c.block_kinds() == std::vector<std::string_view>{"login", "hold", "account", "ip"});
    CHECK(c.applier_of_block("ip")->kind == ActionKind::BlockIps);
    CHECK(c.find(ActionKind::DeleteMail)->destructive());
    CHECK_FALSE(c.find(*action_kind_from_string("reboot_server")));
}

TEST_CASE(
    "what the Mitigator puts in force is in ActiveBlocks at once, and its listeners hear it") {
    Fixture f;
    std::vector<BlockChange> heard;
    f.blocks.subscribe([&](const BlockChange& c) { heard.push_back(c); });
    const auto before = f.blocks.generation();
    auto o = f.run(ActionKind::BlockLogin, "alice@example.com");
    REQUIRE(o.ok);
    CHECK(f.blocks.login_blocked("alice@example.com"));
    CHECK_FALSE(f.blocks.login_blocked("bob@example.com"));
    CHECK(f.blocks.generation() > before);
    REQUIRE(heard.size() == 1);
    CHECK(heard[0].actor == "test");
    CHECK(heard[0].action_id == o.action_id);
    REQUIRE(heard[0].added.size() == 1);
    CHECK(heard[0].added[0].kind == "login");

    REQUIRE(f.run(ActionKind::BlockIps, "", {"192.0.2.9"}).ok);
    CHECK(f.blocks.ip_blocked("192.0.2.9"));
    REQUIRE(f.run(ActionKind::UnblockLogin, "alice@example.com").ok);
    CHECK_FALSE(f.blocks.login_blocked("alice@example.com"));
    REQUIRE(heard.size() == 3);
    REQUIRE(heard[2].removed.size() == 1);
    CHECK(heard[2].removed[0].action_id == o.action_id);  // the block as it was put in force
    // A dry run and a failure change nothing.
    REQUIRE(f.run(ActionKind::BlockLogin, "carol@example.com", {}, true).ok);
    CHECK_FALSE(f.blocks.login_blocked("carol@example.com"));
    CHECK(heard.size() == 3);
    CHECK(f.blocks.snapshot().size() == 1);
}

TEST_CASE(
    "an unknown kind is refused and recorded, and an expiry needs a kind that can be undone") {
    Fixture f;
    ActionRequest r;
    r.kind = *action_kind_from_string("reboot_server");
    r.username = "alice@example.com";
    r.actor = "test";
    auto o = f.mitigator->execute(r);
    CHECK_FALSE(o.ok);
    CHECK(o.error == "unknown action kind");
    CHECK((*f.store.action(o.action_id))->kind == "reboot_server");
    r.kind = ActionKind::DeleteMail;
    r.expires_after = std::chrono::seconds(60);
    CHECK(f.mitigator->execute(r).error == "an expiry only applies to block/hold/lock actions");
    CHECK(f.runner.calls.empty());
}

// ---- issue #15: identity, addresses that are never blocked, files -------------

TEST_CASE("holding a user's mail never takes another user's message with the same sender") {
    Fixture f;
    // E1 carries alice's address as envelope sender, but bob authenticated for it.
    auto o = f.run(ActionKind::HoldMail, "alice@example.com");
    REQUIRE(o.ok);
    CHECK(o.affected == std::vector<std::string>{"A1B2C3D4E5", "C1B2C3D4E5"});
    auto d = f.run(ActionKind::DeleteMail, "alice@example.com");
    REQUIRE(d.ok);
    CHECK(std::find(d.affected.begin(), d.affected.end(), "E1B2C3D4E5") == d.affected.end());
}

TEST_CASE(
    "a login is one key whatever its case: unblocking bob@example.org lifts Bob@EXAMPLE.org") {
    Fixture f;
    REQUIRE(f.run(ActionKind::BlockLogin, "Bob@EXAMPLE.org").ok);
    CHECK(f.blocks.login_blocked("bob@example.org"));
    CHECK(f.blocks.login_blocked("BOB@Example.Org"));
    auto again = f.run(ActionKind::BlockLogin, "bob@example.org");
    CHECK(again.summary == "login bob@example.org was already blocked");
    auto u = f.run(ActionKind::UnblockLogin, "bob@example.org");
    REQUIRE(u.ok);
    CHECK(u.summary == "unblocked login bob@example.org");
    std::string map = f.map_text(f.settings.sasl_access_map);
    std::transform(map.begin(), map.end(), map.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    CHECK(map.find("bob@example.org") == std::string::npos);
    CHECK(f.store.blocks()->empty());
    CHECK_FALSE(f.blocks.login_blocked("Bob@EXAMPLE.org"));

    SECTION("a map line an older version wrote in another case is lifted too") {
        REQUIRE(files::write_atomic(f.settings.sasl_access_map,
                                    "Carol@Example.ORG REJECT 5.7.1 account blocked by saslguard\n",
                                    0644));
        auto c = f.run(ActionKind::UnblockLogin, "carol@example.org");
        REQUIRE(c.ok);
        CHECK(c.summary == "unblocked login carol@example.org");
        CHECK(f.map_text(f.settings.sasl_access_map).find("Carol") == std::string::npos);
    }
}

TEST_CASE("loopback, unspecified, link-local, own and mynetworks addresses are never blocked") {
    Fixture f;
    f.mynetworks = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128 192.0.2.0/24 [2001:db8:1::]/48";
    for (const char* ip :
         {"127.0.0.1", "127.5.5.5", "::1", "::", "0.0.0.0", "::ffff:127.0.0.1", "169.254.10.1",
          "fe80::1", "192.0.2.55", "2001:db8:1::7", "::ffff:192.0.2.55"}) {
        INFO(ip);
        auto o = f.run(ActionKind::BlockIps, "alice@example.com", {ip});
        CHECK_FALSE(o.ok);
        CHECK(o.error.find("never blocked") != std::string::npos);
        // One protected address refuses the whole request.
        CHECK_FALSE(f.run(ActionKind::BlockIps, "", {"198.51.100.7", ip}).ok);
    }
    CHECK(f.map_text(f.settings.client_access_map).empty());
    CHECK(f.store.blocks()->empty());
    // The host's own addresses.
    ifaddrs* list = nullptr;
    REQUIRE(::getifaddrs(&list) == 0);
    for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr ||
            (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        char text[INET6_ADDRSTRLEN] = {};
        const void* a =
            i->ifa_addr->sa_family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
                : static_cast<const void*>(
                      &reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr);
        ::inet_ntop(i->ifa_addr->sa_family, a, text, sizeof text);
        INFO("own address " << text);
        CHECK_FALSE(f.run(ActionKind::BlockIps, "", {text}).ok);
    }
    ::freeifaddrs(list);
    // Anything else is blocked; and a protected address can always be unblocked.
    CHECK(f.run(ActionKind::BlockIps, "", {"198.51.100.7"}).ok);
    CHECK(f.run(ActionKind::UnblockIps, "", {"127.0.0.1"}).ok);
}

TEST_CASE("every program a mitigation runs is named by an absolute path") {
    Fixture f;
    f.runner.answer = [&f, inner = f.runner.answer](const std::vector<std::string>& argv) {
        if (base(argv[0]) == "db_dump")
            return RecordingRunner::ok(
                "VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n"
                " 616c696365006578616d706c652e636f6d007573657250617373776f7264\n 707731\n"
                "DATA=END\n");
        return inner(argv);
    };
    REQUIRE(f.run(ActionKind::BlockLogin, "alice@example.com").ok);
    REQUIRE(f.run(ActionKind::HoldMail, "alice@example.com").ok);
    REQUIRE(f.run(ActionKind::BlockIps, "", {"198.51.100.7"}).ok);
    REQUIRE(f.run(ActionKind::LockAccount, "alice@example.com").ok);
    REQUIRE_FALSE(f.runner.calls.empty());
    for (const auto& c : f.runner.calls) {
        INFO(c.argv[0]);
        CHECK(c.argv[0].front() == '/');
    }
}

TEST_CASE(
    "a symlinked map or a map directory others may write is refused, and nothing is written") {
    Fixture f;
    namespace fs = std::filesystem;
    SECTION("symlinked map") {
        const std::string victim = f.dir + "/victim";
        REQUIRE(files::write_atomic(victim, "root only\n", 0600));
        fs::create_symlink(victim, f.settings.sasl_access_map);
        auto o = f.run(ActionKind::BlockLogin, "alice@example.com");
        CHECK_FALSE(o.ok);
        CHECK(o.error.find("symbolic link") != std::string::npos);
        CHECK(fs::is_symlink(f.settings.sasl_access_map));
        CHECK(f.map_text(victim) == "root only\n");
    }
    SECTION("group- or other-writable directory") {
        const std::string d = f.dir + "/shared";
        fs::create_directory(d);
        ::chmod(d.c_str(), 0777);
        f.settings.client_access_map = d + "/client_access";
        f.make();
        auto o = f.run(ActionKind::BlockIps, "", {"198.51.100.7"});
        CHECK_FALSE(o.ok);
        CHECK(o.error.find("writable by group or others") != std::string::npos);
        CHECK_FALSE(fs::exists(f.settings.client_access_map));
    }
}

TEST_CASE(
    "configured never_block_ips are refused too, and an unreadable mynetworks blocks nothing") {
    Fixture f;
    f.settings.never_block_ips = {"198.51.100.0/24", "2001:db8:ffff::9"};
    f.make();
    auto o = f.run(ActionKind::BlockIps, "", {"198.51.100.20"});
    CHECK_FALSE(o.ok);
    CHECK(o.error ==
          "refusing to block: 198.51.100.20 is never blocked (in mitigation.never_block_ips "
          "(198.51.100.0/24))");
    CHECK_FALSE(f.run(ActionKind::BlockIps, "", {"2001:DB8:FFFF::9"}).ok);
    f.runner.answer = [](const std::vector<std::string>& argv) {
        return base(argv[0]) == "postconf"
                   ? RecordingRunner::failed(1, "postconf: fatal: no main.cf")
                   : RecordingRunner::ok("");
    };
    auto u = f.run(ActionKind::BlockIps, "", {"203.0.113.9"});
    CHECK_FALSE(u.ok);
    CHECK(u.error.find("not blocking anything: reading Postfix's mynetworks") == 0);
    CHECK(f.map_text(f.settings.client_access_map).empty());
}

TEST_CASE("mynetworks is read as Postfix writes it: networks, bracketed IPv6, files and tables") {
    saslguard::test::TempDir tmp;
    const std::string file = tmp.write("nets", "# trusted\n10.1.0.0/16\n[2001:db8:5::]/48\n");
    auto e =
        parse_mynetworks("127.0.0.0/8 [::ffff:127.0.0.0]/104, [::1]/128 " + file +
                         " cidr:/etc/postfix/more.cidr !192.0.2.0/24 .example.com host.example");
    REQUIRE(e.networks.size() == 3);
    CHECK(e.networks[0].text() == "127.0.0.0/8");
    CHECK(e.networks[1].text() == "127.0.0.0/8");  // the IPv4-mapped form is IPv4
    CHECK(e.networks[2].text() == "::1/128");
    CHECK(e.files == std::vector<std::string>{file});
    CHECK(e.tables == std::vector<std::string>{"cidr:/etc/postfix/more.cidr"});
    CHECK_FALSE(parse_network("10.0.0.0/33"));
    CHECK_FALSE(parse_network("hash:/etc/x"));

    Fixture f;
    f.mynetworks = "127.0.0.0/8 " + file + " cidr:/etc/postfix/more.cidr";
    f.runner.answer = [&f, inner = f.runner.answer](const std::vector<std::string>& argv) {
        if (base(argv[0]) == "postmap" && argv[3] == "-q")  // postmap -c DIR -q IP TABLE
            return argv[4] == "203.0.113.77" ? RecordingRunner::ok("OK\n")
                                             : RecordingRunner::failed(1, "");
        return inner(argv);
    };
    for (const char* ip : {"10.1.200.3", "2001:db8:5::1", "203.0.113.77"}) {
        INFO(ip);
        CHECK(f.run(ActionKind::BlockIps, "", {ip}).error.find("in Postfix's mynetworks") !=
              std::string::npos);
    }
    CHECK(f.run(ActionKind::BlockIps, "", {"203.0.113.78"}).ok);
}

TEST_CASE("the mitigation lock and the sasldb quarantine live in the state directory") {
    Fixture f;
    f.runner.answer = [&f, inner = f.runner.answer](const std::vector<std::string>& argv) {
        if (base(argv[0]) == "db_dump")
            return RecordingRunner::ok(
                "VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n"
                " 416c696365006578616d706c652e636f6d007573657250617373776f7264\n 707731\n"
                "DATA=END\n");  // Alice\0example.com\0userPassword
        return inner(argv);
    };
    // A dry run writes nothing at all where the maps and the sasldb are.
    auto before = std::distance(std::filesystem::directory_iterator(f.dir),
                                std::filesystem::directory_iterator());
    REQUIRE(f.run(ActionKind::BlockLogin, "alice@example.com", {}, true).ok);
    CHECK(std::distance(std::filesystem::directory_iterator(f.dir),
                        std::filesystem::directory_iterator()) == before);
    CHECK(std::filesystem::exists(f.dir + "/state/mitigation.lock"));

    // An older version's quarantine beside the sasldb is folded into the new one.
    REQUIRE(files::write_atomic(f.settings.sasldb_path + ".saslguard-locked",
                                "626f62006578616d706c652e636f6d007573657250617373776f7264 707732\n",
                                0600));
    auto o = f.run(ActionKind::LockAccount, "ALICE@example.com");
    REQUIRE(o.ok);
    // The stored user and realm as the sasldb has them, matched whatever the case.
    CHECK(f.runner.calls.back().argv == std::vector<std::string>{"/usr/sbin/saslpasswd2", "-f",
                                                                 f.settings.sasldb_path, "-d", "-u",
                                                                 "example.com", "Alice"});
    CHECK_FALSE(std::filesystem::exists(f.settings.sasldb_path + ".saslguard-locked"));
    const std::string q = f.map_text(f.dir + "/state/sasldb-quarantine");
    CHECK(q.find("416c696365") != std::string::npos);  // alice's record
    CHECK(q.find("626f6200") != std::string::npos);    // bob's, from the old file
    struct stat st {};
    REQUIRE(::stat((f.dir + "/state/sasldb-quarantine").c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(f.blocks.is_blocked("account", "alice@example.com"));
}

TEST_CASE(
    "the SASL backend says which account a login names: sasldb adds the realm, shadow drops it") {
    Fixture f;
    f.runner.answer = [](const std::vector<std::string>& argv) {
        if (base(argv[0]) == "db_dump")
            return RecordingRunner::ok(
                "VERSION=3\nformat=bytevalue\ntype=hash\nHEADER=END\n"
                " 616c696365006578616d706c652e6f7267007573657250617373776f7264\n 707731\n"
                "DATA=END\n");  // alice\0example.org\0userPassword
        return RecordingRunner::ok("");
    };
    CHECK(f.mitigator->accounts({"alice", "Alice@Example.org", "bob"}) ==
          std::vector<std::string>{"alice@example.org", "alice@example.org", "bob"});
    Fixture shadow(SaslBackendKind::SaslauthdShadow);
    CHECK(shadow.mitigator->accounts({"alice@example.org", "Alice@other.test"}) ==
          std::vector<std::string>{"alice", "alice"});
    Fixture command(SaslBackendKind::Command);
    CHECK(command.mitigator->accounts({"Bob@X.org"}) == std::vector<std::string>{"bob@x.org"});
}

TEST_CASE("the queue corroborates a login only with messages that record it") {
    Fixture f;
    // A1, C1, D1 record alice (C1 with a forged sender); E1 has her sender but is bob's.
    CHECK(f.mitigator->queued_messages("Alice@Example.com", 10).value() == 3);
    CHECK(f.mitigator->queued_messages("alice@example.com", 2).value() == 2);
    CHECK(f.mitigator->queued_messages("carol@example.com", 10).value() == 0);
    CHECK_FALSE(f.mitigator->queued_messages("a b", 10).ok());
}
