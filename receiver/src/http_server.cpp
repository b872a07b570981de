#include "saslguard/receiver/http_server.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/connection_gate.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/webhook.hpp"

namespace saslguard::receiver {
namespace {

using SteadyClock = std::chrono::steady_clock;

// The gate's id of the connection this listener thread serves (the handlers
// run on it): lets the pre-routing handler trust it.
thread_local std::uint64_t t_connection = 0;

std::string numeric_host(const sockaddr_storage& addr, socklen_t len, int* port) {
    char host[NI_MAXHOST] = {0};
    char serv[NI_MAXSERV] = {0};
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host, sizeof host, serv,
                      sizeof serv, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return "";
    if (port) *port = std::atoi(serv);
    return host;
}

std::string peer_of(int fd, int* port = nullptr) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "";
    return numeric_host(addr, len, port);
}

// Waits for `events` on `fd` until `until`, in slices so that a stopping server
// is noticed; false on timeout, stop, or error.
bool wait_for(int fd, short events, SteadyClock::time_point until,
              const std::function<bool()>& stopping) {
    for (;;) {
        if (stopping()) return false;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(until - SteadyClock::now());
        if (left.count() <= 0) return false;
        pollfd p{fd, events, 0};
        const int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return false;
        if (r > 0) return true;  // ready, or hung up / cut: the read or write tells
    }
}

// httplib's Stream over one connection: every read and write waits at most
// io_timeout, and all of those of one request end at its deadline (begin()).
// Bytes read past the end of a request stay buffered for the next one.
class DeadlineStream final : public httplib::Stream {
public:
    DeadlineStream(int fd, ConnectionGate& gate, std::uint64_t id,
                   std::chrono::milliseconds io_timeout, std::function<bool()> stopping)
        : m_fd(fd),
          m_gate(gate),
          m_id(id),
          m_io_timeout(io_timeout),
          m_stopping(std::move(stopping)) {}

    void begin(SteadyClock::time_point deadline) {
        m_deadline = deadline;
        m_timed_out = false;
    }
    bool buffered() const { return m_pos < m_len; }
    bool timed_out() const { return m_timed_out; }

    bool is_readable() const override {
        return m_pos < m_len || const_cast<DeadlineStream*>(this)->wait(POLLIN);
    }
    bool is_writable() const override { return const_cast<DeadlineStream*>(this)->wait(POLLOUT); }
    ssize_t read(char* ptr, size_t size) override {
        if (m_pos == m_len) {
            m_gate.waiting(m_id, true);  // blocked on the client: may be cut to make room
            const bool ready = wait(POLLIN);
            m_gate.waiting(m_id, false);
            if (!ready) return -1;
            ssize_t n;
            do {
                n = ::recv(m_fd, m_buf, sizeof m_buf, 0);
            } while (n < 0 && errno == EINTR);
            if (n <= 0) return n;
            m_pos = 0;
            m_len = static_cast<std::size_t>(n);
        }
        const std::size_t n = std::min(size, m_len - m_pos);
        std::memcpy(ptr, m_buf + m_pos, n);
        m_pos += n;
        return static_cast<ssize_t>(n);
    }
    ssize_t write(const char* ptr, size_t size) override {
        if (!wait(POLLOUT)) return -1;
        ssize_t n;
        do {
            n = ::send(m_fd, ptr, size, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        return n;
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = peer_of(m_fd, &port);
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        if (::getsockname(m_fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
            ip = numeric_host(addr, len, &port);
    }
    socket_t socket() const override { return m_fd; }

private:
    bool wait(short events) {
        const auto until = std::min(m_deadline, SteadyClock::now() + m_io_timeout);
        if (wait_for(m_fd, events, until, m_stopping)) return true;
        if (!m_stopping()) m_timed_out = true;  // the read or write limit, or the request's
        return false;
    }

    int m_fd;
    ConnectionGate& m_gate;
    std::uint64_t m_id;
    SteadyClock::time_point m_deadline{};
    std::chrono::milliseconds m_io_timeout;
    std::function<bool()> m_stopping;
    bool m_timed_out = false;
    char m_buf[4096];
    std::size_t m_pos = 0;
    std::size_t m_len = 0;
};

// httplib's server with its connection handling replaced (the one virtual it
// offers for that): the ConnectionGate admits each connection and each request
// is read through a DeadlineStream; routing, parsing and answers stay httplib's
// (process_request).
class GuardedServer final : public httplib::Server {
public:
    explicit GuardedServer(const HttpServerOptions& o)
        : m_options(o),
          m_gate(ConnectionLimits{
              static_cast<std::size_t>(std::max(o.threads, 1)),
              std::max<std::size_t>(
                  1, std::min<std::size_t>(o.max_per_client,
                                           static_cast<std::size_t>(std::max(o.threads, 1)))),
              o.evict_after}) {}

    ConnectionGate& gate() { return m_gate; }
    // The request being handled on this thread proved itself: never cut it.
    void trust_current() {
        if (t_connection != 0) m_gate.trust(t_connection);
    }
    // httplib listens with a backlog of 5 (fixed when it was built): a burst of
    // connections then waits for SYN retransmits (1 s, 3 s, ...). Listening again
    // on the bound socket sets a longer queue.
    void widen_backlog() {
        if (svr_sock_ != INVALID_SOCKET) ::listen(svr_sock_, SOMAXCONN);
    }
    std::uint64_t timed_out() const { return m_timed_out; }

private:
    bool stopping() const { return svr_sock_ == INVALID_SOCKET; }

    bool process_and_close_socket(socket_t sock) override {
        const std::string client = peer_of(sock);
        const std::uint64_t id = m_gate.admit(client, sock, SteadyClock::now());
        bool ret = false;
        if (id == 0) {
            refuse(sock, client);
        } else {
            t_connection = id;
            ret = serve(sock, id);
            t_connection = 0;
            m_gate.release(id);
        }
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
        return ret;
    }

    bool serve(int sock, std::uint64_t id) {
        auto stop = [this] { return stopping(); };
        bool ret = false;
        DeadlineStream strm(sock, m_gate, id, m_options.read_timeout, stop);
        for (int left = 100; left > 0; --left) {  // requests on one kept-alive connection
            m_gate.idle(id, SteadyClock::now());
            if (!strm.buffered() &&
                !wait_for(sock, POLLIN, SteadyClock::now() + m_options.keep_alive_timeout, stop))
                break;
            const auto start = SteadyClock::now();
            m_gate.request_started(id, start);
            strm.begin(start + m_options.request_timeout);
            bool closed = false;
            ret = process_request(strm, left == 1, closed, nullptr);
            if (strm.timed_out()) {
                ++m_timed_out;
                note(
                    "webhook listener: a request was too slow (read, write or whole-request "
                    "limit), closed",
                    peer_of(sock));
                break;  // httplib may have "answered" 400 into the void: end it here
            }
            if (!ret || closed) break;
        }
        return ret;
    }

    void refuse(int sock, const std::string& client) {
        static constexpr char kBusy[] =
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n";
        (void)::send(sock, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        note("webhook listener: connection refused, too many open", client);
    }

    // Logged at most once every 10 s: an attack must not flood the log.
    void note(const char* what, const std::string& client) {
        const auto now = SteadyClock::now().time_since_epoch().count();
        auto last = m_last_note.load();
        const auto every =
            std::chrono::duration_cast<SteadyClock::duration>(std::chrono::seconds(10)).count();
        if (last != 0 && now - last < every) return;
        if (!m_last_note.compare_exchange_strong(last, now)) return;
        log::warn(what, {{"client", client},
                         {"refused_total", std::to_string(m_gate.refused())},
                         {"cut_total", std::to_string(m_gate.evicted())},
                         {"timed_out_total", std::to_string(m_timed_out.load())}});
    }

    HttpServerOptions m_options;
    ConnectionGate m_gate;
    std::atomic<std::uint64_t> m_timed_out{0};
    std::atomic<SteadyClock::rep> m_last_note{0};
};

}  // namespace

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
    GuardedServer server;
    std::thread thread;

    Impl(HttpServerOptions o, Intake& i, ReceiverMetrics& m, std::function<void()> b,
         std::function<bool()> h)
        : options(std::move(o)),
          intake(i),
          metrics(m),
          before_metrics(std::move(b)),
          healthy(std::move(h)),
          server(options) {}

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
        auto stored = intake.accept_webhook(*payload, req.body);
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

    void register_metrics() {
        auto& gate = server.gate();
        metrics.add_external(ExternalMetric{
            "saslguard_receiver_http_connections_cut_total",
            "Listener connections refused (too many open), cut to make room after waiting on "
            "their client, or closed past the request time limit.",
            true,
            {{{{"reason", "refused"}}, [&gate] { return static_cast<double>(gate.refused()); }},
             {{{"reason", "evicted"}}, [&gate] { return static_cast<double>(gate.evicted()); }},
             {{{"reason", "timeout"}},
              [this] { return static_cast<double>(server.timed_out()); }}}});
    }

    void routes() {
        register_metrics();
        // httplib answers 413 itself, before reading a body above the limit
        // (Content-Length or chunked); the handler's check is a second line.
        server.set_payload_max_length(options.max_body_bytes);
        server.set_tcp_nodelay(true);  // else small answers wait for delayed ACKs (~40 ms)
        // httplib puts these on each accepted socket (SO_RCVTIMEO/SO_SNDTIMEO): no
        // single send or receive blocks longer, whatever the stream's polls.
        server.set_read_timeout(options.read_timeout);
        server.set_write_timeout(options.read_timeout);
        // Each admitted connection holds a thread; the spare ones answer the
        // connections the gate refuses at once, whatever the others do.
        const int threads = std::max(options.threads, 1) + 8;
        server.new_task_queue = [threads] {
            return new httplib::ThreadPool(static_cast<std::size_t>(threads));
        };

        // Called once the headers are read, before the body: a request with the
        // webhook's token is not cut to make room for others while its body comes.
        server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
            if (req.path == "/alertmanager" &&
                bearer_matches(req.get_header_value("Authorization"), options.bearer_token))
                server.trust_current();
            return httplib::Server::HandlerResponse::Unhandled;
        });
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
        // A connection cut or timed out before its headers were read (no remote
        // address yet) is no webhook: counted in http_connections_cut_total only.
        server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
            if (req.path != "/alertmanager" || req.remote_addr.empty()) return;
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
    m_impl->server.widen_backlog();
    m_impl->thread = std::thread([this] { m_impl->server.listen_after_bind(); });
    return port;
}

void HttpServer::stop() {
    if (!m_impl) return;
    m_impl->server.stop();
    if (m_impl->thread.joinable()) m_impl->thread.join();
}

}  // namespace saslguard::receiver
