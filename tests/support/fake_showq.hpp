#pragma once
// Test helpers for the showq reader and the queue collector: the captured
// fixtures and a unix-socket server that replays them. The server stands in for
// Postfix only to make faults exact (a stall mid-answer, a cut); every byte it
// sends is a real capture (tests/fixtures/showq/README.md).
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

#include "test_support.hpp"

namespace saslguard::test {

inline std::string showq_fixture(const std::string& name) {
    std::ifstream in(std::string(SASLGUARD_FIXTURES_DIR) + "/showq/" + name, std::ios::binary);
    REQUIRE(in.good());
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

// A unix stream socket bound to `path` (not listening yet).
inline int bind_unix_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    return fd;
}

// Serves every connection with the current bytes, then closes it, or with
// hold_open keeps it open (a stalled showq) until the server is destroyed.
// With a `dribble` delay it sends one byte per delay (a slow, never idle peer).
class FakeShowq {
public:
    FakeShowq(std::string bytes, bool hold_open, std::chrono::milliseconds dribble = {})
        : m_bytes(std::move(bytes)), m_hold(hold_open), m_dribble(dribble) {
        m_path = m_dir.path("showq");
        m_listen = bind_unix_socket(m_path);
        REQUIRE(::listen(m_listen, 16) == 0);
        m_thread = std::thread([this] { serve(); });
    }
    FakeShowq(const FakeShowq&) = delete;
    FakeShowq& operator=(const FakeShowq&) = delete;
    ~FakeShowq() {
        m_stop = true;
        ::shutdown(m_listen, SHUT_RDWR);  // wakes accept()
        m_thread.join();
        ::close(m_listen);
    }

    const std::string& path() const { return m_path; }
    void set_bytes(std::string bytes) {
        std::lock_guard lock(m_mutex);
        m_bytes = std::move(bytes);
    }
    int connections() const { return m_connections; }

private:
    void serve() {
        while (!m_stop) {
            const int c = ::accept(m_listen, nullptr, nullptr);
            if (c < 0) return;
            ++m_connections;
            std::string bytes;
            {
                std::lock_guard lock(m_mutex);
                bytes = m_bytes;
            }
            std::size_t off = 0;
            while (off < bytes.size() && !m_stop) {
                const std::size_t len = m_dribble.count() > 0 ? 1 : bytes.size() - off;
                if (m_dribble.count() > 0) std::this_thread::sleep_for(m_dribble);
                const ssize_t n =
                    ::send(c, bytes.data() + off, len, MSG_NOSIGNAL);  // the reader may have gone
                if (n <= 0) break;
                off += static_cast<std::size_t>(n);
            }
            while (m_hold && !m_stop) std::this_thread::sleep_for(std::chrono::milliseconds(5));
            ::close(c);
        }
    }

    std::mutex m_mutex;
    std::string m_bytes;
    const bool m_hold;
    const std::chrono::milliseconds m_dribble;
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_connections{0};
    TempDir m_dir{"saslguard-showq-test"};  // removed (with the socket) last
    std::string m_path;
    int m_listen = -1;
    std::thread m_thread;
};

}  // namespace saslguard::test
