#include <catch2/catch.hpp>

#include <httplib.h>

#include <chrono>
#include <thread>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/http_server.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"

using namespace saslguard::receiver;
using namespace saslguard::receiver::testing;

namespace {
struct Server {
    TempDir dir;
    Intake intake{open_session(dir.path("s.db"), store::Durability::Full)};
    ReceiverMetrics metrics;
    HttpServer server;
    int port = 0;
    explicit Server(std::size_t max_body = 4096)
        : server(HttpServerOptions{"127.0.0.1", 0, "tok-123", max_body, 8}, intake, metrics,
                 nullptr, nullptr) {
        port = server.start().value();
    }
    httplib::Client client() { return httplib::Client("127.0.0.1", port); }
};
const httplib::Headers kAuth = {{"Authorization", "Bearer tok-123"}};

// Answers are counted in httplib's logger (the one hook that also sees the 413
// httplib sends by itself), which runs just after the answer is written: a client
// can read the answer before the count moves. Wait up to 2 s for it.
bool metrics_show(ReceiverMetrics& metrics, const std::string& line) {
    for (int i = 0; i < 200; ++i) {
        if (metrics.serialize().find(line) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}
}  // namespace

TEST_CASE("a valid webhook with the right token is stored and answered 200") {
    Server s;
    auto res =
        s.client().Post("/alertmanager", kAuth,
                        payload_json({alert_json("00000000000000a1")}).dump(), "application/json");
    REQUIRE(res);
    CHECK(res->status == 200);
    CHECK(res->body == "{\"duplicates\":0,\"new_alerts\":1,\"status\":\"ok\",\"webhook_id\":1}\n");
    CHECK(metrics_show(s.metrics, "saslguard_receiver_webhooks_total{result=\"accepted\"} 1"));
}

TEST_CASE("no token or a wrong one is 401 with a Bearer challenge") {
    Server s;
    auto body = payload_json({alert_json("00000000000000a1")}).dump();
    auto none = s.client().Post("/alertmanager", body, "application/json");
    CHECK(none->status == 401);
    CHECK(none->get_header_value("WWW-Authenticate") == "Bearer realm=\"saslguard\"");
    auto wrong = s.client().Post("/alertmanager", {{"Authorization", "Bearer tok-124"}}, body,
                                 "application/json");
    CHECK(wrong->status == 401);
    auto basic = s.client().Post("/alertmanager", {{"Authorization", "Basic tok-123"}}, body,
                                 "application/json");
    CHECK(basic->status == 401);
}

TEST_CASE("a body above the limit is 413, an invalid one 400 with the reason, another method 405") {
    Server s(4096);
    auto big = s.client().Post("/alertmanager", kAuth, std::string(5000, ' '), "application/json");
    CHECK(big->status == 413);
    auto bad = s.client().Post("/alertmanager", kAuth, R"({"version":"4"})", "application/json");
    CHECK(bad->status == 400);
    CHECK(bad->body == "{\"error\":\"groupKey: missing\",\"status\":\"error\"}\n");
    auto get = s.client().Get("/alertmanager");
    CHECK(get->status == 405);
    CHECK(get->get_header_value("Allow") == "POST");
    CHECK(metrics_show(s.metrics, "saslguard_receiver_webhooks_total{result=\"too_large\"} 1"));
    CHECK(metrics_show(s.metrics, "saslguard_receiver_webhooks_total{result=\"invalid\"} 1"));
    CHECK(metrics_show(s.metrics,
                       "saslguard_receiver_webhooks_total{result=\"method_not_allowed\"} 1"));
}

TEST_CASE("/metrics and /healthz answer") {
    Server s;
    auto m = s.client().Get("/metrics");
    CHECK(m->status == 200);
    CHECK(m->body.find("saslguard_receiver_queue_backlog 0") != std::string::npos);
    CHECK(s.client().Get("/healthz")->body == "ok\n");
}

TEST_CASE("bearer tokens compare whole, case-insensitive scheme only") {
    CHECK(bearer_matches("Bearer abc", "abc"));
    CHECK(bearer_matches("bearer abc", "abc"));
    CHECK_FALSE(bearer_matches("Bearer abcd", "abc"));
    CHECK_FALSE(bearer_matches("Bearer ab", "abc"));
    CHECK_FALSE(bearer_matches("Bearer ABC", "abc"));
    CHECK_FALSE(bearer_matches("", "abc"));
    CHECK_FALSE(bearer_matches("Bearer ", ""));
}
