// The owner notice (receiver/src/owner_notice.cpp): addresses, the rendered
// mail, what reaches sendmail's argv, and the configuration's checks. The
// delivery through a real Postfix is tests/receiver/owner_notice_postfix_test.sh.
#include <catch2/catch.hpp>

#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/owner_notice.hpp"
#include "test_support.hpp"

using namespace saslguard;
using namespace saslguard::receiver;

namespace {

OwnerNoticeConfig enabled_config() {
    OwnerNoticeConfig c;
    c.enabled = true;
    c.from = "postmaster@saslguard.test";
    c.contact = "the help desk (+49 30 1234567)";
    c.default_domain = "saslguard.test";
    return c;
}

struct Recorder {
    std::vector<std::vector<std::string>> argvs;
    std::vector<std::string> inputs;
    SendmailRunner runner() {
        return [this](const std::vector<std::string>& argv, const ProcessOptions& opt) {
            argvs.push_back(argv);
            inputs.push_back(opt.stdin_data);
            ProcessResult r;
            r.started = true;
            r.exit_code = 0;
            return r;
        };
    }
};

ActionRequest block(const std::string& user, std::int64_t incident = 7) {
    ActionRequest r;
    r.kind = ActionKind::BlockLogin;
    r.username = user;
    r.incident_id = incident;
    return r;
}

ActionOutcome ok() {
    ActionOutcome o;
    o.ok = true;
    o.summary = "blocked login";
    return o;
}

}  // namespace

TEST_CASE("the owner is the login when it is an address, else login@default_domain") {
    auto c = enabled_config();
    CHECK(*owner_address(c, "Alice@SASLGuard.test") == "alice@saslguard.test");
    CHECK(*owner_address(c, "bob") == "bob@saslguard.test");
    c.default_domain.clear();
    auto none = owner_address(c, "bob");
    REQUIRE_FALSE(none);
    CHECK(none.error().message.find("default_domain") != std::string::npos);
}

TEST_CASE("a login with header-injection characters gets no mail") {
    auto c = enabled_config();
    for (const char* evil :
         {"alice@saslguard.test\r\nBcc: victim@example.org", "alice\nBcc: x@example.org",
          "-oQ/tmp@x.org", "a,b@example.org", "<a@b.org>", ""}) {
        INFO(evil);
        CHECK_FALSE(owner_address(c, evil));
        CHECK_FALSE(render_owner_notice(c, evil, "mail.saslguard.test", ActionKind::BlockLogin));
    }
    Recorder rec;
    OwnerNotifier n(c, "mail.saslguard.test", rec.runner());
    auto r = n.after(block("alice@saslguard.test\r\nBcc: victim@example.org"), ok());
    CHECK_FALSE(r);
    CHECK(rec.argvs.empty());
}

TEST_CASE("the notice says what happened and what to do, from the templates") {
    auto c = enabled_config();
    auto m =
        render_owner_notice(c, "Alice@saslguard.test", "mail.saslguard.test", ActionKind::HoldMail);
    REQUIRE(m);
    CHECK(m->rfind("From: postmaster@saslguard.test\nTo: alice@saslguard.test\n"
                   "Subject: Your mail account alice@saslguard.test on mail.saslguard.test: held "
                   "the mail it was sending\n",
                   0) == 0);
    CHECK(m->find("Auto-Submitted: auto-generated\n") != std::string::npos);
    CHECK(m->find("Content-Type: text/plain; charset=UTF-8\n") != std::string::npos);
    CHECK(m->find("\n\nHello,\n") != std::string::npos);
    CHECK(m->find("Please change your password") != std::string::npos);
    CHECK(m->find("contact the help desk (+49 30 1234567)") != std::string::npos);
    CHECK(m->find('{') == std::string::npos);

    c.subject = "Konto {user} gesperrt — {action}";
    auto encoded = render_owner_notice(c, "bob", "mail.saslguard.test", ActionKind::BlockLogin);
    REQUIRE(encoded);
    CHECK(encoded->find("\nSubject: =?UTF-8?B?") != std::string::npos);
    CHECK(encoded->find("To: bob@saslguard.test\n") != std::string::npos);
}

TEST_CASE("sendmail gets the owner after --, never from the headers, and no shell") {
    Recorder rec;
    auto c = enabled_config();
    c.postfix_config_dir = "/tmp/pf/etc";
    OwnerNotifier n(c, "mail.saslguard.test", rec.runner());
    auto r = n.after(block("alice@saslguard.test"), ok());
    REQUIRE(r);
    CHECK(*r);
    REQUIRE(rec.argvs.size() == 1);
    CHECK(rec.argvs[0] == std::vector<std::string>{"/usr/sbin/sendmail", "-C", "/tmp/pf/etc", "-i",
                                                   "-f", "postmaster@saslguard.test", "--",
                                                   "alice@saslguard.test"});
    CHECK(rec.inputs[0].find("To: alice@saslguard.test\n") != std::string::npos);
    // The same incident and owner once; another incident, or no incident, again.
    CHECK_FALSE(*n.after(block("alice@saslguard.test"), ok()));
    CHECK(*n.after(block("alice@saslguard.test", 8), ok()));
    CHECK(*n.after(block("alice@saslguard.test", 0), ok()));
    CHECK(*n.after(block("alice@saslguard.test", 0), ok()));
    CHECK(rec.argvs.size() == 4);
}

TEST_CASE("no notice when disabled, failed, dry run, not listed, or nothing was held") {
    Recorder rec;
    auto c = enabled_config();
    {
        auto off = c;
        off.enabled = false;
        OwnerNotifier n(off, "h", rec.runner());
        CHECK_FALSE(*n.after(block("alice@saslguard.test"), ok()));
    }
    OwnerNotifier n(c, "h", rec.runner());
    ActionOutcome failed;
    CHECK_FALSE(*n.after(block("alice@saslguard.test", 1), failed));
    auto dry = block("alice@saslguard.test", 2);
    dry.dry_run = true;
    CHECK_FALSE(*n.after(dry, ok()));
    auto ips = block("alice@saslguard.test", 3);
    ips.kind = ActionKind::BlockIps;
    CHECK_FALSE(*n.after(ips, ok()));
    auto hold = block("alice@saslguard.test", 4);
    hold.kind = ActionKind::HoldMail;
    CHECK_FALSE(*n.after(hold, ok()));  // nothing affected
    CHECK(rec.argvs.empty());
}

TEST_CASE("a failing sendmail is an error, not a changed outcome") {
    auto c = enabled_config();
    OwnerNotifier n(c, "h", [](const std::vector<std::string>&, const ProcessOptions&) {
        ProcessResult r;
        r.started = true;
        r.exit_code = 75;
        r.err = "sendmail: fatal: no queue";
        return r;
    });
    auto r = n.after(block("alice@saslguard.test"), ok());
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("sendmail") == 0);
}

TEST_CASE("owner_notice is off by default and checked at start-up") {
    saslguard::test::TempDir dir;
    dir.write_secret("token", "tok-123-0123456789abcdef\n");
    const std::string base = "webhook:\n  bearer_token_file: " + dir.path("token") + "\n";
    auto err = [&](const std::string& section) {
        auto c = parse_config(base + section, "r.yml");
        return c ? std::string() : c.error().message;
    };
    auto defaults = parse_config(base, "r.yml");
    REQUIRE(defaults);
    CHECK_FALSE(defaults->owner_notice.enabled);
    CHECK(err("owner_notice:\n  enabled: true\n  from: postmaster@saslguard.test\n").empty());
    CHECK(OwnerNoticeConfig{}.enabled == false);
    CHECK(err("owner_notice:\n  enabled: true\n")
              .find("owner_notice.from: required when owner_notice is enabled") !=
          std::string::npos);
    CHECK(err("owner_notice:\n  from: \"x\\r\\nBcc: y@z.org\"\n").find("owner_notice.from") !=
          std::string::npos);
    CHECK(err("owner_notice:\n  subject: \"hi {name}\"\n")
              .find("owner_notice.subject: unknown placeholder {name}") != std::string::npos);
    CHECK(err("owner_notice:\n  body: \"{user\"\n").find("owner_notice.body") != std::string::npos);
    CHECK(err("owner_notice:\n  actions: [unblock_login]\n").find("owner_notice.actions") !=
          std::string::npos);
    CHECK(err("owner_notice:\n  default_domain: \"bad domain\"\n")
              .find("owner_notice.default_domain") != std::string::npos);
    CHECK(err("owner_notice:\n  sendmail: sendmail\n").find("owner_notice.sendmail") !=
          std::string::npos);
    CHECK(err("owner_notice:\n  colour: blue\n").find("unknown key owner_notice.colour") !=
          std::string::npos);
}
