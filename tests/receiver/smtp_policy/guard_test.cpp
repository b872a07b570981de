#include <catch2/catch.hpp>

#include "saslguard/receiver/smtp_policy/guard.hpp"

using namespace saslguard::receiver::smtp_policy;
using namespace std::chrono_literals;

namespace {

const SendingGuard::TimePoint t0{std::chrono::hours(1000)};
const std::chrono::system_clock::time_point wall0{std::chrono::seconds(1700000000)};

SendingGuard::Outcome send(SendingGuard& g, const std::string& user, SendingGuard::TimePoint at,
                           std::uint32_t recipients = 1, const std::string& client = "192.0.2.1",
                           const std::string& queue_id = "QID") {
    return g.record_message(user, recipients, client, queue_id, at, wall0 + (at - t0));
}

}  // namespace

TEST_CASE("the 31st message within a minute trips the guard once and is held") {
    SendingGuard g(GuardSettings{});
    for (int i = 0; i < 30; ++i) {
        auto out = send(g, "alice@example.com", t0 + i * 1s);
        REQUIRE_FALSE(out.hold);
        REQUIRE_FALSE(out.trip);
        CHECK(out.counts.messages == static_cast<std::uint32_t>(i + 1));
    }
    CHECK_FALSE(g.is_held("alice@example.com", t0 + 30s));
    auto out = send(g, "alice@example.com", t0 + 30s, 1, "192.0.2.1", "Q31");
    REQUIRE(out.hold);
    REQUIRE(out.trip);
    const GuardTrip& t = *out.trip;
    CHECK(t.user == "alice@example.com");
    CHECK(t.exceeded == GuardLimit::Messages);
    CHECK(t.counts.messages == 31);
    CHECK(t.counts.recipients == 31);
    CHECK(t.limits.max_messages == 30);
    CHECK(t.limits.max_recipients == 300);
    CHECK(t.message_window == 60s);
    CHECK(t.recipient_window == 600s);
    CHECK(t.queue_id == "Q31");
    CHECK(t.at == wall0 + 30s);
    REQUIRE(t.hold_until);
    CHECK(*t.hold_until == wall0 + 30s + 3600s);
    CHECK(t.client_addresses == std::vector<std::string>{"192.0.2.1"});
    CHECK(g.is_held("alice@example.com", t0 + 31s));

    // Further messages are held without a second event, even once the rate drops.
    for (int i = 0; i < 5; ++i) {
        auto more = send(g, "alice@example.com", t0 + 10min + i * 1min);
        CHECK(more.hold);
        CHECK_FALSE(more.trip);
    }
    CHECK(g.stats().trips == 1);
    CHECK(g.stats().held_users == 1);
    // Another user is untouched.
    CHECK_FALSE(send(g, "bob@example.com", t0 + 31s).hold);
}

TEST_CASE("one message to more recipients than the limit trips on recipients") {
    SendingGuard g(GuardSettings{});
    CHECK_FALSE(send(g, "carol", t0, 300).hold);
    auto out = send(g, "dave", t0, 301);
    REQUIRE(out.trip);
    CHECK(out.trip->exceeded == GuardLimit::Recipients);
    CHECK(out.trip->counts.recipients == 301);
    // carol's 300 recipients plus one more message of 1 in the 10-minute window:
    // 301 > 300, while her first message has left the 1-minute message window.
    auto carol = send(g, "carol", t0 + 9min, 1);
    REQUIRE(carol.trip);
    CHECK(carol.trip->exceeded == GuardLimit::Recipients);
    CHECK(carol.trip->counts.messages == 1);
    CHECK(carol.trip->counts.recipients == 301);
}

TEST_CASE("counts slide: messages older than the window no longer count") {
    SendingGuard g(GuardSettings{});
    for (int i = 0; i < 30; ++i) REQUIRE_FALSE(send(g, "u", t0).hold);
    // 63 s later (a window and a bucket) the first 30 have left the 60 s window.
    auto out = send(g, "u", t0 + 63s);
    CHECK_FALSE(out.hold);
    CHECK(out.counts.messages == 1);
    CHECK(out.counts.recipients == 31);  // the 10-minute recipient window still has them

    // 20 + 20 within 40 s: over 30.
    SendingGuard h(GuardSettings{});
    for (int i = 0; i < 20; ++i) REQUIRE_FALSE(send(h, "v", t0).hold);
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(send(h, "v", t0 + 40s).hold);
    CHECK(send(h, "v", t0 + 40s).trip);

    // 20 then 20 a little over a window later: never over.
    SendingGuard k(GuardSettings{});
    for (int i = 0; i < 20; ++i) REQUIRE_FALSE(send(k, "w", t0).hold);
    for (int i = 0; i < 20; ++i) REQUIRE_FALSE(send(k, "w", t0 + 63s).hold);
}

TEST_CASE("a window's edge is exact to one bucket (window/20), never late") {
    GuardSettings s;
    s.limits = {10, 0};
    SendingGuard g(s);
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(send(g, "u", t0).hold);
    // A full window later the burst still counts (never late)...
    CHECK(send(g, "u", t0 + 60s).trip);
    SendingGuard h(s);
    for (int i = 0; i < 10; ++i) REQUIRE_FALSE(send(h, "u", t0).hold);
    // ...and one full window later it never does.
    CHECK_FALSE(send(h, "u", t0 + 60s + 3s).hold);
}

TEST_CASE("a hold ends after hold_for, still over the limit then means a new trip") {
    GuardSettings s;
    s.limits = {5, 0};
    s.hold_for = 10min;
    SendingGuard g(s);
    for (int i = 0; i < 5; ++i) REQUIRE_FALSE(send(g, "u", t0).hold);
    REQUIRE(send(g, "u", t0).trip);
    CHECK(g.is_held("u", t0 + 10min - 1s));
    CHECK_FALSE(g.is_held("u", t0 + 10min));
    // Quiet by then: counts start again from the window.
    CHECK_FALSE(send(g, "u", t0 + 10min).hold);
    for (int i = 0; i < 4; ++i) REQUIRE_FALSE(send(g, "u", t0 + 10min + 1s).hold);
    auto again = send(g, "u", t0 + 10min + 2s);
    REQUIRE(again.trip);
    CHECK(g.stats().trips == 2);
}

TEST_CASE("hold_for 0 holds until the receiver clears the user") {
    GuardSettings s;
    s.limits = {1, 0};
    s.hold_for = 0s;
    SendingGuard g(s);
    REQUIRE_FALSE(send(g, "u", t0).hold);
    auto out = send(g, "u", t0);
    REQUIRE(out.trip);
    CHECK_FALSE(out.trip->hold_until);
    CHECK(g.is_held("u", t0 + 24h * 365));
    CHECK(g.clear("U"));  // any case: clear canonicalises
    CHECK_FALSE(g.is_held("u", t0 + 1s));
    CHECK_FALSE(g.clear("u"));  // not tracked any more
    CHECK(g.stats().held_users == 0);
}

TEST_CASE("clear with a grace period lets released bulk mail go on without tripping") {
    GuardSettings s;
    s.limits = {3, 0};
    SendingGuard g(s);
    for (int i = 0; i < 3; ++i) REQUIRE_FALSE(send(g, "bulk", t0).hold);
    REQUIRE(send(g, "bulk", t0).trip);
    g.clear("bulk", 1h, t0 + 1s);
    for (int i = 0; i < 100; ++i) {
        auto out = send(g, "bulk", t0 + 2s);
        REQUIRE_FALSE(out.hold);
        REQUIRE(out.exempt);
    }
    // After the grace period the guard counts again.
    for (int i = 0; i < 3; ++i) REQUIRE_FALSE(send(g, "bulk", t0 + 2h).hold);
    CHECK(send(g, "bulk", t0 + 2h).trip);
}

TEST_CASE("per-user limits override the defaults, a zero limit switches that count off") {
    GuardSettings s;
    s.user_limits["Newsletter@Example.com"] = {500, 0};
    s.user_limits["nolimit@example.com"] = {0, 0};
    SendingGuard g(s);
    for (int i = 0; i < 500; ++i) REQUIRE_FALSE(send(g, "newsletter@example.com", t0, 50).hold);
    auto out = send(g, "newsletter@example.com", t0);
    REQUIRE(out.trip);
    CHECK(out.trip->limits.max_messages == 500);
    CHECK(out.trip->exceeded == GuardLimit::Messages);
    for (int i = 0; i < 1000; ++i) {
        auto n = send(g, "nolimit@example.com", t0, 1000);
        REQUIRE(n.exempt);
        REQUIRE_FALSE(n.hold);
    }
    CHECK(g.stats().exempt == 1000);
    // Not tracked at all: no memory for an exempt user.
    CHECK(g.stats().tracked_users == 1);
}

TEST_CASE("allowlisted users and domains (and subdomains) are never counted nor held") {
    GuardSettings s;
    s.limits = {1, 1};
    s.allow_users = {"Monitor@Example.org"};
    s.allow_domains = {"example.com"};
    SendingGuard g(s);
    CHECK(g.allowlisted("monitor@example.org"));
    CHECK(g.allowlisted("a@example.com"));
    CHECK(g.allowlisted("a@mx.example.com"));
    CHECK(g.allowlisted("a@b@example.com"));  // the part after the last '@'
    CHECK_FALSE(g.allowlisted("a@notexample.com"));
    CHECK_FALSE(g.allowlisted("a@example.com.evil.net"));
    CHECK_FALSE(g.allowlisted("example.com"));  // no '@': no domain
    for (int i = 0; i < 10; ++i) {
        CHECK(send(g, "a@mx.example.com", t0, 100).exempt);
        CHECK(send(g, "monitor@example.org", t0, 100).exempt);
    }
    CHECK_FALSE(send(g, "x@notexample.com", t0).hold);
    CHECK(send(g, "x@notexample.com", t0).trip);
}

TEST_CASE("a disabled guard counts nothing and holds nothing") {
    GuardSettings s;
    s.enabled = false;
    s.limits = {1, 1};
    SendingGuard g(s);
    for (int i = 0; i < 10; ++i) CHECK(send(g, "u", t0, 10).exempt);
    CHECK(g.stats().tracked_users == 0);
}

TEST_CASE("the first distinct client addresses of an episode go with the trip") {
    GuardSettings s;
    s.limits = {6, 0};
    SendingGuard g(s);
    std::optional<GuardTrip> first;
    for (const char* ip : {"192.0.2.1", "192.0.2.1", "198.51.100.7", "2001:db8::5", "192.0.2.9",
                           "203.0.113.3", "203.0.113.4"}) {
        auto o = send(g, "u", t0, 1, ip);
        if (o.trip) first = o.trip;
    }
    REQUIRE(first);
    CHECK(first->client_addresses ==
          std::vector<std::string>{"192.0.2.1", "198.51.100.7", "2001:db8::5", "192.0.2.9"});
    CHECK(g.stats().trips == 1);

    SendingGuard h(s);
    // An old episode's address is forgotten once both windows were empty.
    send(h, "u", t0, 1, "203.0.113.250");
    std::optional<GuardTrip> trip;
    for (int i = 0; i < 7; ++i) {
        auto o = send(h, "u", t0 + 11min, 1, i < 3 ? "192.0.2.1" : "198.51.100.7");
        if (o.trip) trip = o.trip;
    }
    REQUIRE(trip);
    CHECK(trip->client_addresses == std::vector<std::string>{"192.0.2.1", "198.51.100.7"});
}

TEST_CASE("memory is bounded by max_tracked_users, idle users are forgotten by sweep") {
    GuardSettings s;
    s.max_tracked_users = 1000;
    SendingGuard g(s);
    for (int i = 0; i < 10000; ++i) send(g, "user" + std::to_string(i) + "@example.com", t0);
    auto st = g.stats();
    CHECK(st.tracked_users == 1000);
    CHECK(st.evicted == 9000);
    // The most recent users are the ones kept: user9999 still has its count.
    CHECK(send(g, "user9999@example.com", t0).counts.messages == 2);

    // Ten minutes (the longest window) later, nobody has anything in a window.
    g.sweep(t0 + 11min);
    CHECK(g.stats().tracked_users <= 1000 - 512 + 1);  // one sweep walks at most 512
    for (int i = 0; i < 3; ++i) g.sweep(t0 + 11min);
    CHECK(g.stats().tracked_users == 0);
}

TEST_CASE("a held user is kept by the sweep until the hold ends") {
    GuardSettings s;
    s.limits = {1, 0};
    s.hold_for = 30min;
    SendingGuard g(s);
    send(g, "held", t0);
    REQUIRE(send(g, "held", t0).trip);
    send(g, "idle", t0);
    g.sweep(t0 + 20min);
    CHECK(g.stats().tracked_users == 1);
    CHECK(g.is_held("held", t0 + 20min));
    g.sweep(t0 + 31min);
    CHECK(g.stats().tracked_users == 0);
    CHECK(g.stats().held_users == 0);
}

TEST_CASE("counts saturate instead of wrapping") {
    GuardSettings s;
    s.limits = {0, 0xffffffffu};
    s.user_limits["u"] = {0, 0xffffffffu};
    SendingGuard g(s);
    send(g, "u", t0, 0xffffffffu);
    auto out = send(g, "u", t0, 0xffffffffu);
    CHECK(out.counts.recipients == 0xffffffffu);
    CHECK_FALSE(out.hold);  // at, not over, the limit
}
