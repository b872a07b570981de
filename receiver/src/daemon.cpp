#include "saslguard/receiver/daemon.hpp"

#include <ostream>

#include "saslguard/common/flags.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"
#include "saslguard/receiver/app.hpp"
#include "saslguard/receiver/config.hpp"

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

    App app(std::move(*config));
    if (auto r = app.start(); !r) {
        log::error("cannot start", {{"error", r.error().message}});
        return 1;
    }
    int sig = wait_for_shutdown_signal();
    log::info("shutting down", {{"signal", std::to_string(sig)}});
    app.stop();
    return 0;
}

}  // namespace saslguard::receiver
