// saslguard-policy-host: a TEST-ONLY host for the SMTP policy service. It
// stands in for saslguard-receiver until the service is wired into it: it runs
// SmtpPolicyService with a BlockView fed from a file and GuardEvents that log,
// so the Postfix integration test and bench/policy can drive the real library.
// It is not installed and not a product.
//
//   saslguard-policy-host --listen inet:127.0.0.1:PORT [--listen unix:/path]
//       [--socket-group GROUP]     group of unix sockets (e.g. postfix)
//       [--blocks FILE]            lines "login NAME" / "client IP"; '#' comments.
//                                  Re-read when it changes (checked every 20 ms,
//                                  as the receiver would update its BlockSet).
//       [--max-messages N] [--message-window S] [--max-recipients N]
//       [--recipient-window S] [--hold-for S] [--request-timeout MS]
//       [--max-connections N] [--log-level debug|info|warn|error]
//       [--busy-threads N]         threads spinning on the CPU (a busy worker)
//       [--baseline-dunno]         answer DUNNO without looking at anything
//                                  (the benchmark's baseline: same server, no decision)
//
// Logs (stderr, logfmt) the lines the tests wait for: "host: blocks loaded",
// "host: guard tripped", "host: held".
#include <sys/stat.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "saslguard/common/log.hpp"
#include "saslguard/common/signals.hpp"
#include "saslguard/receiver/smtp_policy/server.hpp"

using namespace saslguard;
using namespace saslguard::receiver::smtp_policy;

namespace {

class LoggingEvents : public GuardEvents {
public:
    void tripped(const GuardTrip& t) override {
        std::string clients;
        for (const auto& a : t.client_addresses) clients += (clients.empty() ? "" : ",") + a;
        log::warn("host: guard tripped", {{"user", t.user},
                                          {"exceeded", std::string(to_string(t.exceeded))},
                                          {"messages", std::to_string(t.counts.messages)},
                                          {"recipients", std::to_string(t.counts.recipients)},
                                          {"clients", clients},
                                          {"queue_id", t.queue_id}});
    }
    void held(const HeldMessage& m) override {
        log::info("host: held", {{"user", m.user}, {"queue_id", m.queue_id}});
    }
};

struct FileState {
    ino_t inode = 0;
    off_t size = -1;
    timespec mtime{};
    bool operator==(const FileState& o) const {
        return inode == o.inode && size == o.size && mtime.tv_sec == o.mtime.tv_sec &&
               mtime.tv_nsec == o.mtime.tv_nsec;
    }
};

FileState file_state(const std::string& path) {
    FileState s;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        s.inode = st.st_ino;
        s.size = st.st_size;
        s.mtime = st.st_mtim;
    }
    return s;
}

void load_blocks(const std::string& path, BlockSet& blocks, int generation) {
    std::vector<std::string> logins;
    std::vector<std::string> ips;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
        std::istringstream words(line);
        std::string kind;
        std::string value;
        if (!(words >> kind >> value) || kind[0] == '#') continue;
        if (kind == "login")
            logins.push_back(value);
        else if (kind == "client")
            ips.push_back(value);
    }
    const auto invalid = blocks.replace(logins, ips);
    log::info("host: blocks loaded", {{"logins", std::to_string(blocks.login_count())},
                                      {"clients", std::to_string(blocks.client_count())},
                                      {"invalid", std::to_string(invalid)},
                                      {"generation", std::to_string(generation)}});
}

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "saslguard-policy-host: " << why << "\n(see the comment at the top of "
              << "tests/receiver/smtp_policy/policy_host.cpp)\n";
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    block_shutdown_signals();
    SmtpPolicySettings settings;
    settings.enabled = true;
    settings.server.listen.clear();
    std::string blocks_path;
    int busy_threads = 0;
    bool baseline = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> long {
            const std::string v = value();
            char* end = nullptr;
            const long n = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || n < 0) usage(arg + ": not a number: " + v);
            return n;
        };
        if (arg == "--listen")
            settings.server.listen.push_back(value());
        else if (arg == "--blocks")
            blocks_path = value();
        else if (arg == "--socket-group")
            settings.server.socket_group = value();
        else if (arg == "--max-messages")
            settings.guard.limits.max_messages = static_cast<std::uint32_t>(number());
        else if (arg == "--max-recipients")
            settings.guard.limits.max_recipients = static_cast<std::uint32_t>(number());
        else if (arg == "--message-window")
            settings.guard.message_window = std::chrono::seconds(number());
        else if (arg == "--recipient-window")
            settings.guard.recipient_window = std::chrono::seconds(number());
        else if (arg == "--hold-for")
            settings.guard.hold_for = std::chrono::seconds(number());
        else if (arg == "--request-timeout")
            settings.server.request_timeout = std::chrono::milliseconds(number());
        else if (arg == "--max-connections")
            settings.server.max_connections = static_cast<std::size_t>(number());
        else if (arg == "--busy-threads")
            busy_threads = static_cast<int>(number());
        else if (arg == "--baseline-dunno")
            baseline = true;
        else if (arg == "--log-level") {
            if (!log::set_level(value())) usage("bad --log-level");
        } else
            usage("unknown argument " + arg);
    }
    if (settings.server.listen.empty()) usage("--listen is required");
    if (auto ok = validate(settings); !ok) usage(ok.error().message);

    // A busy worker: threads that keep a core busy (the policy thread must not care).
    std::atomic<bool> stop{false};
    std::vector<std::thread> busy;
    for (int i = 0; i < busy_threads; ++i)
        busy.emplace_back([&stop] {
            volatile std::uint64_t x = 0;
            while (!stop.load(std::memory_order_relaxed))
                for (int k = 0; k < 100000; ++k) x = x + static_cast<std::uint64_t>(k);
        });

    BlockSet blocks;
    LoggingEvents events;
    FileState seen;
    int generation = 0;
    if (!blocks_path.empty()) {
        seen = file_state(blocks_path);
        load_blocks(blocks_path, blocks, generation);
    }

    std::unique_ptr<SmtpPolicyService> service;
    std::unique_ptr<PolicyServer> trivial;
    Result<void> started;
    if (baseline) {
        trivial = std::make_unique<PolicyServer>(settings.server,
                                                 [](const PolicyRequest&) { return Verdict{}; });
        started = trivial->start();
    } else {
        service = std::make_unique<SmtpPolicyService>(settings, blocks, events);
        started = service->start();
    }
    if (!started) {
        log::error("host: cannot start", {{"error", started.error().message}});
        stop = true;
        for (auto& t : busy) t.join();
        return 1;
    }
    for (const auto& a : baseline ? trivial->bound() : service->bound())
        std::cout << "listening " << a.text() << std::endl;

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    const timespec period{0, 20 * 1000 * 1000};
    for (;;) {
        if (sigtimedwait(&set, nullptr, &period) > 0) break;
        if (blocks_path.empty()) continue;
        const FileState now = file_state(blocks_path);
        if (!(now == seen)) {
            seen = now;
            load_blocks(blocks_path, blocks, ++generation);
        }
    }
    // The server's own answer times (read() of a request to its answer handed
    // to the kernel), as the receiver's histogram will show them. Printed on
    // stdout for bench/policy: "ANSWER_TIMES le_50us=… … count=…" (cumulative).
    const ServerStats st = service ? service->server_stats() : trivial->stats();
    std::cout << "ANSWER_TIMES";
    for (std::size_t i = 0; i < ServerStats::kLatencyBounds.size(); ++i)
        std::cout << " le_" << static_cast<long>(ServerStats::kLatencyBounds[i] * 1e6)
                  << "us=" << st.latency_le[i];
    std::cout << " count=" << st.latency_count << " sum_s=" << st.latency_sum_seconds << std::endl;
    if (service) {
        log::info("host: stopping",
                  {{"dunno", std::to_string(st.answers[static_cast<std::size_t>(Action::Dunno)])},
                   {"reject", std::to_string(st.answers[static_cast<std::size_t>(Action::Reject)])},
                   {"hold", std::to_string(st.answers[static_cast<std::size_t>(Action::Hold)])},
                   {"trips", std::to_string(service->guard_stats().trips)}});
        service->stop();
    }
    if (trivial) trivial->stop();
    stop = true;
    for (auto& t : busy) t.join();
    return 0;
}
