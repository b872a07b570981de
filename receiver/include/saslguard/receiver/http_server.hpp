#pragma once
// The receiver's HTTP listener (cpp-httplib, kept out of this header):
//   POST /alertmanager  Alertmanager webhook v4 → Intake (durable) → 200
//   GET  /metrics       the receiver's own metrics, text format
//   GET  /healthz       200 "ok" while the intake and worker run, else 503
// Answers on /alertmanager: 401 (missing or wrong bearer token, checked in
// constant time, before the body is parsed), 413 (body above max_body_bytes),
// 400 with the reason (not JSON, not webhook v4), 405 (another method),
// 500 (not stored: Alertmanager retries), 200 {"status":"ok",...} once stored.
// Never runs mitigation: that happens on the worker thread, later.
// Slow clients (docs/SECURITY.md): every request must arrive whole within
// request_timeout (headers and body), each read within read_timeout; connections
// are admitted by a ConnectionGate (at most `threads` at once, max_per_client
// from one address, the longest-waiting one cut to make room); a connection
// refused gets 503 with Retry-After (Alertmanager retries).
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver {

class Intake;
class ReceiverMetrics;

struct HttpServerOptions {
    std::string host = "127.0.0.1";
    int port = 9755;  // 0: any free port (tests)
    std::string bearer_token;
    std::size_t max_body_bytes = 1048576;
    int threads = 64;  // connections served at once (the gate's max_connections)
    std::size_t max_per_client = 16;
    std::chrono::milliseconds request_timeout{10000};  // a whole request, first byte to last
    std::chrono::milliseconds read_timeout{5000};      // one read (or write) of it
    std::chrono::milliseconds keep_alive_timeout{5000};
    std::chrono::milliseconds evict_after{0};  // waiting on its client this long: may make room
};

// Compares `Authorization` header value with "Bearer <token>" without leaking,
// through timing, how much of the token matched. The scheme is case-insensitive.
bool bearer_matches(std::string_view authorization, std::string_view token);

class HttpServer {
public:
    // `before_metrics` refreshes gauges read from the store; `healthy` feeds /healthz.
    HttpServer(HttpServerOptions options, Intake& intake, ReceiverMetrics& metrics,
               std::function<void()> before_metrics, std::function<bool()> healthy);
    ~HttpServer();

    // Binds and serves on a background thread; returns the bound port.
    Result<int> start();
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
