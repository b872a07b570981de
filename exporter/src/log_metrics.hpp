#pragma once
// LogMetrics: turns Postfix log lines into the metrics of the DESIGN.md contract.
// Parsing is saslguard::postfix::parse_line (pure); this layer keeps the state
// that needs memory across lines:
//   * the user table: per SASL user, its counters (messages, recipients,
//     deliveries by status, submissions from new networks, unknown-recipient
//     bounces) held in the table itself and served by the collectable, so the hot
//     path is one hash lookup and an increment, and evicting a user is O(1): at
//     most `max_users` users, kept in least-recently-active order (an intrusive
//     list over the slots), the idlest evicted first;
//   * the Correlator (queue id -> user) that attributes qmgr nrcpt and delivery
//     status lines to the user whose smtpd client= line started the message;
//   * sliding windows: distinct client IPs per user, SASL failures per client IP
//     (top-K served, the rest summed as client_ip="__other__");
//   * the SourceMemory: client networks per user over a long horizon (30 days),
//     the one piece of state that is saved to disk (save_sources/load_sources).
//
// Time is log time (the timestamp of the lines); windows end at "now", which is
// the newest line's time in oneshot mode and max(newest line, wall clock) live.
//
// Threading: process_line() is called from one thread (the log reader); the
// collectable returned by collectable() may be collected from any thread, and
// save_sources() may be called from any thread.
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
#include "saslguard/common/result.hpp"
#include "saslguard/postfix/log_parser.hpp"
#include "source_memory.hpp"

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
    // New sources (SourceMemory); max_users bounds it too.
    std::int64_t sources_horizon_s = 30 * 86400;
    std::int64_t sources_learning_s = 7 * 86400;
    std::int64_t sources_new_for_s = 86400;
    // A user's new-source counter is published only while it carries news: from
    // its first new-source message until this long after its latest one
    // (0: always, once above 0; the oneshot report). Withdrawn, it restarts from
    // 0. Nearly every user's count is 0 nearly all the time: 10,000 zero series
    // cost every rule that reads them (docs/exporter.md).
    std::int64_t new_source_published_for_s = 3600;
    std::size_t max_networks_per_user = 32;
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

    // The source memory's state file. load_sources: a missing file is not an
    // error (first start); unreadable records are skipped and returned as
    // warnings ("path:line: what"); a file that is not a source memory is an
    // error. save_sources writes atomically with mode 0600.
    Result<std::vector<std::string>> load_sources(const std::string& path);
    Result<void> save_sources(const std::string& path);

private:
    struct User;
    struct State;
    class WindowCollectable;

    User* user_for(std::string_view raw_name, std::int64_t now);
    void evict_idlest_user();
    void lru_unlink(User& u);
    void lru_push_front(User& u);
    void on_client(const postfix::Event& ev, std::int64_t now);
    void on_sasl_failure(const postfix::Event& ev, std::int64_t now);
    void on_delivery(const postfix::Event& ev, std::size_t status_index);
    User* attributed_user(std::string_view qid);

    LogMetricsConfig m_config;
    postfix::TimestampResolver m_resolver;
    Correlator m_correlator;

    // Families (owned by the registry).
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
