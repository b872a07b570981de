#include <catch2/catch.hpp>

#include "saslguard/receiver/smtp_policy/settings.hpp"

using namespace saslguard::receiver::smtp_policy;
using namespace std::chrono_literals;

TEST_CASE("the default settings are valid") {
    CHECK(validate(SmtpPolicySettings{}).ok());
    SmtpPolicySettings s;
    CHECK_FALSE(s.enabled);
    CHECK(s.server.listen == std::vector<std::string>{"inet:127.0.0.1:10046"});
    CHECK(s.guard.limits.max_messages == 30);
    CHECK(s.guard.message_window == 60s);
    CHECK(s.guard.limits.max_recipients == 300);
    CHECK(s.guard.recipient_window == 600s);
}

TEST_CASE("listen addresses are Postfix's notation, loopback or a unix socket") {
    auto a = parse_listen_address("inet:127.0.0.1:10046");
    REQUIRE(a.ok());
    CHECK(a->kind == ListenAddress::Kind::Inet);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 10046);
    CHECK(a->text() == "inet:127.0.0.1:10046");

    auto bare = parse_listen_address("127.0.0.2:25000");
    REQUIRE(bare.ok());
    CHECK(bare->text() == "inet:127.0.0.2:25000");

    auto v6 = parse_listen_address("inet:[::1]:10046");
    REQUIRE(v6.ok());
    CHECK(v6->host == "::1");
    CHECK(v6->text() == "inet:[::1]:10046");

    auto ux = parse_listen_address("unix:/var/spool/postfix/private/saslguard-policy");
    REQUIRE(ux.ok());
    CHECK(ux->kind == ListenAddress::Kind::Unix);
    CHECK(ux->path == "/var/spool/postfix/private/saslguard-policy");
    CHECK(ux->text() == "unix:/var/spool/postfix/private/saslguard-policy");
}

TEST_CASE("a listen address off the host, a host name or a bad port is refused with the reason") {
    auto check = [](const std::string& text, const std::string& part) {
        INFO(text);
        auto r = parse_listen_address(text);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains(part));
    };
    check("inet:0.0.0.0:10046", "only loopback");
    check("inet:192.0.2.1:10046", "only loopback");
    check("inet:[2001:db8::1]:10046", "only loopback");
    check("inet:localhost:10046", "not an IP address");
    check("inet:127.0.0.1:99999", "bad port");
    check("inet:127.0.0.1:", "bad port");
    check("inet:127.0.0.1", "expected inet:");
    check("10046", "expected inet:");
    check("unix:relative/path", "absolute path");
    check("unix:/" + std::string(200, 'x'), "longer than");
}

TEST_CASE("validate names the key that is wrong") {
    auto error_of = [](const SmtpPolicySettings& s) {
        auto r = validate(s);
        REQUIRE_FALSE(r.ok());
        return r.error().message;
    };
    SmtpPolicySettings s;
    s.server.listen = {"inet:10.0.0.1:1"};
    CHECK_THAT(error_of(s),
               Catch::StartsWith("smtp_policy.listen: 'inet:10.0.0.1:1': only loopback"));
    s = {};
    s.server.listen.clear();
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.listen:"));
    s = {};
    s.guard.message_window = 0s;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.guard.message_window:"));
    s = {};
    s.guard.recipient_window = 48h;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.guard.recipient_window:"));
    s = {};
    s.guard.allow_domains = {"not a domain"};
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.guard.allow_domains:"));
    s = {};
    s.server.request_timeout = 10ms;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.request_timeout:"));
    s = {};
    s.server.idle_timeout = 1s;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.idle_timeout:"));
    s = {};
    s.server.max_connections = 0;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.max_connections:"));
    s = {};
    s.server.parser.max_request_bytes = 100;
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.max_request_bytes:"));
    s = {};
    s.login_reject_text = "5.7.1 bad\r\nINJECTED";
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.block.login_reject_text:"));
    s = {};
    s.client_reject_text = "";
    CHECK_THAT(error_of(s), Catch::StartsWith("smtp_policy.block.client_reject_text:"));
}
