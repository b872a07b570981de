#include "saslguard/receiver/mitigation/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace saslguard::receiver::mitigation {

Result<FileLock> FileLock::acquire(std::mutex& mutex, const std::string& path) {
    std::unique_lock<std::mutex> guard(mutex);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return make_error("lock file " + path + ": " + std::strerror(errno));
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno == EINTR) continue;
        Error e = make_error("flock " + path + ": " + std::strerror(errno));
        ::close(fd);
        return e;
    }
    return FileLock(std::move(guard), fd);
}

FileLock::FileLock(FileLock&& other) noexcept
    : m_guard(std::move(other.m_guard)), m_fd(other.m_fd) {
    other.m_fd = -1;
}

FileLock::~FileLock() {
    if (m_fd >= 0) ::close(m_fd);  // closing the last descriptor releases the flock
}

}  // namespace saslguard::receiver::mitigation
