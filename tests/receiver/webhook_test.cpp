#include <catch2/catch.hpp>

#include "receiver_test_util.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/receiver/webhook.hpp"

using namespace saslguard::receiver;
using namespace saslguard::receiver::testing;
using nlohmann::json;

TEST_CASE("a payload Alertmanager really sent parses field by field") {
    auto body =
        saslguard::files::read_all(SASLGUARD_FIXTURES_DIR "/webhooks/alertmanager_firing.json");
    REQUIRE(body.ok());
    auto p = parse_webhook(*body);
    INFO((p.ok() ? "" : p.error().message));
    REQUIRE(p.ok());
    CHECK(p->version == "4");
    CHECK(p->status == "firing");
    CHECK(p->receiver == "saslguard");
    CHECK(p->truncated_alerts == 0);
    CHECK(p->group_labels.at("alertname") == "SaslUserSendingSurge");
    REQUIRE(p->alerts.size() == 1);
    const Alert& a = p->alerts[0];
    CHECK(a.status == "firing");
    CHECK(a.label("sasl_username") == "alice@saslguard.test");
    CHECK(a.fingerprint.size() == 16);
    CHECK(is_rfc3339(a.starts_at));
    CHECK(a.ends_at == "0001-01-01T00:00:00Z");
}

TEST_CASE("a valid payload keeps every alert with labels, annotations and times") {
    auto body =
        payload_json({alert_json("00000000000000a1"), alert_json("00000000000000a2", "resolved")})
            .dump();
    auto p = parse_webhook(body);
    REQUIRE(p.ok());
    REQUIRE(p->alerts.size() == 2);
    CHECK(p->alerts[0].label("alertname") == "SaslUserSendingSurge");
    CHECK(p->alerts[0].annotation("summary") == "alice is sending far above her baseline");
    CHECK(p->alerts[0].starts_at == "2026-11-23T09:00:00.123456789Z");
    CHECK(p->alerts[1].status == "resolved");
    CHECK(p->external_url == "http://127.0.0.1:9093");
}

TEST_CASE("a truncated payload is accepted and says how many alerts are missing") {
    auto j = payload_json({alert_json("00000000000000a1")});
    j["truncatedAlerts"] = 7;
    auto p = parse_webhook(j.dump());
    REQUIRE(p.ok());
    CHECK(p->truncated_alerts == 7);
}

TEST_CASE("wrong types and missing fields are refused with the field's path") {
    struct Case {
        std::function<void(json&)> mutate;
        std::string expected;
    };
    std::vector<Case> cases = {
        {[](json& j) { j["version"] = 4; }, "version: expected a string, got number"},
        {[](json& j) { j["version"] = "3"; },
         "version: unsupported webhook version '3' (want \"4\")"},
        {[](json& j) { j.erase("groupKey"); }, "groupKey: missing"},
        {[](json& j) { j["truncatedAlerts"] = -1; },
         "truncatedAlerts: expected a non-negative integer, got number"},
        {[](json& j) { j["truncatedAlerts"] = "0"; },
         "truncatedAlerts: expected a non-negative integer, got string"},
        {[](json& j) { j["status"] = "pending"; },
         "status: expected firing or resolved, got 'pending'"},
        {[](json& j) { j["commonLabels"] = json::array(); },
         "commonLabels: expected an object, got array"},
        {[](json& j) { j["groupLabels"]["x"] = 1; },
         "groupLabels.x: expected a string, got number"},
        {[](json& j) { j["alerts"] = json::object(); }, "alerts: expected an array, got object"},
        {[](json& j) { j["alerts"] = json::array(); }, "alerts: must not be empty"},
        {[](json& j) { j["alerts"][0]["labels"]["instance"] = nullptr; },
         "alerts[0].labels.instance: expected a string, got null"},
        {[](json& j) { j["alerts"][0].erase("fingerprint"); }, "alerts[0].fingerprint: missing"},
        {[](json& j) { j["alerts"][0]["fingerprint"] = "../../etc"; },
         "alerts[0].fingerprint: expected 1..64 hex digits, got '../../etc'"},
        {[](json& j) { j["alerts"][0]["startsAt"] = "yesterday"; },
         "alerts[0].startsAt: expected an RFC 3339 time, got 'yesterday'"},
        {[](json& j) { j["alerts"][0]["endsAt"] = "2026-11-23 09:00:00"; },
         "alerts[0].endsAt: expected an RFC 3339 time, got '2026-11-23 09:00:00'"},
        {[](json& j) { j["alerts"][0]["status"] = true; },
         "alerts[0].status: expected a string, got boolean"},
        {[](json& j) { j["alerts"][1] = "x"; }, "alerts[1]: expected an object, got string"},
    };
    for (const auto& c : cases) {
        auto j = payload_json({alert_json("00000000000000a1")});
        c.mutate(j);
        auto p = parse_webhook(j.dump());
        INFO(j.dump());
        REQUIRE_FALSE(p.ok());
        CHECK(p.error().message == c.expected);
    }
}

TEST_CASE("text that is not a JSON object is refused with where it broke") {
    CHECK(parse_webhook("{\"version\": \"4\",").error().message == "invalid JSON at byte 17");
    CHECK(parse_webhook("[]").error().message == "expected a JSON object, got array");
    CHECK(parse_webhook("").error().message == "invalid JSON at byte 1");
}

TEST_CASE("a huge payload with thousands of alerts parses within the body limit") {
    std::vector<json> alerts;
    for (int i = 0; i < 2000; ++i) {
        char fp[17];
        std::snprintf(fp, sizeof fp, "%016x", i);
        alerts.push_back(alert_json(fp));
    }
    auto body = payload_json(alerts).dump();
    CHECK(body.size() > 500000);
    CHECK(body.size() < 1048576);
    auto p = parse_webhook(body);
    REQUIRE(p.ok());
    CHECK(p->alerts.size() == 2000);
}

TEST_CASE("deeply nested JSON is refused without exhausting the stack") {
    std::string body =
        "{\"version\":\"4\",\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
    auto p = parse_webhook(body);
    REQUIRE_FALSE(p.ok());
}

TEST_CASE("RFC 3339 times: Alertmanager's forms pass, others fail") {
    CHECK(is_rfc3339("2026-11-23T09:00:00Z"));
    CHECK(is_rfc3339("2026-11-23T09:00:00.123456789Z"));
    CHECK(is_rfc3339("2026-11-23T09:00:00+01:00"));
    CHECK(is_rfc3339("0001-01-01T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("2026-11-23T09:00:00"));
    CHECK_FALSE(is_rfc3339("2026-11-23T09:00:00.Z"));
    CHECK_FALSE(is_rfc3339("2026-11-23T09:00:00Zjunk"));
}

TEST_CASE("a number too large for a double is refused as invalid JSON, not thrown") {
    // Found by tests/fuzz/webhook_fuzz.cpp: the second parse (the one that finds
    // the error position) threw out_of_range.406, not a parse_error, so the
    // exception left parse_webhook and the HTTP server answered 500 (retried).
    const std::string body =
        R"({"version":"4","truncatedAlerts":)" + std::string(80, '1') + "e236}";
    std::string error = "parsed";
    REQUIRE_NOTHROW([&] {
        auto p = parse_webhook(body);
        if (!p) error = p.error().message;
    }());
    CHECK(error == "invalid JSON: a number out of range");
}
