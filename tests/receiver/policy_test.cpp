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
          "(evidence: prometheus)");

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
    auto d = decide(PolicyConfig{}, alert("PostfixQueueSurge", "auto"), e, 0);
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
    CHECK(decide(p, alert("A", "auto"), named("a@example.com"), 8).act);  // 8 + 2 = 10
    auto d = decide(p, alert("A", "auto"), named("a@example.com"), 9);    // 9 + 2 > 10
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
    auto d = decide(p, alert("A", "auto"), named("a@example.com", 5), 0);
    CHECK_FALSE(d.act);
    CHECK(d.reason.find("sent 5 messages, below policy.min_messages 20") != std::string::npos);
    CHECK(decide(p, alert("A", "auto"), named("a@example.com", std::nullopt), 0)
              .act);  // unknown count: the alert's word stands
}

TEST_CASE("a culprit name that could not safely reach a map or a command is never offered") {
    auto d = decide(PolicyConfig{}, alert("A", "auto"), named("bob\nREJECT"), 0);
    CHECK(d.mode == Mode::Notify);
    CHECK(d.actions.empty());
}

TEST_CASE("planned requests carry the user, its address as sender, expiry and dry-run") {
    Config c;
    c.mitigation.dry_run = true;
    Decision d = decide(c.policy, alert("A", "auto"), named("alice@example.com"), 0);
    auto reqs = plan_actions(d, named("alice@example.com"), c, 42);
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[0].kind == ActionKind::BlockLogin);
    CHECK(reqs[0].username == "alice@example.com");
    CHECK(reqs[0].actor == "auto");
    CHECK(reqs[0].incident_id == 42);
    CHECK(reqs[0].dry_run);
    CHECK(reqs[0].expires_after == std::chrono::hours(24));
    CHECK(reqs[1].kind == ActionKind::HoldMail);
    CHECK(reqs[1].senders == std::vector<std::string>{"alice@example.com"});
}
