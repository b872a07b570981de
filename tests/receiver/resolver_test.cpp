// Resolution against Prometheus answers recorded as JSON fixtures
// (tests/fixtures/prometheus/*.json: query → API response) and a saved exporter scrape.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "receiver_test_util.hpp"
#include "saslguard/common/files.hpp"
#include "saslguard/receiver/resolver.hpp"

using namespace saslguard;
using namespace saslguard::receiver;

namespace {

std::string url_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size()) {
            out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i] == '+' ? ' ' : s[i];
        }
    }
    return out;
}

// Replays a fixture: each Prometheus query gets its recorded answer; a query
// the fixture does not know fails the test (the resolver asked something new).
struct Replay {
    std::map<std::string, std::string> answers;
    std::string exporter_body;
    bool prometheus_down = false;
    bool exporter_down = false;
    std::vector<std::string> asked;
    std::vector<std::string> unknown;

    explicit Replay(const std::string& fixture = "") {
        if (fixture.empty()) return;
        auto text = files::read_all(std::string(SASLGUARD_FIXTURES_DIR "/prometheus/") + fixture);
        REQUIRE(text.ok());
        auto j = nlohmann::json::parse(*text);
        for (const auto& a : j["answers"])
            answers[a["query"].get<std::string>()] = a["body"].dump();
    }

    HttpFetch fetch() {
        return [this](const HttpRequest& req) {
            HttpResponse res;
            const std::string marker = "/api/v1/query?query=";
            auto pos = req.url.find(marker);
            if (pos == std::string::npos) {  // the exporter
                if (exporter_down) {
                    res.error = "Couldn't connect to server";
                    return res;
                }
                res.status = 200;
                res.body = exporter_body;
                return res;
            }
            if (prometheus_down) {
                res.error = "Couldn't connect to server";
                return res;
            }
            std::string q = url_decode(req.url.substr(pos + marker.size()));
            asked.push_back(q);
            auto it = answers.find(q);
            if (it == answers.end()) {
                unknown.push_back(q);
                res.status = 400;
                res.body =
                    R"({"status":"error","errorType":"bad_data","error":"unknown to the fixture"})";
                return res;
            }
            res.status = 200;
            res.body = it->second;
            return res;
        };
    }
};

Alert queue_alert() {
    Alert a;
    a.status = "firing";
    a.labels = {{"alertname", "PostfixQueueSurge"}, {"instance", "mx1.example.com:9754"}};
    a.fingerprint = "00000000000000f1";
    return a;
}

PrometheusConfig prometheus_config() {
    PrometheusConfig p;
    p.url = "http://127.0.0.1:9090";
    p.exporter_url = "http://127.0.0.1:9754/metrics";
    return p;
}

}  // namespace

TEST_CASE("a user with most of the surge is named with messages, share, IPs and bounce ratio") {
    Replay replay("queue_surge_one_user.json");
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Evidence e = r.resolve(queue_alert());
    CHECK(replay.unknown.empty());
    CHECK(e.source == "prometheus");
    REQUIRE(e.conclusive);
    CHECK(*e.culprit == "spammer@example.com");
    CHECK(e.window == "10m");
    CHECK(e.total_messages == Approx(2440.7));
    CHECK(e.queue_depth == Approx(1850));
    REQUIRE(e.top_users.size() == 3);
    const UserEvidence& u = e.top_users[0];
    CHECK(u.messages == Approx(2400.5));
    CHECK(*u.share == Approx(2400.5 / 2440.7));
    CHECK(*u.distinct_ips == 37);
    CHECK(*u.deliveries == 2000);
    CHECK(*u.bounce_ratio == Approx(0.85));
    REQUIRE(e.top_senders.size() == 2);
    CHECK(e.top_senders[0].sender == "spammer@example.com");
    CHECK(e.top_senders[0].messages == 1800);
    CHECK(e.notes.empty());
}

TEST_CASE(
    "no one is named when the top user's share is below min_share, and the evidence says why") {
    Replay replay("queue_surge_no_dominant_user.json");
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Evidence e = r.resolve(queue_alert());
    CHECK(replay.unknown.empty());
    CHECK_FALSE(e.conclusive);
    CHECK_FALSE(e.culprit);
    CHECK(e.source == "prometheus");
    // No hourly history recorded yet (a fresh install): unknown, not zero, and no note.
    REQUIRE_FALSE(e.top_users.empty());
    CHECK_FALSE(e.top_users[0].usual_per_hour);
    CHECK_FALSE(e.top_users[0].busiest_hour);
    REQUIRE(e.notes.size() == 1);
    CHECK(e.notes[0] ==
          "top user a@example.com has 30 messages (40% of 75): below policy min_share 50% or "
          "min_messages 20, no user named");
}

TEST_CASE("min_messages keeps a small instance's only sender from being named") {
    Replay replay("queue_surge_no_dominant_user.json");
    PolicyConfig policy;
    policy.min_share = 0.3;
    policy.min_messages = 31;
    Resolver r(prometheus_config(), policy, replay.fetch());
    CHECK_FALSE(r.resolve(queue_alert()).culprit);
    policy.min_messages = 30;
    Resolver r2(prometheus_config(), policy, replay.fetch());
    CHECK(r2.resolve(queue_alert()).culprit == "a@example.com");
}

TEST_CASE("an empty window names no one and says there were no authenticated messages") {
    Replay replay("queue_surge_no_users.json");
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Evidence e = r.resolve(queue_alert());
    CHECK_FALSE(e.culprit);
    CHECK(e.queue_depth == 500);
    REQUIRE(e.notes.size() == 1);
    CHECK(e.notes[0] ==
          "no SASL-authenticated messages on mx1.example.com:9754 in the last 10m: no user named");
}

TEST_CASE(
    "the sasl_username label names the user even outside the top list, with its own numbers") {
    Replay replay("user_surge_labelled.json");
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Alert a = queue_alert();
    a.labels["alertname"] = "SaslUserSendingSurge";
    a.labels["sasl_username"] = "carol@example.com";
    Evidence e = r.resolve(a);
    CHECK(replay.unknown.empty());
    CHECK(e.source == "label");
    CHECK(e.culprit == "carol@example.com");
    REQUIRE(e.top_users.size() == 2);
    CHECK(e.top_users[0].username == "carol@example.com");
    CHECK(*e.top_users[0].messages == 100);
    CHECK(*e.top_users[0].share == Approx(0.04));
    CHECK(*e.top_users[0].distinct_ips == 2);
    CHECK(*e.top_users[0].bounce_ratio == 0);
    // Her own history, as the rules record it hourly, and the exporter's new-source count.
    CHECK(*e.top_users[0].usual_per_hour == 3);
    CHECK(*e.top_users[0].busiest_hour == 9);
    CHECK(*e.top_users[0].new_source_messages == 100);
}

TEST_CASE(
    "when Prometheus does not answer, one exporter scrape is used and the evidence says totals") {
    Replay replay;
    replay.prometheus_down = true;
    replay.exporter_body =
        *files::read_all(SASLGUARD_FIXTURES_DIR "/prometheus/exporter_metrics.txt");
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Evidence e = r.resolve(queue_alert());
    CHECK(e.source == "exporter");
    REQUIRE(e.culprit);
    CHECK(*e.culprit == "spammer@example.com");
    CHECK(*e.total_messages == 5401);
    CHECK(*e.queue_depth == 2912);
    CHECK(*e.top_users[0].distinct_ips == 41);
    CHECK(*e.top_users[0].bounce_ratio == Approx(0.8));
    CHECK(e.top_senders[0].sender == "spammer@example.com");
    REQUIRE(e.notes.size() == 1);
    CHECK(e.notes[0].find("unreachable") != std::string::npos);
    CHECK(e.notes[0].find("counters are totals since the exporter started, not the last 10m") !=
          std::string::npos);
}

TEST_CASE(
    "with Prometheus and the exporter both down, nothing is named and both failures are noted") {
    Replay replay;
    replay.prometheus_down = true;
    replay.exporter_down = true;
    Resolver r(prometheus_config(), PolicyConfig{}, replay.fetch());
    Evidence e = r.resolve(queue_alert());
    CHECK(e.source == "none");
    CHECK_FALSE(e.culprit);
    CHECK(e.notes.size() == 3);
}
