#include "app.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include "file_tailer.hpp"
#include "journal_source.hpp"
#include "log_metrics.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"
#include "stream_source.hpp"

namespace saslguard::exporter {
namespace {

class MetricsSink : public LineConsumer {
public:
    explicit MetricsSink(LogMetrics& m) : m_metrics(m) {}
    void line(std::string_view line) override { m_metrics.process_line(line); }
    void dropped_line() override { m_metrics.count_unsupported_line(); }
    void rotated() override { m_metrics.count_rotation(); }

private:
    LogMetrics& m_metrics;
};

LogMetricsConfig metrics_config(const Options& o) {
    LogMetricsConfig c;
    c.max_users = o.max_users;
    c.top_k = o.top_k;
    c.window_s = o.window.count();
    c.max_queue_ids = o.max_queue_ids;
    c.queue_id_ttl_s = o.queue_id_ttl.count();
    c.max_failure_ips = o.max_failure_ips;
    c.max_ips_per_user = o.max_ips_per_user;
    c.wall_clock = o.oneshot_path.empty();
    c.sources_horizon_s = o.sources_horizon.count();
    c.sources_learning_s = o.sources_learning_period.count();
    c.sources_new_for_s = o.sources_new_for.count();
    if (!c.wall_clock) c.new_source_published_for_s = 0;  // oneshot: the whole log's count
    c.max_networks_per_user = o.max_networks_per_user;
    return c;
}

}  // namespace

App::App(Options options)
    : m_options(std::move(options)),
      m_registry(std::make_shared<prometheus::Registry>()),
      m_log(std::make_unique<LogMetrics>(*m_registry, metrics_config(m_options))) {
    m_collectables.push_back(m_registry);
    m_collectables.push_back(m_log->collectable());
}

App::~App() = default;

void App::add_collectable(std::shared_ptr<prometheus::Collectable> collectable) {
    m_collectables.push_back(std::move(collectable));
}

std::string App::collect_text() const {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& c : m_collectables) {
        auto f = c->Collect();
        families.insert(families.end(), std::make_move_iterator(f.begin()),
                        std::make_move_iterator(f.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
}

bool App::load_state() {
    if (m_options.state_path.empty()) return true;
    auto loaded = m_log->load_sources(m_options.state_path);
    if (!loaded) {
        log::error("cannot load the state file", {{"error", loaded.error().message}});
        return false;
    }
    for (const auto& w : *loaded) log::warn("state file record skipped", {{"where", w}});
    return true;
}

bool App::save_state() {
    if (m_options.state_path.empty()) return true;
    auto saved = m_log->save_sources(m_options.state_path);
    if (!saved) log::error("cannot save the state file", {{"error", saved.error().message}});
    return saved.ok();
}

int App::run_oneshot() {
    if (!load_state()) return 1;
    int fd = ::open(m_options.oneshot_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        std::cerr << "saslguard-exporter: --oneshot " << m_options.oneshot_path << ": "
                  << std::strerror(errno) << "\n";
        return 1;
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    MetricsSink sink(*m_log);
    LineSplitter splitter;
    std::vector<char> buf(1 << 20);
    while (true) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::cerr << "saslguard-exporter: read " << m_options.oneshot_path << ": "
                      << std::strerror(errno) << "\n";
            ::close(fd);
            return 1;
        }
        if (n == 0) break;
        splitter.feed(buf.data(), static_cast<std::size_t>(n), sink);
    }
    splitter.flush(sink);
    ::close(fd);
    if (!save_state()) return 1;
    std::string text = collect_text();
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
}

int App::run_daemon() {
    if (!load_state()) return 1;
    std::unique_ptr<prometheus::Exposer> exposer;
    try {
        exposer = std::make_unique<prometheus::Exposer>(m_options.listen_address, 2);
    } catch (const std::exception& e) {
        log::error("cannot listen", {{"address", m_options.listen_address}, {"error", e.what()}});
        return 1;
    }
    for (const auto& c : m_collectables) exposer->RegisterCollectable(c, m_options.metrics_path);

    std::atomic<bool> stop{false};
    std::mutex mu;
    std::condition_variable cv;
    MetricsSink sink(*m_log);
    std::thread reader([&] {
        switch (m_options.log_source) {
            case LogSourceKind::File: {
                // Keep a rotated file open ~5 s for writers that reopen late.
                int grace =
                    static_cast<int>(5000 / std::max<long>(1, m_options.log_poll_interval.count()));
                FileTailer tailer(m_options.log_path, m_options.log_from_start, sink, grace);
                struct stat sb {};
                bool missing = ::stat(m_options.log_path.c_str(), &sb) != 0;
                if (missing)
                    log::warn(
                        "log file does not exist (yet): waiting for it to appear, like tail -F",
                        {{"path", m_options.log_path},
                         {"error", std::strerror(errno)},
                         {"hint",
                          "without rsyslog (Debian 12 default) Postfix logs only to the "
                          "journal: use --log.source=journal"}});
                std::unique_lock lock(mu);
                while (!stop.load()) {
                    lock.unlock();
                    tailer.poll();
                    if (missing && tailer.is_open()) {
                        missing = false;
                        log::info("log file appeared, reading it", {{"path", m_options.log_path}});
                    }
                    lock.lock();
                    cv.wait_for(lock, m_options.log_poll_interval, [&] { return stop.load(); });
                }
                break;
            }
            case LogSourceKind::Stdin:
                read_stream(STDIN_FILENO, sink, stop);
                break;
            case LogSourceKind::Journal:
                if (auto e = follow_journal({split_units(m_options.journal_units),
                                             m_options.journal_directory, m_options.log_from_start},
                                            sink, stop);
                    !e.empty())
                    log::error("no log source", {{"error", e}});
                break;
        }
    });
    log::info(
        "saslguard-exporter listening",
        {{"address", m_options.listen_address},
         {"log_source", m_options.log_source == LogSourceKind::File ? "file:" + m_options.log_path
                        : m_options.log_source == LogSourceKind::Stdin ? std::string("stdin")
                                                                       : std::string("journal")}});
    // The state file is rewritten on an interval, and once more at shutdown.
    std::thread saver;
    if (!m_options.state_path.empty())
        saver = std::thread([&] {
            std::unique_lock lock(mu);
            while (!cv.wait_for(lock, m_options.state_save_interval, [&] { return stop.load(); })) {
                lock.unlock();
                save_state();
                lock.lock();
            }
        });
    int sig = wait_for_shutdown_signal();
    log::info("shutting down", {{"signal", std::to_string(sig)}});
    {
        std::lock_guard lock(mu);
        stop = true;
    }
    cv.notify_all();
    reader.join();
    if (saver.joinable()) saver.join();
    return save_state() ? 0 : 1;
}

}  // namespace saslguard::exporter
