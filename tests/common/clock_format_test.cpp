// The one clock (common/clock.hpp) and numbers and times as people read them (common/format.hpp).
#include <catch2/catch.hpp>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/format.hpp"

using namespace saslguard;

TEST_CASE("numbers are shown fixed, compact, as a percentage or as short as they can be") {
    CHECK(format::fixed(0.873, 2) == "0.87");
    CHECK(format::fixed(1234, 0) == "1234");
    CHECK(format::compact(1234) == "1234");
    CHECK(format::compact(2.5) == "2.5");
    CHECK(format::compact(7.0000000001) == "7");
    CHECK(format::percent(0.873) == "87%");
    CHECK(format::percent(1) == "100%");
    CHECK(format::shortest(0.5) == "0.5");
    CHECK(format::shortest(1) == "1");
    CHECK(format::shortest(1e12) == "1000000000000");
    CHECK(format::counted(0, "message") == "0 messages");
    CHECK(format::counted(1, "message") == "1 message");
    CHECK(format::counted(3, "client IP") == "3 client IPs");
}

TEST_CASE("times are UTC: RFC 3339 to the second or millisecond, and to the minute for chats") {
    CHECK(format::rfc3339(1795424400) == "2026-11-23T09:00:00Z");
    CHECK(format::rfc3339_ms(1795424400123) == "2026-11-23T09:00:00.123Z");
    CHECK(format::rfc3339_ms(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format::utc_minutes(1795424459999) == "2026-11-23 09:00 UTC");
}

TEST_CASE("the wall clock is Unix time in milliseconds") {
    const std::int64_t t = wall_clock_ms();
    CHECK(t > 1'700'000'000'000);  // after 2023, in ms rather than seconds
    CHECK(wall_clock_ms() >= t);
    // A daemon's system_clock timestamp in the same unit.
    CHECK(unix_ms(std::chrono::system_clock::time_point(
              std::chrono::milliseconds(1795424400123))) == 1795424400123);
}
