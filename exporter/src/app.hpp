#pragma once
// The exporter as a library: one Registry with the log-derived metrics plus any
// number of extra collectables (e.g. the showq queue collector), served over
// HTTP by run_daemon or printed once by run_oneshot. main.cpp only wires flags
// to this.
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include "options.hpp"

namespace saslguard::exporter {

class LogMetrics;

class App {
public:
    explicit App(Options options);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    const Options& options() const { return m_options; }
    // The registry for metrics that are plain counters/gauges owned by a component.
    prometheus::Registry& registry() { return *m_registry; }
    // Adds a collectable served on /metrics and printed by --oneshot. Call before
    // run_daemon/run_oneshot; the App keeps it alive.
    void add_collectable(std::shared_ptr<prometheus::Collectable> collectable);

    LogMetrics& log_metrics() { return *m_log; }

    // --oneshot: reads the file to EOF, writes the exposition text to stdout. Exit code.
    int run_oneshot();
    // Serves /metrics and follows the configured log source until SIGINT/SIGTERM. Exit code.
    int run_daemon();

    // Every collectable serialized in the text exposition format.
    std::string collect_text() const;

private:
    // The source memory's state file (--state.path); both log what went wrong.
    bool load_state();
    bool save_state();

    Options m_options;
    std::shared_ptr<prometheus::Registry> m_registry;
    std::vector<std::shared_ptr<prometheus::Collectable>> m_collectables;
    std::unique_ptr<LogMetrics> m_log;
};

}  // namespace saslguard::exporter
