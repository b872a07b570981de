#include <catch2/catch.hpp>

#include "saslguard/receiver/policy.hpp"

using namespace saslguard::receiver;

namespace {
Alert alert(const std::string& name, const std::string& mitigation = "") {
    Alert a;
    a.labels["alertname"] = name;
    if (!mitigation.empty()) a.labels["mitigation"] = mitigation;
    return a;
}
Evidence named(const std::string& user, std::optional<double> messages = 500) {
    Evidence e;
    e.source = "prometheus";
    e.conclusive = true;
    e.culprit = user;
    UserEvidence u;
    u.username = user;
    u.messages = messages;
    e.top_users.push_back(u);
    e.queued = 5;  // corroborated: policy.min_queued_messages of its messages are queued
    return e;
}
}  // namespace

TEST_CASE("the alert's mitigation label sets the mode unless the config names the alert") {
    PolicyConfig p;
    auto d = decide(p, alert("SaslUserSendingSurge", "auto"), named("alice@example.com"), 0);
    CHECK(d.configured_mode == Mode::Auto);
    CHECK(d.act);
    CHECK(d.actions == std::vector<ActionKind>{ActionKind::BlockLogin, ActionKind::HoldMail});
    CHECK(d.reason ==
          "auto (from the alert's mitigation label): block_login, hold_mail for alice@example.com "
          "(evidence: prometheus, 5+ queued)");

    p.modes["SaslUserSendingSurge"] = Mode::Confirm;
    d = decide(p, alert("SaslUserSendingSurge", "auto"), named("alice@example.com"), 0);
    CHECK(d.mode == Mode::Confirm);
    CHECK_FALSE(d.act);
    CHECK(d.actions.size() == 2);
    CHECK(d.reason ==
          "confirm (from policy.modes.SaslUserSendingSurge): suggest block_login, hold_mail for "
          "alice@example.com");
}

TEST_CASE("without label or config the mode is notify and nothing is suggested") {
    auto d = decide(PolicyConfig{}, alert("SaslUserManyClientIPs"), named("alice@example.com"), 0);
    CHECK(d.mode == Mode::Notify);
    CHECK_FALSE(d.act);
    CHECK(d.actions.empty());
    CHECK(d.reason == "notify (from the default): tell only");
}

TEST_CASE("inconclusive evidence turns auto into notify") {
    Evidence e;
    auto d = decide(PolicyConfig{}, alert("SaslUserSendingSurge", "auto"), e, 0);
    CHECK(d.mode == Mode::Notify);
    CHECK_FALSE(d.act);
    CHECK(d.reason ==
          "auto (from the alert's mitigation label); no culprit named, so nothing to act on");
}

TEST_CASE("allowlisted users and domains, including subdomains, are never acted on automatically") {
    PolicyConfig p;
    p.allowlist_users = {"Postmaster@Example.com"};
    p.allowlist_domains = {"partner.org"};
    for (const char* user : {"postmaster@example.com", "x@partner.org", "x@mail.partner.org"}) {
        auto d = decide(p, alert("SaslUserSendingSurge", "auto"), named(user), 0);
        INFO(user);
        CHECK(d.mode == Mode::Confirm);
        CHECK_FALSE(d.act);
        CHECK(d.reason ==
              std::string("auto (from the alert's mitigation label); not acting automatically: ") +
                  user + " is allowlisted");
    }
    CHECK_FALSE(is_allowlisted(p, "x@notpartner.org"));
    CHECK_FALSE(is_allowlisted(p, "partner.org"));
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), named("x@notpartner.org"), 0).act);
}

TEST_CASE("the hourly budget of automatic actions is never exceeded") {
    PolicyConfig p;
    p.max_auto_actions_per_hour = 10;
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), named("a@example.com"), 8)
              .act);  // 8 + 2 = 10
    auto d =
        decide(p, alert("SaslUserSendingSurge", "auto"), named("a@example.com"), 9);  // 9 + 2 > 10
    CHECK_FALSE(d.act);
    CHECK(d.mode == Mode::Confirm);
    CHECK(d.reason ==
          "auto (from the alert's mitigation label); not acting automatically: 9 automatic actions "
          "in "
          "the last hour; 2 more would exceed policy.max_auto_actions_per_hour 10");
}

TEST_CASE("a labelled culprit with fewer messages than min_messages is asked about, not acted on") {
    PolicyConfig p;
    p.min_messages = 20;
    auto d = decide(p, alert("SaslUserSendingSurge", "auto"), named("a@example.com", 5), 0);
    CHECK_FALSE(d.act);
    CHECK(d.reason.find("sent 5 messages, below policy.min_messages 20") != std::string::npos);
    // An unknown count is not evidence (issue #15): asked about, not acted on.
    CHECK_FALSE(
        decide(p, alert("SaslUserSendingSurge", "auto"), named("a@example.com", std::nullopt), 0)
            .act);
}

TEST_CASE("a culprit name that could not safely reach a map or a command is never offered") {
    auto d = decide(PolicyConfig{}, alert("SaslUserSendingSurge", "auto"), named("bob\nREJECT"), 0);
    CHECK(d.mode == Mode::Notify);
    CHECK(d.actions.empty());
}

TEST_CASE("planned requests carry the user, expiry and dry-run, and no envelope sender") {
    Config c;
    c.mitigation.dry_run = true;
    Decision d =
        decide(c.policy, alert("SaslUserSendingSurge", "auto"), named("alice@example.com"), 0);
    auto reqs = plan_actions(d, named("alice@example.com"), c, 42);
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].kind == ActionKind::BlockLogin);
    CHECK(reqs[0].username == "alice@example.com");
    CHECK(reqs[0].actor == "auto");
    CHECK(reqs[0].incident_id == 42);
    CHECK(reqs[0].dry_run);
    CHECK(reqs[0].expires_after == std::chrono::hours(24));
    CHECK(reqs[1].kind == ActionKind::HoldMail);
    // The user's mail is found by its recorded SASL login, never by a sender another may use.
    CHECK(reqs[1].senders.empty());
}

// ---- issue #15: policy and identity ------------------------------------------

TEST_CASE("an unknown message count never acts automatically") {
    // Prometheus and the exporter both down: the label names a user, nobody counted.
    auto d = decide(PolicyConfig{}, alert("SaslUserSendingSurge", "auto"),
                    named("root", std::nullopt), 0);
    CHECK_FALSE(d.act);
    CHECK(d.mode == Mode::Confirm);
    CHECK(d.reason.find("root's message count is unknown") != std::string::npos);
}

TEST_CASE("the mitigation label chooses auto only for alert names the configuration allows") {
    PolicyConfig p;
    auto d = decide(p, alert("SomethingElse", "auto"), named("alice@example.com"), 0);
    CHECK_FALSE(d.act);
    CHECK(d.mode == Mode::Confirm);
    CHECK(d.configured_mode == Mode::Confirm);
    CHECK(d.reason.find("policy.auto_from_label") != std::string::npos);
    // notify and confirm from the label are taken from any alert.
    CHECK(decide(p, alert("SomethingElse", "confirm"), named("alice@example.com"), 0).mode ==
          Mode::Confirm);
    CHECK(decide(p, alert("SomethingElse", "notify"), named("alice@example.com"), 0).mode ==
          Mode::Notify);
}

TEST_CASE("suggested_actions are what confirm offers first, validated against the catalog") {
    auto a = alert("SaslUserSendingSurge", "confirm");
    a.labels["suggested_actions"] = "hold_mail";
    auto d = decide(PolicyConfig{}, a, named("alice@example.com"), 0);
    CHECK(d.mode == Mode::Confirm);
    CHECK(d.actions == std::vector<ActionKind>{ActionKind::HoldMail});

    a.labels["suggested_actions"] = "block_ips, reboot_server,hold_mail,unblock_login,hold_mail";
    d = decide(PolicyConfig{}, a, named("alice@example.com"), 0);
    CHECK(d.actions == std::vector<ActionKind>{ActionKind::BlockIps, ActionKind::HoldMail});
    CHECK(d.reason.find("ignored suggested_actions: reboot_server, unblock_login") !=
          std::string::npos);
}

TEST_CASE("automatic action needs the queue to corroborate the log") {
    PolicyConfig p;
    p.min_queued_messages = 5;
    auto e = named("alice@example.com");
    e.queued = 0;  // 30 log lines, nothing of hers in the queue: forged
    auto d = decide(p, alert("SaslUserSendingSurge", "auto"), e, 0);
    CHECK_FALSE(d.act);
    CHECK(d.mode == Mode::Confirm);
    CHECK(d.reason ==
          "auto (from the alert's mitigation label); not acting automatically: the queue does not "
          "corroborate the log: 0 of alice@example.com's messages are queued (by the SASL login "
          "Postfix recorded), below policy.min_queued_messages 5");
    e.queued.reset();
    e.queue_note = "showq /x: connect: No such file or directory";
    d = decide(p, alert("SaslUserSendingSurge", "auto"), e, 0);
    CHECK_FALSE(d.act);
    CHECK(d.reason.find("the queue could not be read to corroborate the log (showq /x") !=
          std::string::npos);
    e.queued = 5;
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), e, 0).act);
    p.min_queued_messages = 0;  // trust the log alone
    e.queued.reset();
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), e, 0).act);
}

TEST_CASE("the allowlist protects the account the backend acts on, in any form an alert names") {
    PolicyConfig p;
    p.allowlist_users = {"alice@example.org"};
    // sasldb: the realm-less login alice resolves to alice@example.org.
    AccountOf sasldb = [](const std::string& login) {
        return login == "alice" ? std::string("alice@example.org") : login;
    };
    auto d = decide(p, alert("SaslUserSendingSurge", "auto"), named("alice"), 0, sasldb);
    CHECK_FALSE(d.act);
    CHECK(
        d.reason.find("alice (the account alice@example.org in the SASL backend) is allowlisted") !=
        std::string::npos);
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), named("alice"), 0).act);  // no backend
    // saslauthd/shadow: every realm of alice is the Unix user alice.
    AccountOf shadow = [](const std::string& login) { return login.substr(0, login.find('@')); };
    CHECK_FALSE(
        decide(p, alert("SaslUserSendingSurge", "auto"), named("alice@evil.test"), 0, shadow).act);
    CHECK(decide(p, alert("SaslUserSendingSurge", "auto"), named("bob@evil.test"), 0, shadow).act);
    // A domain allowlist covers the realm the backend found.
    PolicyConfig dom;
    dom.allowlist_domains = {"example.org"};
    CHECK_FALSE(decide(dom, alert("SaslUserSendingSurge", "auto"), named("alice"), 0, sasldb).act);
    // Case never matters: logins are one key whatever their case.
    CHECK(is_allowlisted(p, "ALICE@Example.ORG"));
}

TEST_CASE(
    "auto runs the suggested actions the configuration allows, and asks when it allows none") {
    PolicyConfig p;  // auto_actions: block_login, hold_mail
    auto a = alert("SaslUserSendingSurge", "auto");
    a.labels["suggested_actions"] = "hold_mail,lock_account";
    auto d = decide(p, a, named("alice@example.com"), 0);
    CHECK(d.act);
    CHECK(d.actions == std::vector<ActionKind>{ActionKind::HoldMail});
    a.labels["suggested_actions"] = "lock_account";
    d = decide(p, a, named("alice@example.com"), 0);
    CHECK_FALSE(d.act);
    CHECK(d.actions == std::vector<ActionKind>{ActionKind::LockAccount});  // offered instead
    CHECK(d.reason.find("none of lock_account is in policy.auto_actions") != std::string::npos);
}

TEST_CASE("block_ips acts only on the alert's addresses the never-block set leaves") {
    PolicyConfig p;
    p.auto_actions = {ActionKind::BlockIps};
    auto a = alert("SaslUserSendingSurge", "auto");
    auto e = named("alice@example.com");
    e.protected_ips = {{"127.0.0.1", "a loopback address"}};
    auto d = decide(p, a, e, 0);
    CHECK_FALSE(d.act);
    CHECK(d.reason.find("127.0.0.1 is never blocked: a loopback address") != std::string::npos);
    e.client_ips = {"203.0.113.9"};
    d = decide(p, a, e, 0);
    REQUIRE(d.act);
    Config c;
    auto reqs = plan_actions(d, e, c, 7);
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].ips == std::vector<std::string>{"203.0.113.9"});
}
