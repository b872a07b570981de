#include <catch2/catch.hpp>

#include <httplib.h>

#include <thread>

#include "saslguard/common/http_client.hpp"

using namespace saslguard;

namespace {
HttpRequest req(std::string method, std::string url) {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    return r;
}
}  // namespace

// A real HTTP server on 127.0.0.1 (cpp-httplib) answers the client.
TEST_CASE("the HTTP client reports status, body, Retry-After and transport errors") {
    httplib::Server srv;
    srv.Get("/ok", [](const httplib::Request& req, httplib::Response& res) {
        res.set_content("hello " + req.get_header_value("Authorization"), "text/plain");
    });
    srv.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
        res.set_content(req.body, "application/json");
    });
    srv.Get("/busy", [](const httplib::Request&, httplib::Response& res) {
        res.status = 429;
        res.set_header("Retry-After", "7");
    });
    srv.Get("/big", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(100000, 'x'), "text/plain");
    });
    int port = srv.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    std::thread t([&] { srv.listen_after_bind(); });
    while (!srv.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::string base = "http://127.0.0.1:" + std::to_string(port);

    HttpClient c;
    HttpRequest get = req("GET", base + "/ok");
    get.bearer_token = "tok";
    auto r = c.perform(get);
    CHECK(r.status == 200);
    CHECK(r.body == "hello Bearer tok");

    HttpRequest post = req("POST", base + "/echo");
    post.body = R"({"a":1})";
    post.headers = {"Content-Type: application/json"};
    r = c.perform(post);
    CHECK(r.ok());
    CHECK(r.body == R"({"a":1})");

    r = c.perform(req("GET", base + "/busy"));
    CHECK(r.status == 429);
    CHECK(r.retryable());
    CHECK(r.retry_after_s == std::optional<long>(7));

    HttpRequest big = req("GET", base + "/big");
    big.max_response = 1000;
    r = c.perform(big);
    CHECK(r.status == 0);
    CHECK(r.error.find("larger than") != std::string::npos);

    srv.stop();
    t.join();
    r = c.perform(req("GET", base + "/ok"));
    CHECK(r.status == 0);
    CHECK(r.retryable());
    CHECK_FALSE(r.error.empty());
}

TEST_CASE("url_encode escapes everything but unreserved characters") {
    CHECK(HttpClient::url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
}
