// The policy server over real sockets on 127.0.0.1 and in a temporary
// directory: the clients are plain blocking sockets playing Postfix's part
// (one connection per smtpd process, requests one after the other).
#include <catch2/catch.hpp>

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "policy_test_support.hpp"
#include "saslguard/receiver/smtp_policy/server.hpp"
#include "test_support.hpp"

using namespace saslguard::receiver::smtp_policy;
using namespace std::chrono_literals;

namespace {

const std::string kDunno = "action=DUNNO\n\n";

SmtpPolicySettings test_settings() {
    SmtpPolicySettings s;
    s.enabled = true;
    s.server.listen = {"inet:127.0.0.1:0"};
    return s;
}

// Waits (polling the server's own counters) until `pred` holds; false after 20 s.
template <class Pred>
bool eventually(Pred pred) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(5ms);
    }
    return pred();
}

std::uint64_t answers(const ServerStats& s, Action a) {
    return s.answers[static_cast<std::size_t>(a)];
}

long rss_kib() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

struct Service {
    BlockSet blocks;
    RecordingEvents events;
    SmtpPolicyService service;
    explicit Service(SmtpPolicySettings s = test_settings())
        : service(std::move(s), blocks, events) {
        auto r = service.start();
        if (!r) FAIL(r.error().message);
    }
    ListenAddress address() const { return service.bound().at(0); }
};

}  // namespace

TEST_CASE("the server answers real Postfix requests over one persistent TCP connection") {
    SmtpPolicySettings s = test_settings();
    s.guard.limits = {1000, 10000};  // 100 messages are no surge here
    Service svc(s);
    const ListenAddress a = svc.address();
    CHECK(a.port != 0);
    PolicyClient c(a);
    REQUIRE(c.connected());
    CHECK(c.ask(read_fixture("postfix-3.7-rcpt-unauthenticated.request")) == kDunno);
    for (int i = 0; i < 100; ++i) {
        REQUIRE(c.ask(read_fixture("postfix-3.7-rcpt.request")) == kDunno);
        REQUIRE(c.ask(read_fixture("postfix-3.7-end-of-message.request")) == kDunno);
    }
    // The answer time is recorded once the answer is handed to the kernel, so
    // the client may read the last answer a moment before it is counted.
    saslguard::test::wait_until([&] { return svc.service.server_stats().latency_count == 201; });
    const auto st = svc.service.server_stats();
    CHECK(answers(st, Action::Dunno) == 201);
    CHECK(st.connections_accepted == 1);
    CHECK(st.connections_open == 1);
    CHECK(st.latency_count == 201);
    CHECK(st.latency_le.back() == 201);
    CHECK(svc.service.guard_stats().tracked_users == 1);
}

TEST_CASE("a login blocked while the connection is open is refused by the very next request") {
    Service svc;
    PolicyClient c(svc.address());
    REQUIRE(c.ask(rcpt("alice@example.com")) == kDunno);
    svc.blocks.block_login("Alice@Example.com");
    CHECK(c.ask(rcpt("alice@example.com")) ==
          "action=REJECT " + svc.service.settings().login_reject_text + "\n\n");
    CHECK(c.ask(rcpt("bob@example.com")) == kDunno);
    svc.blocks.unblock_login("alice@example.com");
    CHECK(c.ask(rcpt("alice@example.com")) == kDunno);
    svc.blocks.block_client("192.0.2.10");
    CHECK(c.ask(rcpt("bob@example.com", "192.0.2.10")) ==
          "action=REJECT " + svc.service.settings().client_reject_text + "\n\n");
    CHECK(answers(svc.service.server_stats(), Action::Reject) == 2);
}

TEST_CASE("a burst over the guard's limit is held and reported once, over the socket") {
    SmtpPolicySettings s = test_settings();
    s.guard.limits = {2, 0};
    Service svc(s);
    PolicyClient c(svc.address());
    CHECK(c.ask(eom("burst@example.com", 1, "192.0.2.1", "A1")) == kDunno);
    CHECK(c.ask(eom("burst@example.com", 1, "192.0.2.1", "A2")) == kDunno);
    const std::string held = c.ask(eom("burst@example.com", 1, "192.0.2.1", "A3"));
    CHECK(held ==
          "action=HOLD saslguard sending guard holds mail of burst@example.com (3 messages/1m, 3 "
          "recipients/10m)\n\n");
    CHECK(c.ask(rcpt("burst@example.com")).rfind("action=HOLD ", 0) == 0);
    CHECK(c.ask(eom("burst@example.com", 1, "192.0.2.1", "A4")).rfind("action=HOLD ", 0) == 0);
    CHECK(c.ask(eom("other@example.com")) == kDunno);
    REQUIRE(svc.events.trips().size() == 1);
    CHECK(svc.events.trips()[0].user == "burst@example.com");
    CHECK(svc.events.held().size() == 2);
    CHECK(answers(svc.service.server_stats(), Action::Hold) == 3);
    // The receiver clears the user (admin released the mail): DUNNO again.
    CHECK(svc.service.guard().clear("burst@example.com", 1h));
    CHECK(c.ask(eom("burst@example.com")) == kDunno);
}

TEST_CASE("malformed requests are answered DUNNO, counted by kind, and the connection goes on") {
    Service svc;
    PolicyClient c(svc.address());
    CHECK(c.ask("this is not a policy request\n\n") == kDunno);
    CHECK(c.ask("protocol_state=RCPT\nsasl_username=x\n\n") == kDunno);
    CHECK(c.ask("request=smtpd_access_policy\nrecipient_count=many\n\n") == kDunno);
    CHECK(c.ask("request=smtpd_access_policy\n" + std::string(20000, 'h') + "=x\n\n") == kDunno);
    // Still in step: a valid request after them is answered as such.
    svc.blocks.block_login("x");
    CHECK(c.ask(rcpt("x")).rfind("action=REJECT", 0) == 0);
    const auto st = svc.service.server_stats();
    CHECK(st.parse_errors[static_cast<std::size_t>(ParseError::MalformedLine)] == 1);
    CHECK(st.parse_errors[static_cast<std::size_t>(ParseError::NotPolicyRequest)] == 1);
    CHECK(st.parse_errors[static_cast<std::size_t>(ParseError::BadValue)] == 1);
    CHECK(st.parse_errors[static_cast<std::size_t>(ParseError::LineTooLong)] == 1);
    CHECK(answers(st, Action::Dunno) == 4);
    CHECK(st.connections_open == 1);
}

TEST_CASE("a request without sasl_username is DUNNO over the socket") {
    Service svc;
    PolicyClient c(svc.address());
    CHECK(c.ask(policy_request({{"protocol_state", "RCPT"},
                                {"client_address", "192.0.2.1"},
                                {"sasl_username", ""}})) == kDunno);
    CHECK(c.ask(policy_request({{"protocol_state", "RCPT"}})) == kDunno);
}

TEST_CASE("a client that never sends the empty line gets DUNNO and is closed at the deadline") {
    SmtpPolicySettings s = test_settings();
    s.server.request_timeout = 300ms;
    Service svc(s);
    PolicyClient c(svc.address());
    REQUIRE(c.send_text("request=smtpd_access_policy\nprotocol_state=RCPT\nsasl_username=a\n"));
    CHECK(c.read_answer(20s) == kDunno);
    CHECK(c.closed_by_server());
    CHECK(svc.service.server_stats().request_timeouts == 1);

    // Trickling a byte at a time does not extend the deadline: it runs from the
    // request's first byte.
    PolicyClient slow(svc.address());
    REQUIRE(slow.send_text("request=smtpd_access_policy\n"));
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    while (!closed && std::chrono::steady_clock::now() - start < 20s) {
        if (!slow.send_text("x")) break;
        closed = slow.closed_by_server(50ms);
    }
    CHECK((closed || slow.closed_by_server()));
    CHECK(slow.unread() == kDunno);
    CHECK(svc.service.server_stats().request_timeouts == 2);
    // Others are served meanwhile and after.
    PolicyClient ok(svc.address());
    CHECK(ok.ask(rcpt("b")) == kDunno);
}

TEST_CASE("an idle connection is closed after idle_timeout, an active one is not") {
    SmtpPolicySettings s = test_settings();
    s.server.request_timeout = 200ms;
    s.server.idle_timeout = 400ms;
    Service svc(s);
    PolicyClient idle(svc.address());
    REQUIRE(idle.ask(rcpt("a")) == kDunno);
    CHECK(idle.closed_by_server());
    CHECK(idle.unread().empty());
    CHECK(svc.service.server_stats().idle_closed == 1);
}

TEST_CASE("a client that does not read its answers is paused, with bounded memory") {
    SmtpPolicySettings s = test_settings();
    Service svc(s);
    PolicyClient c(svc.address());
    const std::string one = "request=smtpd_access_policy\n\n";
    // More answers (14 MB) than loopback socket buffers can hold, so the server must pause.
    constexpr int kRequests = 1000000;
    std::thread writer([&] {
        std::string batch;
        for (int i = 0; i < 1000; ++i) batch += one;
        for (int i = 0; i < kRequests / 1000; ++i)
            if (!c.send_text(batch)) break;
    });
    // The server stops reading once its pending answers pass max_output_bytes.
    std::this_thread::sleep_for(500ms);
    const auto mid = svc.service.server_stats();
    CHECK(answers(mid, Action::Dunno) < kRequests);
    int got = 0;
    while (got < kRequests) {
        if (c.read_answer(20s) != kDunno) break;
        ++got;
    }
    writer.join();
    CHECK(got == kRequests);
    REQUIRE(eventually([&] {
        return svc.service.server_stats().buffered_bytes <
               s.server.max_output_bytes * 2 + s.server.parser.max_line_bytes * 2 + 4096;
    }));
}

TEST_CASE("10,000 connections: the cap holds, nothing crashes, memory stays bounded") {
    // The test process holds every client socket, plus the server's side.
    rlimit lim{};
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    const std::size_t cap = 1000;
    const std::size_t wanted = 10000;
    const std::size_t clients = std::min<std::size_t>(wanted, lim.rlim_cur - cap - 200);
    INFO("RLIMIT_NOFILE " << lim.rlim_cur << ": " << clients << " clients");
    REQUIRE(clients >= 4 * cap);

    SmtpPolicySettings s = test_settings();
    s.server.max_connections = cap;
    Service svc(s);
    const long rss_before = rss_kib();
    std::vector<std::unique_ptr<PolicyClient>> conns;
    conns.reserve(clients);
    for (std::size_t i = 0; i < clients; ++i) {
        conns.push_back(std::make_unique<PolicyClient>(svc.address()));
        // A backlog overflow makes connect() fail or wait; neither may crash the server.
        if (!conns.back()->connected()) conns.pop_back();
    }
    INFO("connected " << conns.size());
    REQUIRE(conns.size() > 2 * cap);
    REQUIRE(eventually([&] {
        auto st = svc.service.server_stats();
        return st.connections_accepted + st.connections_refused >= conns.size();
    }));
    auto st = svc.service.server_stats();
    CHECK(st.connections_open == cap);
    CHECK(st.connections_accepted == cap);
    CHECK(st.connections_refused == conns.size() - cap);
    // The established connections keep working (the first ones were accepted
    // first) and a refused one was closed by the server.
    CHECK(conns.front()->ask(rcpt("a")) == kDunno);
    CHECK(conns[cap - 1]->ask(rcpt("a")) == kDunno);
    CHECK(conns.back()->closed_by_server());
    const long rss_during = rss_kib();
    // Stated bound: ~1 KiB per open connection in the server; allow 32 MiB.
    CHECK(rss_during - rss_before < 32 * 1024);
    REQUIRE(eventually([&] { return svc.service.server_stats().buffered_bytes < cap * 2048; }));

    conns.clear();
    REQUIRE(eventually([&] { return svc.service.server_stats().connections_open == 0; }));
    PolicyClient after(svc.address());
    CHECK(after.ask(rcpt("a")) == kDunno);
}

TEST_CASE("a unix socket is created with its mode, replaces a stale one and is removed at stop") {
    saslguard::test::TempDir dir{"saslguard-policy"};
    const std::string path = dir.root() + "/policy.sock";
    // A stale socket file, as a killed receiver leaves it.
    {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::strncpy(sun.sun_path, path.c_str(), sizeof sun.sun_path - 1);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0);
        close(fd);
    }
    SmtpPolicySettings s = test_settings();
    s.server.listen = {"unix:" + path, "inet:127.0.0.1:0"};
    s.server.socket_mode = 0660;
    {
        Service svc(s);
        struct stat st {};
        REQUIRE(stat(path.c_str(), &st) == 0);
        CHECK(S_ISSOCK(st.st_mode));
        CHECK((st.st_mode & 0777) == 0660);
        REQUIRE(svc.service.bound().size() == 2);
        PolicyClient ux(svc.service.bound()[0]);
        REQUIRE(ux.connected());
        CHECK(ux.ask(rcpt("u")) == kDunno);
        PolicyClient tcp(svc.service.bound()[1]);
        CHECK(tcp.ask(rcpt("u")) == kDunno);

        // A second service on the same live socket is refused, the first keeps it.
        BlockSet blocks;
        RecordingEvents events;
        SmtpPolicySettings again = s;
        again.server.listen = {"unix:" + path};
        SmtpPolicyService second(again, blocks, events);
        auto r = second.start();
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("another process is listening"));
        PolicyClient still(svc.service.bound()[0]);
        CHECK(still.ask(rcpt("u")) == kDunno);
    }
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a listen path that is a regular file is never replaced") {
    saslguard::test::TempDir dir{"saslguard-policy"};
    const std::string path = dir.root() + "/not-a-socket";
    std::ofstream(path) << "keep me";
    SmtpPolicySettings s = test_settings();
    s.server.listen = {"inet:127.0.0.1:0", "unix:" + path};
    BlockSet blocks;
    RecordingEvents events;
    SmtpPolicyService svc(s, blocks, events);
    auto r = svc.start();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("exists and is not a socket"));
    std::ifstream in(path);
    std::string content;
    std::getline(in, content);
    CHECK(content == "keep me");
}

TEST_CASE("a port in use is a clear start error, and stop is idempotent") {
    Service first;
    SmtpPolicySettings s = test_settings();
    s.server.listen = {first.address().text()};
    BlockSet blocks;
    RecordingEvents events;
    SmtpPolicyService second(s, blocks, events);
    auto r = second.start();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("Address already in use"));
    second.stop();
    first.service.stop();
    first.service.stop();
    PolicyClient gone(first.address());
    CHECK_FALSE(gone.connected());
}

TEST_CASE("a decision that throws is answered DUNNO and the server goes on") {
    ServerSettings s;
    s.listen = {"inet:127.0.0.1:0"};
    int calls = 0;
    PolicyServer server(s, [&calls](const PolicyRequest& r) -> Verdict {
        if (++calls == 1) throw std::runtime_error("a broken BlockView");
        return {Action::Reject, Reason::LoginBlocked, "5.7.1 " + r.sasl_username};
    });
    REQUIRE(server.start().ok());
    PolicyClient c(server.bound().at(0));
    CHECK(c.ask(rcpt("a")) == kDunno);
    CHECK(c.ask(rcpt("b")) == "action=REJECT 5.7.1 b\n\n");
    server.stop();
}
