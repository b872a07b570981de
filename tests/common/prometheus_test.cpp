// The Prometheus client (common/prometheus.hpp): the text format, PromQL quoting,
// and instant queries against a real Prometheus API answer shape.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "saslguard/common/files.hpp"
#include "saslguard/common/prometheus.hpp"

using namespace saslguard;

TEST_CASE("label values are quoted so a hostile instance label cannot change the query") {
    CHECK(prom::quote("mx1\"} or vector(1) #") == "\"mx1\\\"} or vector(1) #\"");
    CHECK(prom::quote("a\\b\nc") == "\"a\\\\b\\nc\"");
}

TEST_CASE("the text-format parser unescapes label values and counts lines it cannot read") {
    std::size_t bad = 0;
    auto samples = prom::parse_text(
        *files::read_all(SASLGUARD_FIXTURES_DIR "/prometheus/exporter_metrics.txt"), &bad);
    CHECK(bad == 1);
    auto weird = std::find_if(samples.begin(), samples.end(), [](const prom::Sample& s) {
        return s.value == 1 && s.name == "postfix_sasl_user_messages_total";
    });
    REQUIRE(weird != samples.end());
    CHECK(weird->labels.at("sasl_username") == "weird\"name\\x");
    CHECK(samples.back().name == "postfix_up");
    CHECK(samples.back().labels.empty());
}

namespace {
// Answers every query with `body` (the API v1 shape Prometheus 2.42 returns) and records it.
struct Answer {
    long status = 200;
    std::string body;
    std::string error;
    std::vector<HttpRequest> asked;
    prom::Fetch fetch() {
        return [this](const HttpRequest& r) {
            asked.push_back(r);
            HttpResponse res;
            res.status = status;
            res.body = body;
            res.error = error;
            return res;
        };
    }
};
}  // namespace

TEST_CASE("an instant query returns its series and leaves NaN out (no data is not zero)") {
    Answer a;
    a.body = R"({"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"sasl_username":"alice"},"value":[1795424400,"1234"]},
        {"metric":{"sasl_username":"bob"},"value":[1795424400,"NaN"]},
        {"metric":{},"value":[1795424400,"+Inf"]}]}})";
    prom::Client c({"http://127.0.0.1:9090/", std::chrono::seconds(2), "tok"}, a.fetch());
    auto r = c.query("sum by (sasl_username) (x)");
    REQUIRE(r.ok());
    REQUIRE(r->size() == 2);
    CHECK((*r)[0].labels.at("sasl_username") == "alice");
    CHECK((*r)[0].value == 1234);
    CHECK(std::isinf((*r)[1].value));
    REQUIRE(a.asked.size() == 1);
    CHECK(a.asked[0].url ==
          "http://127.0.0.1:9090/api/v1/query?query=sum%20by%20%28sasl_username%29%20%28x%29");
    CHECK(a.asked[0].bearer_token == "tok");
    CHECK(a.asked[0].timeout == std::chrono::seconds(2));
    CHECK(c.scalar("x").value() == 1234);
}

TEST_CASE("Prometheus down, an HTTP error and a strange answer are errors that say which") {
    Answer a;
    prom::Client c({"http://127.0.0.1:1", std::chrono::seconds(1), ""}, a.fetch());
    a.status = 0;
    a.error = "Couldn't connect to server";
    CHECK(c.query("up").error().message ==
          "Prometheus http://127.0.0.1:1 unreachable: Couldn't connect to server");
    a.status = 503;
    a.body = "overloaded";
    CHECK(c.query("up").error().message == "Prometheus answered HTTP 503: overloaded");
    a.status = 200;
    a.body = R"({"status":"success","data":{"resultType":"matrix","result":[]}})";
    CHECK(c.query("up").error().message == "Prometheus answer is not an instant vector");
    a.body = "<html>";
    CHECK(c.query("up").error().message == "Prometheus answer not understood");
    a.body = R"({"status":"success","data":{"resultType":"vector","result":[]}})";
    CHECK_FALSE(c.scalar("up").value().has_value());
}
