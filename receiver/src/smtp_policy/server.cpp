#include "saslguard/receiver/smtp_policy/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "saslguard/common/log.hpp"

namespace saslguard::receiver::smtp_policy {
namespace {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

constexpr std::uint64_t kWakeTag = 0;
constexpr std::size_t kReadChunk = 16384;
constexpr int kAcceptBatch = 64;  // accepts per wake-up, so connections are served in between
constexpr int kReadBatch = 4;     // reads per readable event, for fairness

std::string errno_text(int e) {
    return std::strerror(e);
}

// At most one line a second per kind of trouble; the next line says how many
// were left out, and housekeeping reports a remainder nobody else reported.
class LogLimiter {
public:
    explicit LogLimiter(const char* what) : m_what(what) {}
    bool allow(TimePoint now, std::uint64_t& suppressed) {
        if (m_last != TimePoint{} && now - m_last < std::chrono::seconds(1)) {
            ++m_suppressed;
            return false;
        }
        m_last = now;
        suppressed = m_suppressed;
        m_suppressed = 0;
        return true;
    }
    void report_remainder(TimePoint now) {
        if (m_suppressed == 0 || now - m_last < std::chrono::seconds(1)) return;
        log::warn("policy: more of the same, not logged one by one",
                  {{"what", m_what}, {"count", std::to_string(m_suppressed)}});
        m_suppressed = 0;
        m_last = now;
    }

private:
    const char* m_what;
    TimePoint m_last{};
    std::uint64_t m_suppressed = 0;
};

struct Listener {
    ListenAddress address;
    int fd = -1;
    ino_t inode = 0;  // unix: the socket file we created, removed at stop only if still ours
};

struct Connection {
    std::uint64_t id = 0;
    int fd = -1;
    std::string peer;
    RequestParser parser;
    std::string out;
    std::size_t out_off = 0;
    TimePoint last_activity;
    TimePoint request_started;
    bool in_request = false;
    bool reading = true;   // EPOLLIN registered
    bool writing = false;  // EPOLLOUT registered
    explicit Connection(ParserLimits limits) : parser(limits) {}
    std::size_t pending() const { return out.size() - out_off; }
};

// Counters written by the loop thread, read by anyone.
struct AtomicStats {
    std::array<std::atomic<std::uint64_t>, kActionCount> answers{};
    std::array<std::atomic<std::uint64_t>, kParseErrorCount> parse_errors{};
    std::atomic<std::uint64_t> request_timeouts{0};
    std::atomic<std::uint64_t> idle_closed{0};
    std::atomic<std::uint64_t> stalled_closed{0};
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint64_t> refused{0};
    std::atomic<std::uint64_t> open{0};
    std::atomic<std::uint64_t> buffered{0};
    std::array<std::atomic<std::uint64_t>, ServerStats::kLatencyBounds.size() + 1> latency{};
    std::atomic<std::uint64_t> latency_ns_sum{0};
};

void add(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) {
    a.fetch_add(n, std::memory_order_relaxed);
}

std::string peer_name(int fd, const sockaddr_storage& ss) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    if (ss.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        return "unix pid=" + std::to_string(cred.pid) + " uid=" + std::to_string(cred.uid);
    return "unix";
}

Result<Listener> bind_inet(const ListenAddress& a) {
    const bool v6 = a.host.find(':') != std::string::npos;
    Listener l;
    l.address = a;
    l.fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l.fd < 0) return make_error(a.text() + ": socket: " + errno_text(errno));
    const int one = 1;
    setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a.port);
        inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr);
        len = sizeof *sin6;
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(a.port);
        inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr);
        len = sizeof *sin;
    }
    if (bind(l.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(l.fd, 1024) != 0) {
        const int e = errno;
        close(l.fd);
        return make_error(a.text() + ": " + errno_text(e));
    }
    len = sizeof ss;
    getsockname(l.fd, reinterpret_cast<sockaddr*>(&ss), &len);
    l.address.port =
        ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                       : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return l;
}

Result<Listener> bind_unix(const ListenAddress& a, mode_t mode, const std::string& group_name) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, a.path.c_str(), a.path.size() + 1);
    struct stat st {};
    if (lstat(a.path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return make_error(a.text() + ": exists and is not a socket; not replacing it");
        // A socket file: in use by a running service, or left by one that died.
        const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool live =
            probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
        if (probe >= 0) close(probe);
        if (live) return make_error(a.text() + ": another process is listening on it");
        if (unlink(a.path.c_str()) != 0)
            return make_error(a.text() + ": cannot remove the stale socket: " + errno_text(errno));
    }
    Listener l;
    l.address = a;
    l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (l.fd < 0) return make_error(a.text() + ": socket: " + errno_text(errno));
    auto fail = [&](const std::string& what) -> Result<Listener> {
        const int e = errno;
        close(l.fd);
        unlink(a.path.c_str());
        return make_error(a.text() + ": " + what + ": " + errno_text(e));
    };
    if (bind(l.fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
        const int e = errno;
        close(l.fd);
        return make_error(a.text() + ": bind: " + errno_text(e));
    }
    if (chmod(a.path.c_str(), mode) != 0) return fail("chmod");
    if (!group_name.empty()) {
        struct group g {};
        struct group* found = nullptr;
        std::vector<char> buf(16384);
        if (getgrnam_r(group_name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found) {
            errno = ENOENT;
            return fail("group '" + group_name + "'");
        }
        if (chown(a.path.c_str(), static_cast<uid_t>(-1), found->gr_gid) != 0) return fail("chown");
    }
    if (listen(l.fd, 1024) != 0) return fail("listen");
    if (stat(a.path.c_str(), &st) == 0) l.inode = st.st_ino;
    return l;
}

}  // namespace

struct PolicyServer::Impl {
    ServerSettings settings;
    Handler handler;
    Tick tick;

    std::vector<Listener> listeners;
    int epoll_fd = -1;
    int wake_fd = -1;
    int spare_fd = -1;  // closed to accept-and-drop when out of descriptors
    std::thread thread;
    std::atomic<bool> stopping{false};
    mutable std::mutex bound_mutex;

    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> connections;
    std::uint64_t next_id = 1;
    AtomicStats stats;
    LogLimiter refuse_log{"connections refused"};
    LogLimiter error_log{"malformed requests answered DUNNO"};
    LogLimiter timeout_log{"requests not ended in time"};
    std::vector<std::uint64_t> answered_now;  // scratch: latency samples of one read batch

    Impl(ServerSettings s, Handler h, Tick t)
        : settings(std::move(s)), handler(std::move(h)), tick(std::move(t)) {}

    void close_all_fds() {
        for (auto& [id, c] : connections) close(c->fd);
        connections.clear();
        stats.open.store(0, std::memory_order_relaxed);
        for (auto& l : listeners) {
            if (l.fd >= 0) close(l.fd);
            l.fd = -1;
            if (l.address.kind == ListenAddress::Kind::Unix && l.inode != 0) {
                struct stat st {};
                if (lstat(l.address.path.c_str(), &st) == 0 && st.st_ino == l.inode)
                    unlink(l.address.path.c_str());
            }
        }
    }

    // After the thread is joined (or never started): stop() writes to wake_fd,
    // so the loop thread must not close it under its feet.
    void close_loop_fds() {
        for (int* fd : {&epoll_fd, &wake_fd, &spare_fd})
            if (*fd >= 0) {
                close(*fd);
                *fd = -1;
            }
    }

    void update_events(Connection& c, bool reading, bool writing) {
        if (c.reading == reading && c.writing == writing) return;
        epoll_event ev{};
        // Not reading: no EPOLLIN/EPOLLRDHUP either, or a half-closed peer would
        // wake the loop again and again (level-triggered) while answers drain.
        ev.events = (reading ? EPOLLIN | EPOLLRDHUP : 0u) | (writing ? EPOLLOUT : 0u);
        ev.data.u64 = c.id;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
        c.reading = reading;
        c.writing = writing;
    }

    void close_connection(std::uint64_t id) {
        auto it = connections.find(id);
        if (it == connections.end()) return;
        epoll_ctl(epoll_fd, EPOLL_CTL_DEL, it->second->fd, nullptr);
        close(it->second->fd);
        connections.erase(it);
        stats.open.store(connections.size(), std::memory_order_relaxed);
    }

    void accept_from(const Listener& l, TimePoint now) {
        for (int i = 0; i < kAcceptBatch; ++i) {
            sockaddr_storage ss{};
            socklen_t len = sizeof ss;
            const int fd =
                accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno == EMFILE || errno == ENFILE) {
                    // Out of descriptors: take the connection with the spare one
                    // and close it, or the listener stays readable forever.
                    if (spare_fd >= 0) close(spare_fd);
                    const int drop = accept(l.fd, nullptr, nullptr);
                    if (drop >= 0) close(drop);
                    spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
                    refuse(now, "out of file descriptors");
                    continue;
                }
                if (errno != EAGAIN && errno != EWOULDBLOCK)
                    log::warn("policy: accept failed",
                              {{"listen", l.address.text()}, {"error", errno_text(errno)}});
                return;
            }
            if (connections.size() >= settings.max_connections) {
                close(fd);
                refuse(now, "max_connections reached");
                continue;
            }
            if (l.address.kind == ListenAddress::Kind::Inet) {
                const int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            auto c = std::make_unique<Connection>(settings.parser);
            c->id = next_id++;
            c->fd = fd;
            c->peer = peer_name(fd, ss);
            c->last_activity = now;
            epoll_event ev{};
            ev.events = EPOLLIN | EPOLLRDHUP;
            ev.data.u64 = c->id;
            if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                close(fd);
                continue;
            }
            log::debug("policy: connection", {{"conn", std::to_string(c->id)}, {"peer", c->peer}});
            connections.emplace(c->id, std::move(c));
            add(stats.accepted);
            stats.open.store(connections.size(), std::memory_order_relaxed);
        }
    }

    void refuse(TimePoint now, const char* why) {
        add(stats.refused);
        std::uint64_t suppressed = 0;
        if (refuse_log.allow(now, suppressed))
            log::warn("policy: connection refused",
                      {{"reason", why},
                       {"max_connections", std::to_string(settings.max_connections)},
                       {"open", std::to_string(connections.size())},
                       {"suppressed", std::to_string(suppressed)}});
    }

    // Writes what it can; returns false when the connection failed.
    bool flush(Connection& c, TimePoint now) {
        while (c.pending() > 0) {
            const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.pending(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out_off += static_cast<std::size_t>(n);
                c.last_activity = now;
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
            return false;
        }
        if (c.pending() == 0) {
            c.out.clear();
            c.out_off = 0;
            if (c.out.capacity() > 2 * settings.max_output_bytes) c.out.shrink_to_fit();
        }
        const bool backlog = c.pending() > settings.max_output_bytes;
        update_events(c, !backlog, c.pending() > 0);
        return true;
    }

    void answer(Connection& c, RequestParser::Status status, TimePoint now) {
        if (status == RequestParser::Status::Complete) {
            Verdict v;
            try {
                v = handler(c.parser.request());
            } catch (const std::exception& e) {
                // Out of memory or a bug in a BlockView/GuardEvents implementation:
                // fail open for this request rather than take the thread down.
                log::error("policy: decision failed, answered DUNNO",
                           {{"conn", std::to_string(c.id)}, {"error", e.what()}});
                v = Verdict{};
            }
            append_answer(c.out, v.action, v.text);
            add(stats.answers[static_cast<std::size_t>(v.action)]);
        } else {
            const ParseError e = c.parser.error();
            add(stats.parse_errors[static_cast<std::size_t>(e)]);
            std::uint64_t suppressed = 0;
            if (error_log.allow(now, suppressed))
                log::warn("policy: malformed request answered DUNNO",
                          {{"conn", std::to_string(c.id)},
                           {"peer", c.peer},
                           {"error", std::string(to_string(e))},
                           {"detail", c.parser.error_detail()},
                           {"suppressed", std::to_string(suppressed)}});
            append_answer(c.out, Action::Dunno);
            add(stats.answers[static_cast<std::size_t>(Action::Dunno)]);
        }
    }

    void record_latency(TimePoint start, std::size_t count) {
        if (count == 0) return;
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
        const double s = static_cast<double>(ns) / 1e9;
        std::size_t b = 0;
        while (b < ServerStats::kLatencyBounds.size() && s > ServerStats::kLatencyBounds[b]) ++b;
        add(stats.latency[b], count);
        add(stats.latency_ns_sum, static_cast<std::uint64_t>(ns) * count);
    }

    void on_readable(Connection& c, TimePoint now) {
        char buf[kReadChunk];
        for (int i = 0; i < kReadBatch && c.reading; ++i) {
            const ssize_t n = read(c.fd, buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                close_connection(c.id);
                return;
            }
            if (n == 0) {
                // The client is done (Postfix at max_idle/max_ttl, or a test).
                if (c.in_request)
                    log::debug("policy: connection closed inside a request",
                               {{"conn", std::to_string(c.id)}, {"peer", c.peer}});
                flush(c, now);
                close_connection(c.id);
                return;
            }
            const TimePoint start = Clock::now();
            c.last_activity = now;
            std::size_t answered = 0;
            std::string_view data(buf, static_cast<std::size_t>(n));
            while (!data.empty()) {
                const auto step = c.parser.feed(data);
                data.remove_prefix(step.consumed);
                if (step.status == RequestParser::Status::NeedMore) break;
                answer(c, step.status, now);
                ++answered;
            }
            // The deadline runs from the first byte of a request.
            if (c.parser.in_request() && (!c.in_request || answered > 0)) c.request_started = now;
            c.in_request = c.parser.in_request();
            if (!flush(c, now)) {
                close_connection(c.id);
                return;
            }
            record_latency(start, answered);
            if (static_cast<std::size_t>(n) < sizeof buf) break;
        }
    }

    void housekeeping(TimePoint now) {
        std::vector<std::uint64_t> expired;
        std::uint64_t buffered = 0;
        for (auto& [id, c] : connections) {
            buffered += c->parser.buffered_bytes() + c->out.capacity() + sizeof(Connection);
            if (c->in_request && now - c->request_started > settings.request_timeout) {
                add(stats.request_timeouts);
                std::uint64_t suppressed = 0;
                if (timeout_log.allow(now, suppressed))
                    log::warn(
                        "policy: request not ended in time: answered DUNNO and closed",
                        {{"conn", std::to_string(id)},
                         {"peer", c->peer},
                         {"request_timeout_ms", std::to_string(settings.request_timeout.count())},
                         {"bytes", std::to_string(c->parser.request_bytes())},
                         {"suppressed", std::to_string(suppressed)}});
                append_answer(c->out, Action::Dunno);
                add(stats.answers[static_cast<std::size_t>(Action::Dunno)]);
                flush(*c, now);
                expired.push_back(id);
            } else if (c->pending() > 0 && now - c->last_activity > settings.request_timeout) {
                // Answers waiting for a client that stopped reading them.
                add(stats.stalled_closed);
                log::debug("policy: connection not reading its answers closed",
                           {{"conn", std::to_string(id)}, {"peer", c->peer}});
                expired.push_back(id);
            } else if (!c->in_request && c->pending() == 0 &&
                       now - c->last_activity > settings.idle_timeout) {
                add(stats.idle_closed);
                log::debug("policy: idle connection closed",
                           {{"conn", std::to_string(id)}, {"peer", c->peer}});
                expired.push_back(id);
            }
        }
        for (auto id : expired) close_connection(id);
        stats.buffered.store(buffered, std::memory_order_relaxed);
        for (LogLimiter* l : {&refuse_log, &error_log, &timeout_log}) l->report_remainder(now);
        if (tick) {
            try {
                tick(now);
            } catch (const std::exception& e) {
                log::error("policy: housekeeping failed", {{"error", e.what()}});
            }
        }
    }

    void run() {
        pthread_setname_np(pthread_self(), "sg-policy");
        std::array<epoll_event, 256> events{};
        TimePoint next_housekeeping = Clock::now() + std::chrono::seconds(1);
        // Housekeeping often enough that a short request_timeout (tests) is kept.
        const auto period = std::min<std::chrono::milliseconds>(std::chrono::seconds(1),
                                                                settings.request_timeout / 4);
        while (!stopping.load(std::memory_order_acquire)) {
            const int n = epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                     static_cast<int>(period.count()));
            if (n < 0 && errno != EINTR) {
                log::error("policy: epoll_wait failed", {{"error", errno_text(errno)}});
                break;
            }
            const TimePoint now = Clock::now();
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == kWakeTag) {
                    std::uint64_t v = 0;
                    [[maybe_unused]] auto r = read(wake_fd, &v, sizeof v);
                    continue;
                }
                if (tag <= listeners.size()) {
                    accept_from(listeners[tag - 1], now);
                    continue;
                }
                auto it = connections.find(tag);
                if (it == connections.end()) continue;  // closed earlier in this batch
                Connection& c = *it->second;
                const auto ev = events[i].events;
                if (ev & EPOLLOUT) {
                    if (!flush(c, now)) {
                        close_connection(tag);
                        continue;
                    }
                }
                if (c.reading && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                    on_readable(c, now);  // reads to EOF or the error, then closes
                } else if (ev & (EPOLLHUP | EPOLLERR)) {
                    close_connection(tag);
                }
            }
            if (now >= next_housekeeping) {
                housekeeping(now);
                next_housekeeping = now + period;
            }
        }
        close_all_fds();
    }
};

PolicyServer::PolicyServer(ServerSettings settings, Handler handler, Tick tick)
    : m_impl(std::make_unique<Impl>(std::move(settings), std::move(handler), std::move(tick))) {}

PolicyServer::~PolicyServer() {
    stop();
}

Result<void> PolicyServer::start() {
    Impl& d = *m_impl;
    if (d.thread.joinable()) return make_error("policy service already started");
    d.stopping = false;
    std::vector<Listener> bound;
    auto undo = [&](Error e) -> Result<void> {
        for (auto& l : bound) {
            close(l.fd);
            if (l.address.kind == ListenAddress::Kind::Unix) unlink(l.address.path.c_str());
        }
        return e;
    };
    for (const auto& text : d.settings.listen) {
        auto a = parse_listen_address(text);
        if (!a) return undo(a.error());
        auto l = a->kind == ListenAddress::Kind::Unix
                     ? bind_unix(*a, d.settings.socket_mode, d.settings.socket_group)
                     : bind_inet(*a);
        if (!l) return undo(l.error());
        bound.push_back(std::move(*l));
    }
    d.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    d.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    d.spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (d.epoll_fd < 0 || d.wake_fd < 0) {
        const std::string e = errno_text(errno);
        d.listeners = std::move(bound);
        d.close_all_fds();
        d.close_loop_fds();
        return make_error("policy service: epoll/eventfd: " + e);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kWakeTag;
    epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, d.wake_fd, &ev);
    {
        std::lock_guard lock(d.bound_mutex);
        d.listeners = std::move(bound);
    }
    for (std::size_t i = 0; i < d.listeners.size(); ++i) {
        ev.events = EPOLLIN;
        ev.data.u64 = i + 1;
        epoll_ctl(d.epoll_fd, EPOLL_CTL_ADD, d.listeners[i].fd, &ev);
    }
    d.next_id = d.listeners.size() + 1;
    for (const auto& l : d.listeners)
        log::info("policy: listening", {{"listen", l.address.text()}});
    d.thread = std::thread([&d] { d.run(); });
    return {};
}

void PolicyServer::stop() {
    Impl& d = *m_impl;
    if (!d.thread.joinable()) return;
    d.stopping.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = write(d.wake_fd, &one, sizeof one);
    d.thread.join();
    d.close_loop_fds();
    log::info("policy: stopped");
}

std::vector<ListenAddress> PolicyServer::bound() const {
    std::lock_guard lock(m_impl->bound_mutex);
    std::vector<ListenAddress> out;
    for (const auto& l : m_impl->listeners) out.push_back(l.address);
    return out;
}

ServerStats PolicyServer::stats() const {
    const AtomicStats& a = m_impl->stats;
    ServerStats s;
    for (std::size_t i = 0; i < s.answers.size(); ++i)
        s.answers[i] = a.answers[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < s.parse_errors.size(); ++i)
        s.parse_errors[i] = a.parse_errors[i].load(std::memory_order_relaxed);
    s.request_timeouts = a.request_timeouts.load(std::memory_order_relaxed);
    s.idle_closed = a.idle_closed.load(std::memory_order_relaxed);
    s.stalled_closed = a.stalled_closed.load(std::memory_order_relaxed);
    s.connections_accepted = a.accepted.load(std::memory_order_relaxed);
    s.connections_refused = a.refused.load(std::memory_order_relaxed);
    s.connections_open = a.open.load(std::memory_order_relaxed);
    s.buffered_bytes = a.buffered.load(std::memory_order_relaxed);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < s.latency_le.size(); ++i) {
        cumulative += a.latency[i].load(std::memory_order_relaxed);
        s.latency_le[i] = cumulative;
    }
    s.latency_count = cumulative;
    s.latency_sum_seconds =
        static_cast<double>(a.latency_ns_sum.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

SmtpPolicyService::SmtpPolicyService(SmtpPolicySettings settings, const BlockView& blocks,
                                     GuardEvents& events, PolicyClock clock)
    : m_settings(std::move(settings)),
      m_guard(std::make_unique<SendingGuard>(m_settings.guard)),
      m_decider(std::make_unique<PolicyDecider>(m_settings, blocks, *m_guard, events, clock)) {
    auto steady = clock.steady;
    m_server = std::make_unique<PolicyServer>(
        m_settings.server, [this](const PolicyRequest& r) { return m_decider->decide(r); },
        [this, steady](TimePoint) { m_guard->sweep(steady()); });
}

SmtpPolicyService::~SmtpPolicyService() {
    stop();
}

Result<void> SmtpPolicyService::start() {
    return m_server->start();
}

void SmtpPolicyService::stop() {
    m_server->stop();
}

}  // namespace saslguard::receiver::smtp_policy
