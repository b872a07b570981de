#pragma once
// Serializes mitigation work both inside one process (a mutex: flock locks are
// per open file description, so two threads of one process would not exclude
// each other) and across processes (flock on a lock file: the receiver and
// saslguardctl). Blocks until acquired.
#include <mutex>
#include <string>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::mitigation {

class FileLock {
public:
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;
    FileLock(FileLock&& other) noexcept;
    FileLock& operator=(FileLock&&) = delete;
    ~FileLock();

    // Takes `mutex`, then an exclusive flock on `path` (created 0600 when missing).
    // Fails (releasing the mutex) when the lock file cannot be opened.
    static Result<FileLock> acquire(std::mutex& mutex, const std::string& path);

private:
    FileLock(std::unique_lock<std::mutex> guard, int fd) : m_guard(std::move(guard)), m_fd(fd) {}
    std::unique_lock<std::mutex> m_guard;
    int m_fd = -1;
};

}  // namespace saslguard::receiver::mitigation
