// saslguard-exporter: Postfix log + queue metrics for Prometheus. Thin: flags
// in, the App (app.hpp) does the work.
#include <cstdio>
#include <iostream>

#include "app.hpp"
#include "options.hpp"
#include "queue_collector.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"

int main(int argc, char** argv) {
    using namespace saslguard;
    bool help = false;
    auto options = exporter::parse_options(argc, argv, &help);
    if (!options) {
        std::cerr << options.error().message << (help ? "" : "\n");
        return help ? 0 : 2;
    }
    log::set_level(options->log_level);
    if (options->oneshot_path.empty()) block_shutdown_signals();

    exporter::App app(std::move(*options));

    // Collectors besides the log pipeline register here.
    // The showq queue collector runs in daemon mode only: --oneshot output stays a
    // function of the log file. It stops (cancelling a read) when the App goes.
    if (app.options().oneshot_path.empty() && !app.options().showq_path.empty()) {
        auto queue = std::make_shared<exporter::QueueCollector>(
            exporter::queue_collector_options(app.options()));
        app.add_collectable(queue);
        queue->start();
    }

    return app.options().oneshot_path.empty() ? app.run_daemon() : app.run_oneshot();
}
