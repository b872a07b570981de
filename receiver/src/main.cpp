// saslguard-receiver: Alertmanager webhook → incidents → policy → mitigation → admins.
// Thin on purpose: flags, config, logging, signals; the rest is saslguard_receiver_core.
#include <cstring>
#include <iostream>
#include <string>

#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"
#include "saslguard/receiver/app.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/mitigation/service.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace {
void usage(std::ostream& os) {
    os << "usage: saslguard-receiver --config FILE [--check-config]\n"
          "  --config FILE    YAML configuration (see deploy/receiver.yml)\n"
          "  --check-config   load and validate the configuration, then exit\n"
          "  --version        print the version\n";
}
}  // namespace

int main(int argc, char** argv) {
    using namespace saslguard;
    std::string config_path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc)
            config_path = argv[++i];
        else if (a.rfind("--config=", 0) == 0)
            config_path = a.substr(9);
        else if (a == "--check-config")
            check_only = true;
        else if (a == "--version") {
            std::cout << "saslguard-receiver " << SASLGUARD_VERSION << "\n";
            return 0;
        } else if (a == "-h" || a == "--help") {
            usage(std::cout);
            return 0;
        } else {
            std::cerr << "saslguard-receiver: unknown argument '" << a << "'\n";
            usage(std::cerr);
            return 2;
        }
    }
    if (config_path.empty()) {
        usage(std::cerr);
        return 2;
    }
    auto config = receiver::load_config(config_path);
    if (!config) {
        std::cerr << "saslguard-receiver: " << config.error().message << "\n";
        return 1;
    }
    if (check_only) {
        std::cout << config_path << ": ok\n";
        return 0;
    }
    log::set_level(config->log_level);
    block_shutdown_signals();  // before any thread starts

    // The real executor (Postfix maps, postsuper, SASL backend), shared by the
    // worker's automatic actions and the Telegram buttons/commands.
    auto mitigation = receiver::mitigation::MitigationService::open(*config);
    if (!mitigation) {
        log::error("cannot start", {{"error", mitigation.error().message}});
        return 1;
    }
    receiver::App app(std::move(*config));
    app.set_executor(*mitigation);
    if (auto r = app.start(); !r) {
        log::error("cannot start", {{"error", r.error().message}});
        return 1;
    }
    // Blocks with an expiry (policy.action_expiry, --expires) are reverted by this
    // loop every 30 s, so an expired block lasts at most 30 s longer than asked.
    std::mutex expiry_mutex;
    std::condition_variable expiry_cv;
    bool stopping = false;
    std::thread expiry([&] {
        std::unique_lock<std::mutex> lock(expiry_mutex);
        while (!expiry_cv.wait_for(lock, std::chrono::seconds(30), [&] { return stopping; })) {
            lock.unlock();
            for (const auto& o : (*mitigation)->run_expiries()) {
                if (o.ok)
                    log::info("expired block reverted", {{"summary", o.summary}});
                else
                    log::warn("expiry failed", {{"error", o.error}});
            }
            lock.lock();
        }
    });
    int sig = wait_for_shutdown_signal();
    log::info("shutting down", {{"signal", std::to_string(sig)}});
    {
        std::lock_guard<std::mutex> lock(expiry_mutex);
        stopping = true;
    }
    expiry_cv.notify_all();
    expiry.join();
    app.stop();
    return 0;
}
