// policy_loadgen: an open-loop load generator for a Postfix policy service.
//
// It plays N Postfix smtpd processes: N persistent connections, each with at
// most one request in flight (Postfix waits for the answer), requests at a
// fixed total rate scheduled in advance (open loop: a slow answer does not slow
// the schedule). Requests are real-sized Postfix 3.7 requests (the attribute
// list of tests/receiver/smtp_policy/fixtures), alternating RCPT and
// END-OF-MESSAGE, spread over --users distinct SASL logins.
//
// Latency is measured here, at the source: from just before write() of a
// request to the read() that completes its answer. The schedule lag (how late a
// request was written compared with its slot: the generator's own delay, or a
// connection still waiting for the previous answer) is reported beside it, so
// a stall of the server cannot hide (it shows up as lag).
//
//   policy_loadgen --connect 127.0.0.1:PORT [--rate 2000] [--connections 50]
//                  [--duration 20] [--warmup 2] [--users 10000]
// Prints one line: RESULT key=value ...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.0.1";
    int port = 0;
    double rate = 2000;
    int connections = 50;
    double duration = 20;
    double warmup = 2;
    int users = 10000;
};

[[noreturn]] void die(const std::string& why) {
    std::fprintf(stderr, "policy_loadgen: %s\n", why.c_str());
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) die(a + " needs a value");
        const std::string v = argv[++i];
        if (a == "--connect") {
            const auto colon = v.rfind(':');
            if (colon == std::string::npos) die("--connect HOST:PORT");
            o.host = v.substr(0, colon);
            if (o.host.rfind("inet:", 0) == 0) o.host = o.host.substr(5);
            o.port = std::atoi(v.c_str() + colon + 1);
        } else if (a == "--rate")
            o.rate = std::atof(v.c_str());
        else if (a == "--connections")
            o.connections = std::atoi(v.c_str());
        else if (a == "--duration")
            o.duration = std::atof(v.c_str());
        else if (a == "--warmup")
            o.warmup = std::atof(v.c_str());
        else if (a == "--users")
            o.users = std::atoi(v.c_str());
        else
            die("unknown argument " + a);
    }
    if (o.port <= 0 || o.rate <= 0 || o.connections <= 0 || o.duration <= 0 || o.users <= 0)
        die("bad arguments");
    return o;
}

// A request as Postfix 3.7 sends it (attribute list and order of the fixtures).
std::string request(bool eom, int user, int n) {
    const std::string login = "user" + std::to_string(user) + "@bench.test";
    std::string r;
    r.reserve(640);
    r += "request=smtpd_access_policy\nprotocol_state=";
    r += eom ? "END-OF-MESSAGE" : "RCPT";
    r += "\nprotocol_name=ESMTP\nclient_address=192.0.2." + std::to_string(user % 250 + 1);
    r += "\nclient_name=client.bench.test\nclient_port=" + std::to_string(40000 + n % 20000);
    r += "\nreverse_client_name=client.bench.test\nserver_address=127.0.0.1\nserver_port=587";
    r += "\nhelo_name=client.bench.test\nsender=" + login +
         "\nrecipient=rcpt@remote.example\nrecipient_count=";
    r += eom ? "1" : "0";
    r += "\nqueue_id=";
    if (eom) {
        char qid[16];
        std::snprintf(qid, sizeof qid, "%011X", static_cast<unsigned>(n));
        r += qid;
    }
    r += "\ninstance=" + std::to_string(n) + ".6b0cc64a.5fb35.0\nsize=";
    r += eom ? "1234" : "0";
    r += "\netrn_domain=\nstress=\nsasl_method=PLAIN\nsasl_username=" + login;
    r += "\nsasl_sender=\nccert_subject=\nccert_issuer=\nccert_fingerprint=\n"
         "ccert_pubkey_fingerprint=\nencryption_protocol=\nencryption_cipher=\n"
         "encryption_keysize=0\npolicy_context=\n\n";
    return r;
}

struct Pending {
    Clock::time_point slot;  // when the schedule wanted it written
    std::string text;
    bool measured;  // after warm-up
};

struct Conn {
    int fd = -1;
    std::deque<Pending> queue;  // waiting to be written (one in flight at a time)
    bool in_flight = false;
    Clock::time_point sent;
    bool measured = false;
    std::string in;
};

double pct(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return v[k];
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    const int ep = epoll_create1(0);
    std::vector<Conn> conns(static_cast<std::size_t>(o.connections));
    for (std::size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        c.fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_port = htons(static_cast<std::uint16_t>(o.port));
        inet_pton(AF_INET, o.host.c_str(), &sin.sin_addr);
        if (connect(c.fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0)
            die("connect: " + std::string(std::strerror(errno)));
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i + 1;
        epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
    }
    const int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    epoll_event tev{};
    tev.events = EPOLLIN;
    tev.data.u64 = 0;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);

    const auto start = Clock::now() + std::chrono::milliseconds(50);
    const auto interval = std::chrono::duration<double>(1.0 / o.rate);
    const auto total = static_cast<long>((o.warmup + o.duration) * o.rate);
    const auto warm = static_cast<long>(o.warmup * o.rate);
    long next = 0;  // index of the next request to schedule
    long answered = 0;
    long errors = 0;
    std::vector<double> latency_us;
    std::vector<double> lag_us;
    latency_us.reserve(static_cast<std::size_t>(total));
    lag_us.reserve(static_cast<std::size_t>(total));
    std::map<std::string, long> actions;

    auto slot_of = [&](long i) {
        return start +
               std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(i));
    };
    auto write_next = [&](Conn& c) {
        if (c.in_flight || c.queue.empty()) return;
        Pending p = std::move(c.queue.front());
        c.queue.pop_front();
        c.sent = Clock::now();
        c.measured = p.measured;
        if (p.measured)
            lag_us.push_back(std::chrono::duration<double, std::micro>(c.sent - p.slot).count());
        std::size_t off = 0;
        while (off < p.text.size()) {
            const ssize_t n = write(c.fd, p.text.data() + off, p.text.size() - off);
            if (n <= 0) die("write: " + std::string(std::strerror(errno)));
            off += static_cast<std::size_t>(n);
        }
        c.in_flight = true;
    };
    auto arm = [&](Clock::time_point when) {
        itimerspec its{};
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(when.time_since_epoch()).count();
        its.it_value.tv_sec = ns / 1000000000;
        its.it_value.tv_nsec = ns % 1000000000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
        timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
    };
    arm(slot_of(0));
    epoll_event events[64];
    const auto give_up = slot_of(total) + std::chrono::seconds(10);
    while (answered + errors < total && Clock::now() < give_up) {
        const int n = epoll_wait(ep, events, 64, 1000);
        for (int i = 0; i < n; ++i) {
            if (events[i].data.u64 == 0) {
                std::uint64_t expirations = 0;
                [[maybe_unused]] auto r = read(tfd, &expirations, sizeof expirations);
                const auto now = Clock::now();
                while (next < total && slot_of(next) <= now) {
                    Conn& c = conns[static_cast<std::size_t>(next) % conns.size()];
                    const int user = static_cast<int>((next / 2) % o.users);
                    c.queue.push_back({slot_of(next),
                                       request(next % 2 == 1, user, static_cast<int>(next)),
                                       next >= warm});
                    write_next(c);
                    ++next;
                }
                if (next < total) arm(slot_of(next));
                continue;
            }
            Conn& c = conns[events[i].data.u64 - 1];
            char buf[4096];
            const ssize_t r = read(c.fd, buf, sizeof buf);
            if (r <= 0) die("the server closed a connection");
            const auto now = Clock::now();
            c.in.append(buf, static_cast<std::size_t>(r));
            std::size_t end;
            while ((end = c.in.find("\n\n")) != std::string::npos) {
                const std::string answer = c.in.substr(0, end);
                c.in.erase(0, end + 2);
                if (!c.in_flight) {
                    ++errors;  // an answer nobody asked for
                    continue;
                }
                c.in_flight = false;
                ++answered;
                if (c.measured)
                    latency_us.push_back(
                        std::chrono::duration<double, std::micro>(now - c.sent).count());
                const auto sp = answer.find(' ');
                actions[answer.substr(7, sp == std::string::npos ? std::string::npos : sp - 7)]++;
                write_next(c);
            }
        }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    std::string mix;
    for (const auto& [a, k] : actions)
        mix += (mix.empty() ? "" : ",") + a + ":" + std::to_string(k);
    std::printf(
        "RESULT requests=%ld answered=%ld errors=%ld measured=%zu rate=%.0f connections=%d "
        "achieved_rate=%.0f p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
        "lag_p99_us=%.1f lag_max_us=%.1f actions=%s\n",
        total, answered, errors, latency_us.size(), o.rate, o.connections,
        static_cast<double>(answered) / elapsed, pct(latency_us, 50), pct(latency_us, 90),
        pct(latency_us, 99), pct(latency_us, 99.9), pct(latency_us, 100), pct(lag_us, 99),
        pct(lag_us, 100), mix.c_str());
    return answered == total && errors == 0 ? 0 : 1;
}
