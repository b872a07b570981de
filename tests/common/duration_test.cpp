// The one duration syntax (common/duration.hpp), shared by every flag and config key.
#include <catch2/catch.hpp>

#include "saslguard/common/duration.hpp"

using namespace saslguard;
using namespace std::chrono_literals;

TEST_CASE("durations take a unit and only a unit") {
    CHECK(parse_duration("30s").value() == 30s);
    CHECK(parse_duration("5m").value() == 5min);
    CHECK(parse_duration("1h").value() == 1h);
    CHECK(parse_duration("250ms").value() == 250ms);
    CHECK(parse_duration("2d").value() == 48h);
    CHECK_FALSE(parse_duration("30"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("1.5h"));
    CHECK_FALSE(parse_duration("-1s"));
}

TEST_CASE("durations are Prometheus's: combined units, largest first, and a bare zero") {
    CHECK(parse_duration("1h30m").value() == 90min);
    CHECK(parse_duration("1w").value() == 168h);
    CHECK(parse_duration("1y").value() == 365 * 24h);
    CHECK(parse_duration("1m30s500ms").value() == 90500ms);
    CHECK(parse_duration("0").value() == 0ms);
    CHECK(parse_duration("0s").value() == 0ms);
    CHECK_FALSE(parse_duration("30m1h"));  // smaller unit first
    CHECK_FALSE(parse_duration("1h1h"));   // repeated unit
    CHECK_FALSE(parse_duration("10parsecs"));
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration(" 5m"));
    CHECK_FALSE(parse_duration("99999999999999999999s"));
    auto e = parse_duration("10parsecs");
    CHECK(e.error().message.find("unknown unit 'parsecs'") != std::string::npos);
}

TEST_CASE("a duration is written back in its largest exact unit") {
    CHECK(format_duration(600s) == "10m");
    CHECK(format_duration(7200s) == "2h");
    CHECK(format_duration(90s) == "90s");
    CHECK(format_duration(5400s) == "90m");
    CHECK(format_duration(250ms) == "250ms");
    CHECK(format_duration(0s) == "0s");
    for (auto d : {600000ms, 1500ms, 86400000ms})
        CHECK(parse_duration(format_duration(d)).value() == d);
}
