#pragma once
// The policy service's network side: listeners (unix socket and/or loopback
// TCP), one epoll event loop on its own thread serving every connection
// (persistent: Postfix sends many requests over one), bounded per connection
// and in number, with a deadline for requests that never end.
//
// Why one thread: an answer costs a few microseconds (a hash lookup or two,
// from memory), so one thread serves far more than Postfix can ask for, and
// the guard's counts need no cross-thread ordering. Nothing on this thread
// waits on the worker, Telegram, Prometheus or the database.
//
// Bounds (memory stays below max_connections × (max_line_bytes +
// max_request_bytes + max_output_bytes) plus ~1 KiB per connection, whatever
// clients do):
//   - max_connections: a connection beyond it is accepted and closed at once,
//     counted in connections_refused, logged (at most once a second);
//   - request_timeout: a request not ended within it → DUNNO, close, warning;
//   - idle_timeout: an idle connection is closed;
//   - max_output_bytes: a client that does not read its answers is not read
//     either until they drain, and is closed when they stay unread for
//     request_timeout;
//   - running out of file descriptors (EMFILE) is handled with a spare
//     descriptor, never a busy loop.
// A malformed request is answered DUNNO (fail-open, like Postfix's
// smtpd_policy_service_default_action = DUNNO), logged with its error kind,
// and the connection goes on with the next request.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/smtp_policy/decider.hpp"
#include "saslguard/receiver/smtp_policy/protocol.hpp"
#include "saslguard/receiver/smtp_policy/settings.hpp"

namespace saslguard::receiver::smtp_policy {

// The server's own counters, a plain copy for the receiver's /metrics:
//   saslguard_policy_answers_total{action="DUNNO|REJECT|HOLD"}     answers[]
//   saslguard_policy_errors_total{kind=<ParseError>|"request_timeout"}
//   saslguard_policy_connections_total{result="accepted|refused"}
//   saslguard_policy_connections                                   connections_open
//   saslguard_policy_answer_duration_seconds (histogram)           latency_*
struct ServerStats {
    // Upper bounds (seconds) of the answer-time histogram; the last bucket is +Inf.
    static constexpr std::array<double, 8> kLatencyBounds = {0.00005, 0.0001, 0.00025, 0.0005,
                                                             0.001,   0.0025, 0.01,    0.1};

    std::array<std::uint64_t, kActionCount> answers{};           // by Action
    std::array<std::uint64_t, kParseErrorCount> parse_errors{};  // by ParseError
    std::uint64_t request_timeouts = 0;  // requests that never ended: DUNNO + close
    std::uint64_t idle_closed = 0;       // connections closed after idle_timeout
    // Connections closed because their answers stayed unread for request_timeout.
    std::uint64_t stalled_closed = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t connections_refused = 0;  // over max_connections or out of descriptors
    std::uint64_t connections_open = 0;
    // Bytes held for connections (partial lines, pending answers) at the last
    // housekeeping pass (once a second).
    std::uint64_t buffered_bytes = 0;
    // Answer time: from the read() that completed a request to the answer
    // handed to the kernel. Cumulative counts per bucket (le), Prometheus style.
    std::array<std::uint64_t, kLatencyBounds.size() + 1> latency_le{};
    double latency_sum_seconds = 0;
    std::uint64_t latency_count = 0;
};

class PolicyServer {
public:
    // Called on the server thread for each valid request. Must not block.
    using Handler = std::function<Verdict(const PolicyRequest&)>;
    // Called on the server thread about once a second (the guard's sweep).
    using Tick = std::function<void(std::chrono::steady_clock::time_point)>;

    PolicyServer(ServerSettings settings, Handler handler, Tick tick = {});
    ~PolicyServer();  // stop()
    PolicyServer(const PolicyServer&) = delete;
    PolicyServer& operator=(const PolicyServer&) = delete;

    // Binds every listen address (a stale unix socket file is replaced, a live
    // one or any other file is an error), then starts the thread. On error
    // nothing is left bound and the message names the address and the reason.
    Result<void> start();
    // Idempotent. Closes every connection and listener, removes the unix socket
    // files it created, joins the thread.
    void stop();

    // The addresses actually bound (a port 0 replaced by the one chosen).
    std::vector<ListenAddress> bound() const;
    ServerStats stats() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

// The policy service as the receiver will hold it: the guard, the decider and
// the server, wired together. BlockView and GuardEvents are the receiver's.
class SmtpPolicyService {
public:
    // `settings` must pass validate(). References must outlive the service.
    SmtpPolicyService(SmtpPolicySettings settings, const BlockView& blocks, GuardEvents& events,
                      PolicyClock clock = PolicyClock::system());
    ~SmtpPolicyService();

    Result<void> start();
    void stop();

    SendingGuard& guard() { return *m_guard; }
    ServerStats server_stats() const { return m_server->stats(); }
    GuardStats guard_stats() const { return m_guard->stats(); }
    std::vector<ListenAddress> bound() const { return m_server->bound(); }
    const SmtpPolicySettings& settings() const { return m_settings; }

private:
    SmtpPolicySettings m_settings;
    std::unique_ptr<SendingGuard> m_guard;
    std::unique_ptr<PolicyDecider> m_decider;
    std::unique_ptr<PolicyServer> m_server;
};

}  // namespace saslguard::receiver::smtp_policy
