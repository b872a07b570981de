// The Alertmanager client (common/alertmanager.hpp): the silence it posts.
// The live path (a real Alertmanager) is exercised by the end-to-end scripts.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "saslguard/common/alertmanager.hpp"

using namespace saslguard;

TEST_CASE("a silence matches the incident's labels by equality for the chosen time") {
    alertmanager::Silence s;
    s.matchers = {{"alertname", "SaslUserSendingSurge"}, {"sasl_username", "alice@example.com"}};
    s.starts_at_ms = 1795424400000;
    s.ends_at_ms = s.starts_at_ms + 4 * 3600 * 1000;
    s.created_by = "@bob (2222)";
    s.comment = "saslguard incident #12";
    HttpRequest seen;
    alertmanager::Client c("http://127.0.0.1:9093/", [&](const HttpRequest& r) {
        seen = r;
        HttpResponse res;
        res.status = 200;
        res.body = R"({"silenceID":"5d2e3c84"})";
        return res;
    });
    auto id = c.create_silence(s);
    REQUIRE(id.ok());
    CHECK(*id == "5d2e3c84");
    CHECK(seen.method == "POST");
    CHECK(seen.url == "http://127.0.0.1:9093/api/v2/silences");
    auto body = nlohmann::json::parse(seen.body);
    CHECK(body["matchers"][1] == nlohmann::json{{"name", "sasl_username"},
                                                {"value", "alice@example.com"},
                                                {"isRegex", false},
                                                {"isEqual", true}});
    CHECK(body["startsAt"] == "2026-11-23T09:00:00Z");
    CHECK(body["endsAt"] == "2026-11-23T13:00:00Z");
    CHECK(body["createdBy"] == "@bob (2222)");
}

TEST_CASE("no URL, no matchers or an answer without an id are errors") {
    alertmanager::Silence s;
    s.matchers = {{"alertname", "X"}};
    auto answer = [](long status, std::string body) {
        return [=](const HttpRequest&) {
            HttpResponse r;
            r.status = status;
            r.body = body;
            return r;
        };
    };
    CHECK(alertmanager::Client("", answer(200, "")).create_silence(s).error().message ==
          "no alertmanager_url configured");
    CHECK(alertmanager::Client("http://a", answer(200, ""))
              .create_silence(alertmanager::Silence{})
              .error()
              .message == "no labels to match");
    CHECK(alertmanager::Client("http://a", answer(400, "bad matcher"))
              .create_silence(s)
              .error()
              .message == "Alertmanager HTTP 400: bad matcher");
    CHECK(alertmanager::Client("http://a", answer(200, "{}")).create_silence(s).error().message ==
          "Alertmanager answered without a silenceID");
}
