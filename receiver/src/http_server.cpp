#include "saslguard/receiver/http_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <thread>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/webhook.hpp"

namespace saslguard::receiver {

bool bearer_matches(std::string_view authorization, std::string_view token) {
    constexpr std::string_view kScheme = "bearer ";
    if (token.empty() || authorization.size() < kScheme.size()) return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
    std::string_view given = authorization.substr(kScheme.size());
    // Every byte of the expected token is compared whatever the given length,
    // and the difference accumulates without early exit.
    unsigned diff = given.size() == token.size() ? 0u : 1u;
    for (std::size_t i = 0; i < token.size(); ++i) {
        unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
        diff |= static_cast<unsigned>(g ^ static_cast<unsigned char>(token[i]));
    }
    return diff == 0;
}

struct HttpServer::Impl {
    HttpServerOptions options;
    Intake& intake;
    ReceiverMetrics& metrics;
    std::function<void()> before_metrics;
    std::function<bool()> healthy;
    httplib::Server server;
    std::thread thread;

    Impl(HttpServerOptions o, Intake& i, ReceiverMetrics& m, std::function<void()> b,
         std::function<bool()> h)
        : options(std::move(o)),
          intake(i),
          metrics(m),
          before_metrics(std::move(b)),
          healthy(std::move(h)) {}

    static void reply(httplib::Response& res, int status, const std::string& error) {
        res.status = status;
        nlohmann::json body = {{"status", "error"}, {"error", error}};
        res.set_content(body.dump() + "\n", "application/json");
    }

    void handle_webhook(const httplib::Request& req, httplib::Response& res) {
        if (!bearer_matches(req.get_header_value("Authorization"), options.bearer_token)) {
            res.set_header("WWW-Authenticate", "Bearer realm=\"saslguard\"");
            return reply(res, 401, "missing or wrong bearer token");
        }
        if (req.body.size() > options.max_body_bytes)
            return reply(res, 413,
                         "body above " + std::to_string(options.max_body_bytes) + " bytes");
        auto payload = parse_webhook(req.body);
        if (!payload) return reply(res, 400, payload.error().message);
        auto stored = intake.accept(*payload, req.body);
        if (!stored) return reply(res, 500, stored.error().message);
        metrics.alerts(stored->new_firing, stored->new_resolved, stored->duplicates);
        if (payload->truncated_alerts > 0)
            log::warn("Alertmanager truncated a webhook",
                      {{"group_key", payload->group_key},
                       {"truncated_alerts", std::to_string(payload->truncated_alerts)}});
        nlohmann::json body = {{"status", "ok"},
                               {"webhook_id", stored->webhook_id},
                               {"new_alerts", stored->new_firing + stored->new_resolved},
                               {"duplicates", stored->duplicates}};
        res.status = 200;
        res.set_content(body.dump() + "\n", "application/json");
    }

    static std::string_view result_of(int status) {
        switch (status) {
            case 200:
                return "accepted";
            case 400:
                return "invalid";
            case 401:
                return "unauthorized";
            case 405:
                return "method_not_allowed";
            case 413:
                return "too_large";
            default:
                return "error";
        }
    }

    void routes() {
        // httplib answers 413 itself, before reading a body above the limit
        // (Content-Length or chunked); the handler's check is a second line.
        server.set_payload_max_length(options.max_body_bytes);
        server.set_tcp_nodelay(true);  // else small answers wait for delayed ACKs (~40 ms)
        server.set_read_timeout(10, 0);
        server.set_write_timeout(10, 0);
        const int threads = std::max(options.threads, 4);
        server.new_task_queue = [threads] {
            return new httplib::ThreadPool(static_cast<std::size_t>(threads));
        };

        server.Post("/alertmanager", [this](const httplib::Request& req, httplib::Response& res) {
            const auto start = std::chrono::steady_clock::now();
            handle_webhook(req, res);
            metrics.webhook_duration(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        });
        server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            if (before_metrics) before_metrics();
            res.set_content(metrics.serialize(), "text/plain; version=0.0.4; charset=utf-8");
        });
        server.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
            bool ok = !healthy || healthy();
            res.status = ok ? 200 : 503;
            res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
        });
        auto not_allowed = [](const char* allow) {
            return [allow](const httplib::Request&, httplib::Response& res) {
                res.set_header("Allow", allow);
                reply(res, 405, std::string("method not allowed; use ") + allow);
            };
        };
        server.Get("/alertmanager", not_allowed("POST"));
        server.Put("/alertmanager", not_allowed("POST"));
        server.Patch("/alertmanager", not_allowed("POST"));
        server.Delete("/alertmanager", not_allowed("POST"));
        server.Options("/alertmanager", not_allowed("POST"));
        for (const char* path : {"/metrics", "/healthz"}) {
            server.Post(path, not_allowed("GET"));
            server.Put(path, not_allowed("GET"));
            server.Delete(path, not_allowed("GET"));
        }
        // Count every answer on the webhook path, including the 413 httplib sends itself.
        server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            if (req.path != "/alertmanager") return;
            metrics.webhook(result_of(res.status));
            if (res.status != 200)
                log::info("webhook refused", {{"status", std::to_string(res.status)},
                                              {"remote", req.remote_addr},
                                              {"reason", res.body.substr(0, 300)}});
        });
    }
};

HttpServer::HttpServer(HttpServerOptions options, Intake& intake, ReceiverMetrics& metrics,
                       std::function<void()> before_metrics, std::function<bool()> healthy)
    : m_impl(std::make_unique<Impl>(std::move(options), intake, metrics, std::move(before_metrics),
                                    std::move(healthy))) {}

HttpServer::~HttpServer() {
    stop();
}

Result<int> HttpServer::start() {
    m_impl->routes();
    int port = m_impl->options.port;
    if (port == 0) {
        port = m_impl->server.bind_to_any_port(m_impl->options.host);
        if (port <= 0) return make_error("cannot bind " + m_impl->options.host + ":0");
    } else if (!m_impl->server.bind_to_port(m_impl->options.host, port)) {
        return make_error("cannot bind " + m_impl->options.host + ":" + std::to_string(port));
    }
    m_impl->thread = std::thread([this] { m_impl->server.listen_after_bind(); });
    return port;
}

void HttpServer::stop() {
    if (!m_impl) return;
    m_impl->server.stop();
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

}  // namespace saslguard::receiver
