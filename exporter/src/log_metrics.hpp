#pragma once
// LogMetrics: turns Postfix log lines into the metrics of the DESIGN.md contract.
// Parsing is saslguard::postfix::parse_line (pure); this layer keeps the state
// that needs memory across lines:
//   * the user table: per SASL user, the prometheus Counter handles (messages,
//     recipients, deliveries by status) held directly, so the hot path never looks
//     a family up by labels; at most `max_users` users, the idlest evicted first;
//   * the Correlator (queue id -> user) that attributes qmgr nrcpt and delivery
//     status lines to the user whose smtpd client= line started the message;
//   * sliding windows: distinct client IPs per user, SASL failures per client IP
//     (top-K served, the rest summed as client_ip="__other__").
//
// Time is log time (the timestamp of the lines); windows end at "now", which is
// the newest line's time in oneshot mode and max(newest line, wall clock) live.
//
// Threading: process_line() is called from one thread (the log reader); the
// collectable returned by collectable() may be collected from any thread.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "correlator.hpp"
#include "saslguard/postfix/log_parser.hpp"

namespace saslguard::exporter {

struct LogMetricsConfig {
    std::size_t max_users = 10000;
    std::size_t top_k = 20;
    std::int64_t window_s = 600;
    std::size_t max_queue_ids = 65536;
    std::int64_t queue_id_ttl_s = 6 * 3600;
    std::size_t max_failure_ips = 10000;
    std::size_t max_ips_per_user = 4096;
    bool wall_clock = true;  // false (oneshot): windows end at the newest line
};

class LogMetrics {
public:
    LogMetrics(prometheus::Registry& registry, LogMetricsConfig config);
    ~LogMetrics();
    LogMetrics(const LogMetrics&) = delete;
    LogMetrics& operator=(const LogMetrics&) = delete;

    // One log line without its newline. Never fails: lines it cannot use are
    // counted as result="unsupported".
    void process_line(std::string_view line);
    // Events from a parser, for tests; process_line = parse + this.
    void process_event(const postfix::Event& event, double timestamp_s);
    // A line dropped before parsing (longer than the reader's limit).
    void count_unsupported_line();
    void count_rotation();

    // Serves the windowed gauges and the user-table gauges at scrape time.
    std::shared_ptr<prometheus::Collectable> collectable() { return m_collectable; }

    std::size_t tracked_users() const;
    std::size_t tracked_queue_ids() const { return m_correlator.size(); }

private:
    struct User;
    struct State;
    class WindowCollectable;

    User* user_for(std::string_view raw_name, std::int64_t now);
    void evict_idlest_user();
    void on_client(const postfix::Event& ev, std::int64_t now);
    void on_sasl_failure(const postfix::Event& ev, std::int64_t now);
    void on_delivery(const postfix::Event& ev, std::size_t status_index);
    User* attributed_user(std::string_view qid);

    LogMetricsConfig m_config;
    postfix::TimestampResolver m_resolver;
    Correlator m_correlator;

    // Families (owned by the registry).
    prometheus::Family<prometheus::Counter>& m_user_messages;
    prometheus::Family<prometheus::Counter>& m_user_recipients;
    prometheus::Family<prometheus::Counter>& m_user_deliveries;
    prometheus::Family<prometheus::Counter>& m_sasl_failures;
    prometheus::Family<prometheus::Counter>& m_rejects;
    prometheus::Family<prometheus::Counter>& m_processed;
    prometheus::Counter& m_connects;
    prometheus::Counter& m_disconnects;
    prometheus::Counter& m_cleanup_processed;
    prometheus::Counter& m_cleanup_rejected;
    prometheus::Counter& m_qmgr_removed;
    prometheus::Counter& m_lines_parsed;
    prometheus::Counter& m_lines_unsupported;
    prometheus::Counter& m_rotations;
    prometheus::Counter& m_users_evicted;
    prometheus::Counter& m_queue_ids_evicted;

    // Lazily created counters for bounded label sets.
    std::vector<std::pair<std::string, prometheus::Counter*>> m_failure_by_method;
    prometheus::Counter* m_failure_other;
    prometheus::Counter* m_reject_by_code[600] = {};
    prometheus::Counter* m_processed_by_status[5] = {};
    std::uint64_t m_queue_ids_evicted_seen = 0;

    std::unique_ptr<State> m_state;  // guarded by its mutex; shared with the collectable
    std::shared_ptr<prometheus::Collectable> m_collectable;
};

}  // namespace saslguard::exporter
