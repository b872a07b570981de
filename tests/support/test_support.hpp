#pragma once
// What every unit and integration test in C++ needs, once: a private temporary
// directory removed afterwards, waiting for a condition instead of sleeping, and
// a free TCP port on 127.0.0.1 for a server the test starts.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>

namespace saslguard::test {

// A fresh directory under $TMPDIR (mkdtemp), removed with everything in it.
class TempDir {
public:
    explicit TempDir(const std::string& prefix = "saslguard-test") {
        std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        m_root = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(m_root, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& root() const { return m_root; }
    std::string path(const std::string& name) const { return m_root + "/" + name; }
    // Writes `content` to `name` inside the directory; returns the full path.
    std::string write(const std::string& name, const std::string& content) const {
        std::ofstream(path(name), std::ios::binary) << content;
        return path(name);
    }
    // The same with mode 0600, as the receiver wants its secret files.
    std::string write_secret(const std::string& name, const std::string& content) const {
        write(name, content);
        std::filesystem::permissions(
            path(name), std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        return path(name);
    }

private:
    std::string m_root;
};

// Checks `cond` every 20 ms until it holds or `timeout` passes; returns whether it held.
inline bool wait_until(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (cond()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return cond();
}

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice).
inline int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

}  // namespace saslguard::test
