#include "queue_collector.hpp"

#include <ctime>

#include "queue_stats.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/postfix/showq.hpp"

namespace saslguard::exporter {

namespace {

prometheus::MetricFamily scalar(std::string name, std::string help, prometheus::MetricType type,
                                double value) {
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter)
        m.counter.value = value;
    else
        m.gauge.value = value;
    return {std::move(name), std::move(help), type, {m}};
}

double thread_cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

QueueCollectorOptions queue_collector_options(const Options& options) {
    QueueCollectorOptions q;
    q.showq_path = options.showq_path;
    q.refresh_interval = options.queue_refresh_interval;
    q.timeout = options.showq_timeout;
    q.top_senders = options.queue_top_senders;
    return q;
}

QueueCollector::QueueCollector(QueueCollectorOptions options) : m_options(std::move(options)) {}

QueueCollector::~QueueCollector() {
    stop();
}

void QueueCollector::start() {
    if (m_thread.joinable()) return;
    {
        std::lock_guard lock(m_stop_mutex);
        m_stop = false;
    }
    m_cancel = false;
    m_thread = std::thread([this] { run(); });
}

void QueueCollector::stop() {
    {
        std::lock_guard lock(m_stop_mutex);
        m_stop = true;
    }
    m_cancel = true;
    m_stop_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void QueueCollector::run() {
    for (;;) {
        (void)refresh_now();  // the outcome is in the metrics and the log
        std::unique_lock lock(m_stop_mutex);
        if (m_stop_cv.wait_for(lock, m_options.refresh_interval, [this] { return m_stop; })) return;
    }
}

Result<void> QueueCollector::refresh_now() {
    std::lock_guard refresh_lock(m_refresh_mutex);
    const auto started = std::chrono::steady_clock::now();
    const double started_unix = unix_now();
    const double started_cpu = thread_cpu_seconds();
    m_in_progress = true;

    postfix::ShowqOptions showq_options;
    showq_options.keep_recipients = false;  // not published; skipping them saves allocations
    showq_options.cancel = &m_cancel;
    QueueStatsBuilder builder(static_cast<std::int64_t>(started_unix));
    auto read = postfix::read_showq(
        m_options.showq_path, [&](const postfix::QueuedMessage& m) { builder.add(m); },
        m_options.timeout, showq_options);

    std::shared_ptr<const Families> families;
    if (read.ok()) {
        const QueueStats stats = builder.finish(m_options.top_senders);
        families = std::make_shared<const Families>(render_queue_families(stats));
        if (stats.unknown_queue_messages > 0)
            log::warn("showq listed messages in unknown queues",
                      {{"count", std::to_string(stats.unknown_queue_messages)}});
    }
    const double duration =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double cpu = thread_cpu_seconds() - started_cpu;
    m_in_progress = false;

    bool was_up = false;
    {
        std::lock_guard lock(m_mutex);
        was_up = m_up;
        ++m_refreshes;
        m_last_duration = duration;
        m_last_cpu = cpu;
        m_up = read.ok();
        if (read.ok()) {
            m_families = std::move(families);
            m_snapshot_steady = started;
            m_last_success_unix = started_unix;
        } else {
            ++m_errors;
        }
    }
    // Log transitions, not every failed refresh: Postfix stopped for an hour is one line.
    if (!read.ok()) {
        if (!m_error_logged)
            log::warn("showq refresh failed; keeping the last complete listing",
                      {{"error", read.error().message}});
        else
            log::debug("showq refresh failed", {{"error", read.error().message}});
        m_error_logged = true;
        return read.error();
    }
    if (m_error_logged || !was_up)
        log::info("showq refresh ok", {{"messages", std::to_string(*read)}});
    m_error_logged = false;
    return {};
}

std::vector<prometheus::MetricFamily> QueueCollector::Collect() const {
    using prometheus::MetricType;
    std::shared_ptr<const Families> families;
    bool up = false;
    std::uint64_t refreshes = 0, errors = 0;
    double duration = 0, cpu = 0, last_success = 0;
    std::chrono::steady_clock::time_point snapshot{};
    {
        std::lock_guard lock(m_mutex);
        families = m_families;
        up = m_up;
        refreshes = m_refreshes;
        errors = m_errors;
        duration = m_last_duration;
        cpu = m_last_cpu;
        last_success = m_last_success_unix;
        snapshot = m_snapshot_steady;
    }
    std::vector<prometheus::MetricFamily> out;
    out.reserve(8 + (families ? families->size() : 0));
    out.push_back(scalar("postfix_up",
                         "1 when showq answered with a complete listing at the last refresh",
                         MetricType::Gauge, up ? 1 : 0));
    out.push_back(scalar("saslguard_exporter_showq_refreshes_total", "showq refresh attempts",
                         MetricType::Counter, static_cast<double>(refreshes)));
    out.push_back(scalar(
        "saslguard_exporter_showq_errors_total",
        "showq refreshes that failed (socket missing or refused, timeout, cut or malformed answer)",
        MetricType::Counter, static_cast<double>(errors)));
    out.push_back(scalar("saslguard_exporter_showq_refresh_duration_seconds",
                         "Wall time of the last showq refresh", MetricType::Gauge, duration));
    out.push_back(scalar(
        "saslguard_exporter_showq_refresh_cpu_seconds",
        "CPU time the exporter spent in the last showq refresh (showq's own CPU not included)",
        MetricType::Gauge, cpu));
    out.push_back(scalar("saslguard_exporter_showq_refresh_in_progress",
                         "1 while a showq refresh is running", MetricType::Gauge,
                         m_in_progress ? 1 : 0));
    out.push_back(scalar("saslguard_exporter_showq_last_success_timestamp_seconds",
                         "Unix time the published queue listing was read; 0 before the first",
                         MetricType::Gauge, last_success));
    if (families) {
        out.push_back(scalar(
            "saslguard_exporter_showq_snapshot_age_seconds",
            "Seconds since the published queue listing was read", MetricType::Gauge,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - snapshot).count()));
        out.insert(out.end(), families->begin(), families->end());
    }
    return out;
}

}  // namespace saslguard::exporter
