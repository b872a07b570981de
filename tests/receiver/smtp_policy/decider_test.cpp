#include <catch2/catch.hpp>

#include "policy_test_support.hpp"
#include "saslguard/receiver/smtp_policy/decider.hpp"

using namespace saslguard::receiver::smtp_policy;
using namespace std::chrono_literals;

namespace {

struct Rig {
    SmtpPolicySettings settings;
    BlockSet blocks;
    FakeClock clock;
    RecordingEvents events;
    std::unique_ptr<SendingGuard> guard;
    std::unique_ptr<PolicyDecider> decider;

    explicit Rig(GuardLimits limits = {3, 100}) {
        settings.guard.limits = limits;
        guard = std::make_unique<SendingGuard>(settings.guard);
        decider =
            std::make_unique<PolicyDecider>(settings, blocks, *guard, events, clock.policy_clock());
    }
    Verdict decide(const std::string& text) {
        RequestParser p;
        auto step = p.feed(text);
        REQUIRE(step.status == RequestParser::Status::Complete);
        return decider->decide(p.request());
    }
};

}  // namespace

TEST_CASE("a request without sasl_username is DUNNO (a real unauthenticated request)") {
    Rig rig;
    auto v = rig.decide(read_fixture("postfix-3.7-rcpt-unauthenticated.request"));
    CHECK(v.action == Action::Dunno);
    CHECK(v.reason == Reason::NotAuthenticated);
    CHECK(v.text.empty());
}

TEST_CASE("a real authenticated RCPT of an unblocked user is DUNNO and counts nothing") {
    Rig rig;
    for (int i = 0; i < 50; ++i) {
        auto v = rig.decide(read_fixture("postfix-3.7-rcpt.request"));
        REQUIRE(v.action == Action::Dunno);
        REQUIRE(v.reason == Reason::OtherState);
    }
    CHECK(rig.guard->stats().tracked_users == 0);
    CHECK(rig.events.trips().empty());
}

TEST_CASE("a blocked login is refused in every state, compared in lowercase") {
    Rig rig;
    rig.blocks.block_login("Alice@SASLGuard.test");
    for (const char* state : {"RCPT", "MAIL", "END-OF-MESSAGE", "DATA", "CONNECT"}) {
        INFO(state);
        auto v = rig.decide(policy_request({{"protocol_state", state},
                                            {"client_address", "192.0.2.1"},
                                            {"sasl_username", "alice@saslguard.TEST"},
                                            {"recipient_count", "1"}}));
        CHECK(v.action == Action::Reject);
        CHECK(v.reason == Reason::LoginBlocked);
        CHECK(v.text == rig.settings.login_reject_text);
    }
    auto real = rig.decide(read_fixture("postfix-3.7-rcpt.request"));
    CHECK(real.action == Action::Reject);
    // A refused message is not counted by the guard.
    CHECK(rig.guard->stats().tracked_users == 0);
    // Unblocked: the very next request is DUNNO.
    rig.blocks.unblock_login("ALICE@saslguard.test");
    CHECK(rig.decide(read_fixture("postfix-3.7-rcpt.request")).action == Action::Dunno);
}

TEST_CASE("a blocked client address is refused, authenticated or not, in canonical form") {
    Rig rig;
    REQUIRE(rig.blocks.block_client("2001:DB8:0:0::7"));
    REQUIRE(rig.blocks.block_client("192.0.2.66"));
    auto v6 = rig.decide(policy_request(
        {{"protocol_state", "CONNECT"}, {"client_address", "2001:db8::7"}, {"sasl_username", ""}}));
    CHECK(v6.action == Action::Reject);
    CHECK(v6.reason == Reason::ClientBlocked);
    CHECK(v6.text == rig.settings.client_reject_text);
    auto v4 = rig.decide(rcpt("bob", "192.0.2.66"));
    CHECK(v4.action == Action::Reject);
    CHECK(rig.decide(rcpt("bob", "192.0.2.67")).action == Action::Dunno);
    // A client_address that is not an IP (Postfix never sends one) is just not blocked.
    CHECK(rig.decide(rcpt("bob", "unknown")).action == Action::Dunno);
}

TEST_CASE("the guard counts at END-OF-MESSAGE, holds past the limit and reports one trip") {
    Rig rig({3, 100});
    for (int i = 0; i < 3; ++i) {
        auto v = rig.decide(eom("Mallory@Example.com", 2, "192.0.2.5", "Q" + std::to_string(i)));
        REQUIRE(v.action == Action::Dunno);
        REQUIRE(v.reason == Reason::Counted);
    }
    auto trip = rig.decide(eom("mallory@example.com", 2, "198.51.100.1", "Q3"));
    CHECK(trip.action == Action::Hold);
    CHECK(trip.reason == Reason::GuardTripped);
    CHECK(trip.text ==
          "saslguard sending guard holds mail of mallory@example.com (4 messages/1m, 8 "
          "recipients/10m)");
    REQUIRE(rig.events.trips().size() == 1);
    const GuardTrip t = rig.events.trips()[0];
    CHECK(t.user == "mallory@example.com");
    CHECK(t.counts.messages == 4);
    CHECK(t.queue_id == "Q3");
    CHECK(t.at == rig.clock.wall);
    CHECK(t.client_addresses == std::vector<std::string>{"192.0.2.5", "198.51.100.1"});

    // Further mail: HOLD at RCPT (already held) and at END-OF-MESSAGE, no new trip.
    rig.clock.advance(5s);
    auto at_rcpt = rig.decide(rcpt("mallory@example.com"));
    CHECK(at_rcpt.action == Action::Hold);
    CHECK(at_rcpt.reason == Reason::GuardHeld);
    CHECK(at_rcpt.text == "saslguard sending guard holds mail of mallory@example.com");
    auto at_eom = rig.decide(eom("mallory@example.com", 1, "192.0.2.5", "Q4"));
    CHECK(at_eom.action == Action::Hold);
    CHECK(at_eom.reason == Reason::GuardHeld);
    CHECK(rig.events.trips().size() == 1);
    // Every held message is reported with its queue id, for release/delete.
    const auto held = rig.events.held();
    REQUIRE(held.size() == 2);
    CHECK(held[0].queue_id == "Q3");
    CHECK(held[1].queue_id == "Q4");
    CHECK(held[1].user == "mallory@example.com");
    CHECK(held[1].client_address == "192.0.2.5");

    // Another user is not affected.
    CHECK(rig.decide(eom("bob@example.com")).action == Action::Dunno);
    CHECK(rig.decide(rcpt("bob@example.com")).action == Action::Dunno);
}

TEST_CASE("RCPT requests never count: a user is held only on messages received") {
    Rig rig({3, 3});
    for (int i = 0; i < 100; ++i) REQUIRE(rig.decide(rcpt("u")).action == Action::Dunno);
    CHECK(rig.guard->stats().tracked_users == 0);
}

TEST_CASE("a blocked login wins over the guard's hold") {
    Rig rig({1, 0});
    rig.decide(eom("u"));
    REQUIRE(rig.decide(eom("u")).action == Action::Hold);
    rig.blocks.block_login("u");
    CHECK(rig.decide(eom("u")).action == Action::Reject);
    CHECK(rig.decide(rcpt("u")).action == Action::Reject);
}

TEST_CASE("allowlisted users are exempt at END-OF-MESSAGE") {
    SmtpPolicySettings s;
    s.guard.limits = {1, 1};
    s.guard.allow_domains = {"example.net"};
    BlockSet blocks;
    RecordingEvents events;
    FakeClock clock;
    SendingGuard guard(s.guard);
    PolicyDecider d(s, blocks, guard, events, clock.policy_clock());
    RequestParser p;
    for (int i = 0; i < 10; ++i) {
        REQUIRE(p.feed(eom("news@lists.example.net", 500)).status ==
                RequestParser::Status::Complete);
        auto v = d.decide(p.request());
        REQUIRE(v.action == Action::Dunno);
        REQUIRE(v.reason == Reason::Exempt);
    }
    CHECK(events.trips().empty());
}

TEST_CASE("a login that is unsafe to print is left out of the HOLD text") {
    Rig rig({1, 0});
    const std::string odd = "evil user\tname";
    rig.decide(eom(odd));
    auto v = rig.decide(eom(odd));
    REQUIRE(v.action == Action::Hold);
    CHECK(v.text.find("evil") == std::string::npos);
    CHECK(v.text.rfind("saslguard sending guard holds mail of this login (", 0) == 0);
}

TEST_CASE("states other than RCPT and END-OF-MESSAGE are DUNNO for a held user") {
    Rig rig({1, 0});
    rig.decide(eom("u"));
    REQUIRE(rig.decide(eom("u")).action == Action::Hold);
    for (const char* state : {"CONNECT", "EHLO", "MAIL", "DATA", "VRFY", "ETRN", "FUTURE"}) {
        INFO(state);
        auto v = rig.decide(policy_request({{"protocol_state", state}, {"sasl_username", "u"}}));
        CHECK(v.action == Action::Dunno);
        CHECK(v.reason == Reason::OtherState);
    }
}
