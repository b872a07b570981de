#include <catch2/catch.hpp>

#include "saslguard/common/log.hpp"

using namespace saslguard;

TEST_CASE("logfmt quoting keeps attacker text on one line and inside its field") {
    CHECK(log::quote("alice") == "alice");
    CHECK(log::quote("") == "\"\"");
    CHECK(log::quote("a b") == "\"a b\"");
    CHECK(log::quote("x\ny level=error") == "\"x\\ny level=error\"");
    CHECK(log::quote("q\"\\") == "\"q\\\"\\\\\"");
    CHECK(log::quote("\x1b[31m") == "\"\\x1b[31m\"");
}

TEST_CASE("log level names parse and unknown names are refused") {
    CHECK(log::set_level("debug"));
    CHECK(log::level() == log::Level::Debug);
    CHECK_FALSE(log::set_level("verbose"));
    CHECK(log::level() == log::Level::Debug);
    CHECK(log::set_level("info"));
}
