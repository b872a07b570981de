#pragma once
// The queue side of the exporter: reads showq in a background thread and serves
// the last snapshot, so a scrape never waits for showq (a 50,000-message queue
// takes showq about a second to list).
//
// Each refresh reads the whole listing, folds it into QueueStats and renders the
// families once; Collect() only copies the prebuilt families under a mutex and
// adds a few health gauges.
//
// Failure policy (Postfix stopped, socket missing or refusing, an answer cut
// mid-record, a stall past the timeout): the refresh is counted in
// saslguard_exporter_showq_errors_total and postfix_up turns 0; the queue
// families of the last complete listing stay published, unchanged, and
// saslguard_exporter_showq_snapshot_age_seconds says how old they are. A partial
// listing is never published. Before the first complete listing there are no
// queue families at all (an unknown queue is not an empty one).
//
// Health metrics, computed at scrape time:
//   postfix_up                                           1 if the last refresh succeeded
//   saslguard_exporter_showq_refreshes_total             refresh attempts
//   saslguard_exporter_showq_errors_total                failed refreshes
//   saslguard_exporter_showq_refresh_duration_seconds    wall time of the last refresh
//   saslguard_exporter_showq_refresh_cpu_seconds         CPU of the last refresh in the exporter
//                                                        (showq's own CPU is not included)
//   saslguard_exporter_showq_refresh_in_progress         1 while a refresh runs
//   saslguard_exporter_showq_last_success_timestamp_seconds  0 before the first success
//   saslguard_exporter_showq_snapshot_age_seconds        since the published listing was read
//                                                        (absent before the first success)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "options.hpp"
#include "saslguard/common/result.hpp"

namespace saslguard::exporter {

struct QueueCollectorOptions {
    std::string showq_path = "/var/spool/postfix/public/showq";
    // Pause between the end of one refresh and the start of the next.
    std::chrono::milliseconds refresh_interval{std::chrono::seconds(30)};
    // Upper bound of one refresh (connect + the whole listing).
    std::chrono::milliseconds timeout{std::chrono::seconds(60)};
    std::size_t top_senders = 20;
};

// The collector's part of the exporter's flags (--showq.*, --queue.*).
QueueCollectorOptions queue_collector_options(const Options& options);

class QueueCollector : public prometheus::Collectable {
public:
    explicit QueueCollector(QueueCollectorOptions options);
    ~QueueCollector() override;  // stops the thread
    QueueCollector(const QueueCollector&) = delete;
    QueueCollector& operator=(const QueueCollector&) = delete;

    // Starts the background thread; its first refresh begins at once.
    void start();
    // Stops and joins the thread; a refresh in flight is cancelled (within ~100 ms).
    void stop();

    // One refresh in the caller's thread (tests, benchmarks). Returns the showq
    // error when the listing was not read completely.
    Result<void> refresh_now();

    std::vector<prometheus::MetricFamily> Collect() const override;

private:
    using Families = std::vector<prometheus::MetricFamily>;

    void run();

    const QueueCollectorOptions m_options;

    std::mutex m_refresh_mutex;  // one refresh at a time; guards m_error_logged
    bool m_error_logged = false;

    mutable std::mutex m_mutex;  // guards everything below; held only to copy or swap
    std::shared_ptr<const Families> m_families;  // last complete listing
    std::chrono::steady_clock::time_point m_snapshot_steady{};
    double m_last_success_unix = 0;
    bool m_up = false;
    std::uint64_t m_refreshes = 0;
    std::uint64_t m_errors = 0;
    double m_last_duration = 0;
    double m_last_cpu = 0;
    std::atomic<bool> m_in_progress{false};

    std::mutex m_stop_mutex;
    std::condition_variable m_stop_cv;
    bool m_stop = false;
    std::atomic<bool> m_cancel{false};  // tells a read in flight to give up
    std::thread m_thread;
};

}  // namespace saslguard::exporter
