#include "saslguard/receiver/daemon.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <ostream>
#include <thread>

#include "saslguard/common/flags.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"
#include "saslguard/receiver/app.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/mitigation/service.hpp"

namespace saslguard::receiver {
namespace {

struct Args {
    std::string config;
    bool check_only = false;
    bool version = false;
};

flags::FlagSet flag_set(Args& a) {
    flags::FlagSet set;
    set.add({"config", "YAML configuration (see deploy/receiver.yml)", "", false, "FILE",
             [&a](const std::string& v) -> std::string {
                 if (v.empty()) return "must not be empty";
                 a.config = v;
                 return {};
             }})
        .boolean("check-config", "load and validate the configuration, then exit", a.check_only)
        .boolean("version", "print the version", a.version);
    return set;
}

std::string usage() {
    Args unused;
    return "usage: saslguard-receiver --config FILE [--check-config]\n" + flag_set(unused).usage();
}

}  // namespace

int run_receiver(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
    Args a;
    auto parsed = flag_set(a).parse(args);
    if (!parsed) {
        err << "saslguard-receiver: " << parsed.error().message << "\n" << usage();
        return 2;
    }
    if (parsed->help) {
        out << usage();
        return 0;
    }
    if (a.version) {
        out << "saslguard-receiver " << SASLGUARD_VERSION << "\n";
        return 0;
    }
    if (a.config.empty()) {
        err << usage();
        return 2;
    }
    auto config = load_config(a.config);
    if (!config) {
        err << "saslguard-receiver: " << config.error().message << "\n";
        return 1;
    }
    if (a.check_only) {
        out << a.config << ": ok\n";
        return 0;
    }
    log::set_level(config->log_level);
    block_shutdown_signals();  // before any thread starts

    // The real executor (Postfix maps, postsuper, SASL backend), shared by the
    // worker's automatic actions and the Telegram buttons/commands.
    auto mitigation = mitigation::MitigationService::open(*config);
    if (!mitigation) {
        log::error("cannot start", {{"error", mitigation.error().message}});
        return 1;
    }
    App app(std::move(*config));
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

}  // namespace saslguard::receiver
