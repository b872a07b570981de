// Tests for the source memory (exporter/src/source_memory.cpp): networks per
// user, learning, horizon, bounds, and the state file format.
#include "source_memory.hpp"

#include <catch2/catch.hpp>

using namespace saslguard::exporter;
using Seen = SourceMemory::Seen;

namespace {
constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kT0 = 1'800'000'000;

Network net(const char* ip) {
    auto n = network_of(ip);
    REQUIRE(n);
    return *n;
}
SourceMemoryConfig config(std::int64_t learning = 0) {
    SourceMemoryConfig c;
    c.learning_s = learning;
    c.new_for_s = 60;
    c.max_users = 100;
    c.max_networks_per_user = 8;
    return c;
}
}  // namespace

TEST_CASE("an address belongs to its IPv4 /24 or IPv6 /64") {
    CHECK(net("192.0.2.7") == net("192.0.2.200"));
    CHECK_FALSE(net("192.0.2.7") == net("192.0.3.7"));
    CHECK(net("::ffff:192.0.2.9") == net("192.0.2.1"));
    CHECK(net("2001:db8:1:2::1") == net("2001:db8:1:2:ffff::9"));
    CHECK_FALSE(net("2001:db8:1:2::1") == net("2001:db8:1:3::1"));
    CHECK(to_string(net("192.0.2.7")) == "192.0.2.0/24");
    CHECK(to_string(net("2001:db8:1:2::1")) == "2001:db8:1:2::/64");
    CHECK_FALSE(network_of("unknown"));
    CHECK_FALSE(network_of(""));
    CHECK_FALSE(network_of("192.0.2.300"));
    CHECK(parse_network("192.0.2.0/24") == net("192.0.2.1"));
    CHECK_FALSE(parse_network("192.0.2.7/24"));  // host bits set: not what we write
    CHECK_FALSE(parse_network("192.0.2.0/16"));
    CHECK_FALSE(parse_network("2001:db8::/48"));
}

TEST_CASE("a network is new for a user for new_for after it appears, per user, not per server") {
    SourceMemory m(config());
    CHECK(m.observe("alice", net("192.0.2.1"), kT0) == Seen::New);
    CHECK(m.observe("alice", net("192.0.2.99"), kT0 + 59) == Seen::New);  // same /24, still new
    CHECK(m.observe("alice", net("192.0.2.99"), kT0 + 60) == Seen::Known);
    CHECK(m.observe("bob", net("192.0.2.1"), kT0 + 70) == Seen::New);
    CHECK(m.observe("alice", net("198.51.100.1"), kT0 + 80) == Seen::New);
    CHECK(m.users() == 2);
    CHECK(m.networks() == 3);
}

TEST_CASE("during the learning period networks are learned, never new") {
    SourceMemory m(config(7 * kDay));
    CHECK(m.observe("alice", net("192.0.2.1"), kT0) == Seen::Learning);
    CHECK(m.observe("alice", net("198.51.100.1"), kT0 + 6 * kDay) == Seen::Learning);
    CHECK(m.observe("alice", net("198.51.100.1"), kT0 + 7 * kDay + 1) == Seen::Known);
    CHECK(m.observe("alice", net("203.0.113.1"), kT0 + 8 * kDay) == Seen::New);
    // A user first seen after learning: every network is new (a dormant account).
    CHECK(m.observe("dormant", net("192.0.2.1"), kT0 + 9 * kDay) == Seen::New);
}

TEST_CASE("a network unused for longer than the horizon is new again") {
    SourceMemoryConfig c = config();
    c.horizon_s = 30 * kDay;
    SourceMemory m(c);
    CHECK(m.observe("alice", net("192.0.2.1"), kT0) == Seen::New);
    CHECK(m.observe("alice", net("192.0.2.1"), kT0 + 29 * kDay) == Seen::Known);
    CHECK(m.observe("alice", net("192.0.2.1"), kT0 + 59 * kDay) == Seen::Known);
    CHECK(m.observe("alice", net("192.0.2.1"), kT0 + 90 * kDay) == Seen::New);
    CHECK(m.observe("alice", net("192.0.2.1"), kT0 + 90 * kDay + 61) == Seen::Known);
    CHECK(m.networks() == 1);
}

TEST_CASE("the memory is bounded: users by activity, networks per user by last use") {
    SourceMemoryConfig c = config();
    c.max_users = 3;
    c.max_networks_per_user = 2;
    SourceMemory m(c);
    m.observe("a", net("10.0.1.1"), kT0);
    m.observe("b", net("10.0.1.1"), kT0 + 1);
    m.observe("c", net("10.0.1.1"), kT0 + 2);
    m.observe("a", net("10.0.1.1"), kT0 + 3);  // a is active again: b is now the idlest
    m.observe("d", net("10.0.1.1"), kT0 + 4);
    CHECK(m.users() == 3);
    CHECK(m.users_forgotten() == 1);
    CHECK(m.observe("a", net("10.0.1.1"), kT0 + 100) == Seen::Known);
    CHECK(m.observe("b", net("10.0.1.1"), kT0 + 101) == Seen::New);  // forgotten

    m.observe("a", net("10.0.2.1"), kT0 + 102);
    m.observe("a", net("10.0.1.1"), kT0 + 103);  // 10.0.2 is now a's least recently used
    m.observe("a", net("10.0.3.1"), kT0 + 104);  // replaces 10.0.2
    CHECK(m.observe("a", net("10.0.1.1"), kT0 + 200) == Seen::Known);
    CHECK(m.observe("a", net("10.0.2.1"), kT0 + 201) == Seen::New);
    CHECK(m.networks() <= c.max_users * c.max_networks_per_user);
}

TEST_CASE("the state survives serialize and load: same answers, same learning start") {
    SourceMemory m(config(kDay));
    m.observe("alice@example.org", net("192.0.2.1"), kT0);
    m.observe("alice@example.org", net("2001:db8:1:2::1"), kT0 + 10);
    m.observe("bob \xE2\x82\xAC", net("198.51.100.1"), kT0 + 20);
    std::string text = m.serialize(kT0 + 20);

    SourceMemory n(config(kDay));
    std::vector<std::string> warnings;
    auto loaded = n.load(text, "state", warnings);
    REQUIRE(loaded);
    CHECK(*loaded == 2);
    CHECK(warnings.empty());
    CHECK(n.learning_since() == kT0);
    CHECK(n.serialize(kT0 + 20) == text);
    CHECK(n.observe("alice@example.org", net("2001:db8:1:2::77"), kT0 + 2 * kDay) == Seen::Known);
    CHECK(n.observe("alice@example.org", net("203.0.113.1"), kT0 + 2 * kDay) == Seen::New);
    CHECK(n.observe("bob \xE2\x82\xAC", net("198.51.100.3"), kT0 + 2 * kDay) == Seen::Known);
}

TEST_CASE("a damaged state file: bad records are skipped and named, a foreign file is refused") {
    SourceMemory m(config());
    std::vector<std::string> warnings;
    auto loaded = m.load(
        "# comment\n"
        "saslguard-exporter-sources\t1\n"
        "learning_since\t1800000000\n"
        "user\talice\t1800000100\t192.0.2.0/24=1800000000:1800000100,garbage,"
        "192.0.3.5/24=1:2,192.0.4.0/24=9:1\n"
        "user\t\t1800000100\t192.0.2.0/24=1800000100:1800000100\n"
        "user\tbob\tnot-a-time\t192.0.2.0/24=1800000100:1800000100\n"
        "something else\n",
        "/var/lib/x/state", warnings);
    REQUIRE(loaded);
    CHECK(*loaded == 1);
    REQUIRE(warnings.size() == 4);
    CHECK(warnings[0] == "/var/lib/x/state:4: unreadable networks skipped");
    CHECK(warnings[1] == "/var/lib/x/state:5: bad user record, skipped");
    CHECK(m.observe("alice", net("192.0.2.1"), kT0 + 200) == Seen::Known);

    SourceMemory f(config());
    auto foreign = f.load("[sources]\nalice=1\n", "/etc/passwd", warnings);
    REQUIRE_FALSE(foreign);
    CHECK(foreign.error().message.find("/etc/passwd:1: not a saslguard-exporter source memory") ==
          0);
    CHECK(f.users() == 0);
}

TEST_CASE("entries past the horizon are not written to the state file") {
    SourceMemoryConfig c = config();
    c.horizon_s = 10 * kDay;
    SourceMemory m(c);
    m.observe("old", net("192.0.2.1"), kT0);
    m.observe("new", net("192.0.2.1"), kT0 + 9 * kDay);
    std::string text = m.serialize(kT0 + 11 * kDay);
    CHECK(text.find("\told\t") == std::string::npos);
    CHECK(text.find("\tnew\t") != std::string::npos);
}
