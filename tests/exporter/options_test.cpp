// Tests for the exporter's flags (exporter/src/options.cpp).
#include "options.hpp"

#include <catch2/catch.hpp>

using namespace saslguard::exporter;

TEST_CASE("defaults match the documented ones") {
    const char* argv[] = {"x"};
    auto o = parse_options(1, argv);
    REQUIRE(o.ok());
    CHECK(o->listen_address == "127.0.0.1:9754");
    CHECK(o->log_source == LogSourceKind::File);
    CHECK(o->log_path == "/var/log/mail.log");
    CHECK_FALSE(o->log_from_start);
    CHECK(o->window == std::chrono::minutes(10));
}

TEST_CASE("flags take --name=value, --name value and bare booleans") {
    const char* argv[] = {"x",
                          "--log.source=stdin",
                          "--oneshot",
                          "/tmp/f",
                          "--log.from-start",
                          "--window=90s",
                          "--max-users",
                          "5"};
    auto o = parse_options(8, argv);
    REQUIRE(o.ok());
    CHECK(o->log_source == LogSourceKind::Stdin);
    CHECK(o->oneshot_path == "/tmp/f");
    CHECK(o->log_from_start);
    CHECK(o->window == std::chrono::seconds(90));
    CHECK(o->max_users == 5);
}

TEST_CASE("unknown flags and bad values are errors naming the flag") {
    const char* a1[] = {"x", "--nope=1"};
    auto o1 = parse_options(2, a1);
    REQUIRE_FALSE(o1.ok());
    CHECK(o1.error().message.find("--nope") != std::string::npos);
    const char* a2[] = {"x", "--log.source=syslog"};
    auto o2 = parse_options(2, a2);
    REQUIRE_FALSE(o2.ok());
    CHECK(o2.error().message.find("log.source") != std::string::npos);
    const char* a3[] = {"x", "--max-users=0"};
    CHECK_FALSE(parse_options(2, a3).ok());
    const char* a4[] = {"x", "--window=10parsecs"};
    CHECK_FALSE(parse_options(2, a4).ok());
}

TEST_CASE("source memory flags: defaults, a zero learning period, bad values") {
    const char* argv[] = {"x"};
    auto d = parse_options(1, argv);
    REQUIRE(d.ok());
    CHECK(d->state_path.empty());
    CHECK(d->sources_horizon == std::chrono::hours(30 * 24));
    CHECK(d->sources_learning_period == std::chrono::hours(7 * 24));
    CHECK(d->sources_new_for == std::chrono::hours(24));
    CHECK(d->max_networks_per_user == 32);
    const char* a[] = {"x", "--state.path=/var/lib/saslguard-exporter/sources.state",
                       "--sources.learning-period=0", "--sources.horizon=14d",
                       "--sources.new-for=6h"};
    auto o = parse_options(5, a);
    REQUIRE(o.ok());
    CHECK(o->state_path == "/var/lib/saslguard-exporter/sources.state");
    CHECK(o->sources_learning_period.count() == 0);
    CHECK(o->sources_horizon == std::chrono::hours(14 * 24));
    CHECK(o->sources_new_for == std::chrono::hours(6));
    const char* b[] = {"x", "--sources.horizon=0"};
    CHECK_FALSE(parse_options(2, b).ok());
    const char* c[] = {"x", "--sources.max-networks-per-user=0"};
    CHECK_FALSE(parse_options(2, c).ok());
}
