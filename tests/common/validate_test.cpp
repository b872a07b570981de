#include <catch2/catch.hpp>

#include "saslguard/common/validate.hpp"

using namespace saslguard;

TEST_CASE("ordinary SASL usernames are accepted") {
    for (const char* u :
         {"alice", "alice@example.com", "bob.smith+tag@mail.example.org", "u_1-2=3%x"})
        CHECK(validate::sasl_username(u));
}

TEST_CASE("hostile SASL usernames are rejected") {
    std::string long_name(256, 'a');
    for (std::string u :
         {std::string(""), std::string("-rf"), std::string("a b"), std::string("a\nb"),
          std::string("a;b"), std::string("$(id)"), std::string("`id`"), std::string("a'b"),
          std::string("a\"b"), std::string("a@b@c"), std::string("a..b"), std::string(".a"),
          std::string("a\tREJECT"), std::string("caf\xc3\xa9"), std::string("a\0b", 3),
          std::string("a@-bad.com"), std::string("a@"), long_name})
        CHECK_FALSE(validate::sasl_username(u));
}

TEST_CASE("IP addresses are canonicalised and garbage rejected") {
    CHECK(validate::canonical_ip("127.0.0.1") == std::optional<std::string>("127.0.0.1"));
    CHECK(validate::canonical_ip("2001:DB8::1") == std::optional<std::string>("2001:db8::1"));
    // An IPv4-mapped IPv6 address is the IPv4 address (as Postfix reports the client).
    CHECK(validate::canonical_ip("::ffff:10.0.0.1") == std::optional<std::string>("10.0.0.1"));
    CHECK(validate::canonical_ip("::FFFF:7f00:1") == std::optional<std::string>("127.0.0.1"));
    CHECK(validate::canonical_ip("::1") == std::optional<std::string>("::1"));
    CHECK_FALSE(validate::ip("256.1.1.1"));
    CHECK_FALSE(validate::ip("1.2.3.4 OK"));
    CHECK_FALSE(validate::ip("1.2.3.4\n"));
    CHECK_FALSE(validate::ip("-1.2.3.4"));
    CHECK_FALSE(validate::ip(""));
    CHECK_FALSE(validate::ip("unknown"));
}

TEST_CASE("queue ids: short and long forms pass, anything else fails") {
    CHECK(validate::queue_id("4F2A31C0E1"));
    CHECK(validate::queue_id("4Lq9Q83vbvz1xcg"));
    CHECK_FALSE(validate::queue_id("-d"));
    CHECK_FALSE(validate::queue_id("ALL"));
    CHECK_FALSE(validate::queue_id("4F2A31C0E1 ALL"));
    CHECK_FALSE(validate::queue_id("4F2A*"));
}

TEST_CASE("domains, addresses and unix users") {
    CHECK(validate::domain("example.com"));
    CHECK_FALSE(validate::domain("exa mple.com"));
    CHECK_FALSE(validate::domain("-x.com"));
    CHECK_FALSE(validate::domain("a..b"));
    CHECK(validate::email_address(""));
    CHECK(validate::email_address("spam@example.com"));
    CHECK_FALSE(validate::email_address("spam@"));
    CHECK_FALSE(validate::email_address("a b@example.com"));
    CHECK(validate::unix_user("alice"));
    CHECK_FALSE(validate::unix_user("Alice"));
    CHECK_FALSE(validate::unix_user("-alice"));
    CHECK_FALSE(validate::unix_user("root;id"));
}

TEST_CASE("a login has one canonical form: lowercase, and only when it is valid") {
    CHECK(validate::canonical_login("Bob@EXAMPLE.org") ==
          std::optional<std::string>("bob@example.org"));
    CHECK(validate::canonical_login("alice") == std::optional<std::string>("alice"));
    CHECK_FALSE(validate::canonical_login("Bob\n@example.org"));
    CHECK_FALSE(validate::canonical_login("J\xc3\x9cRGEN"));
}
