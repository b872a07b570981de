#pragma once
// Helpers for the policy service tests: fixtures, request text, a hand-driven
// clock, a recording GuardEvents, and a blocking client over a real socket.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "saslguard/receiver/smtp_policy/decider.hpp"
#include "saslguard/receiver/smtp_policy/guard.hpp"
#include "saslguard/receiver/smtp_policy/settings.hpp"

inline std::string read_fixture(const std::string& name) {
    std::ifstream in(
        std::string(SASLGUARD_SOURCE_DIR) + "/tests/receiver/smtp_policy/fixtures/" + name,
        std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty()) throw std::runtime_error("missing fixture " + name);
    return ss.str();
}

using Attributes = std::vector<std::pair<std::string, std::string>>;

// A request as Postfix writes it: request=smtpd_access_policy first, then the
// given attributes, then the empty line.
inline std::string policy_request(const Attributes& attrs) {
    std::string out = "request=smtpd_access_policy\n";
    for (const auto& [k, v] : attrs) out += k + "=" + v + "\n";
    return out + "\n";
}

inline std::string rcpt(const std::string& user, const std::string& client = "192.0.2.10") {
    return policy_request({{"protocol_state", "RCPT"},
                           {"client_address", client},
                           {"sasl_username", user},
                           {"recipient_count", "0"}});
}

inline std::string eom(const std::string& user, int recipients = 1,
                       const std::string& client = "192.0.2.10",
                       const std::string& queue_id = "4ABCDEF0123") {
    return policy_request({{"protocol_state", "END-OF-MESSAGE"},
                           {"client_address", client},
                           {"sasl_username", user},
                           {"recipient_count", std::to_string(recipients)},
                           {"queue_id", queue_id}});
}

// Time moved by hand.
struct FakeClock {
    std::chrono::steady_clock::time_point steady{std::chrono::hours(1000)};
    std::chrono::system_clock::time_point wall{std::chrono::seconds(1700000000)};
    void advance(std::chrono::milliseconds d) {
        steady += d;
        wall += d;
    }
    saslguard::receiver::smtp_policy::PolicyClock policy_clock() {
        return {[this] { return steady; }, [this] { return wall; }};
    }
};

// What the receiver's GuardEvents would receive. Thread-safe: the server calls
// it on its own thread while the test reads.
class RecordingEvents : public saslguard::receiver::smtp_policy::GuardEvents {
public:
    void tripped(const saslguard::receiver::smtp_policy::GuardTrip& t) override {
        std::lock_guard lock(m_mutex);
        m_trips.push_back(t);
    }
    void held(const saslguard::receiver::smtp_policy::HeldMessage& m) override {
        std::lock_guard lock(m_mutex);
        m_held.push_back(m);
    }
    std::vector<saslguard::receiver::smtp_policy::GuardTrip> trips() const {
        std::lock_guard lock(m_mutex);
        return m_trips;
    }
    std::vector<saslguard::receiver::smtp_policy::HeldMessage> held() const {
        std::lock_guard lock(m_mutex);
        return m_held;
    }

private:
    mutable std::mutex m_mutex;
    std::vector<saslguard::receiver::smtp_policy::GuardTrip> m_trips;
    std::vector<saslguard::receiver::smtp_policy::HeldMessage> m_held;
};

// A blocking client, one connection, like one Postfix smtpd process.
class PolicyClient {
public:
    explicit PolicyClient(const saslguard::receiver::smtp_policy::ListenAddress& a) {
        using Kind = saslguard::receiver::smtp_policy::ListenAddress::Kind;
        if (a.kind == Kind::Unix) {
            m_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_un sun{};
            sun.sun_family = AF_UNIX;
            std::strncpy(sun.sun_path, a.path.c_str(), sizeof sun.sun_path - 1);
            m_connected = connect(m_fd, reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0;
        } else {
            m_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in sin{};
            sin.sin_family = AF_INET;
            sin.sin_port = htons(a.port);
            inet_pton(AF_INET, a.host.c_str(), &sin.sin_addr);
            m_connected = connect(m_fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) == 0;
        }
    }
    ~PolicyClient() {
        if (m_fd >= 0) close(m_fd);
    }
    PolicyClient(const PolicyClient&) = delete;
    PolicyClient& operator=(const PolicyClient&) = delete;

    bool connected() const { return m_connected; }
    int fd() const { return m_fd; }

    bool send_text(std::string_view text) {
        while (!text.empty()) {
            const ssize_t n = ::send(m_fd, text.data(), text.size(), MSG_NOSIGNAL);
            if (n <= 0) return false;
            text.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // Reads one answer (up to "\n\n"); empty when the server closed the
    // connection or nothing came within `timeout`.
    std::string read_answer(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto end = m_buf.find("\n\n"); end != std::string::npos) {
                std::string answer = m_buf.substr(0, end + 2);
                m_buf.erase(0, end + 2);
                return answer;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return {};
            pollfd p{m_fd, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
            char buf[4096];
            const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
            if (n <= 0) {
                m_eof = true;
                return {};
            }
            m_buf.append(buf, static_cast<std::size_t>(n));
        }
    }

    std::string ask(const std::string& request) {
        if (!send_text(request)) return {};
        return read_answer();
    }

    // True when the server closes the connection within `timeout`.
    bool closed_by_server(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        if (m_eof) return true;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{m_fd, POLLIN, 0};
            if (poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
            char buf[4096];
            const ssize_t n = ::recv(m_fd, buf, sizeof buf, 0);
            if (n <= 0) return m_eof = true;
            m_buf.append(buf, static_cast<std::size_t>(n));
        }
    }
    // Bytes received but not returned as an answer yet.
    const std::string& unread() const { return m_buf; }

private:
    int m_fd = -1;
    bool m_connected = false;
    bool m_eof = false;
    std::string m_buf;
};
