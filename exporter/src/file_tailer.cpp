#include "file_tailer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>

namespace saslguard::exporter {

FileTailer::FileTailer(std::string path, bool from_start, LineConsumer& consumer,
                       int rotate_grace_polls, std::size_t max_line)
    : m_path(std::move(path)),
      m_out(consumer),
      m_grace(rotate_grace_polls),
      m_max_line(max_line),
      m_first_open(!from_start),
      m_buf(256 * 1024) {
    m_cur.splitter = LineSplitter(max_line);
}

FileTailer::~FileTailer() {
    close(m_cur, false);
    for (auto& f : m_old) close(f, false);
}

bool FileTailer::open_current(bool at_end) {
    int fd = ::open(m_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return false;
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        ::close(fd);
        return false;
    }
    m_cur.fd = fd;
    m_cur.dev = st.st_dev;
    m_cur.ino = st.st_ino;
    m_cur.offset = at_end ? lseek(fd, 0, SEEK_END) : 0;
    if (m_cur.offset < 0) m_cur.offset = 0;
    m_cur.splitter = LineSplitter(m_max_line);
    return true;
}

void FileTailer::close(Open& f, bool flush_partial) {
    if (f.fd < 0) return;
    if (flush_partial) f.splitter.flush(m_out);
    ::close(f.fd);
    f.fd = -1;
}

std::size_t FileTailer::drain(Open& f) {
    std::size_t total = 0;
    while (true) {
        ssize_t n = ::pread(f.fd, m_buf.data(), m_buf.size(), f.offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        f.offset += n;
        total += static_cast<std::size_t>(n);
        f.splitter.feed(m_buf.data(), static_cast<std::size_t>(n), m_out);
    }
    return total;
}

std::size_t FileTailer::poll() {
    std::size_t total = 0;

    // Rotated files first: their lines are older than the current file's.
    for (auto it = m_old.begin(); it != m_old.end();) {
        total += drain(*it);
        if (it->grace_left-- <= 0) {
            close(*it, true);
            it = m_old.erase(it);
        } else {
            ++it;
        }
    }

    if (m_cur.fd < 0) {
        bool at_end = m_first_open;
        m_first_open = false;  // a file that appears later is new: read it whole
        if (!open_current(at_end)) return total;
    }

    // Truncation: same file, now shorter than what we have read.
    struct stat st {};
    if (fstat(m_cur.fd, &st) == 0 && st.st_size < m_cur.offset) {
        m_cur.offset = 0;
        m_cur.splitter.reset();
        ++m_rotations;
        m_out.rotated();
    }
    total += drain(m_cur);

    // Rename: the path names another file now.
    struct stat path_st {};
    if (stat(m_path.c_str(), &path_st) == 0 &&
        (path_st.st_ino != m_cur.ino || path_st.st_dev != m_cur.dev)) {
        total += drain(m_cur);  // whatever the writer appended before it reopened
        Open old = std::move(m_cur);
        m_cur = Open{};
        m_cur.splitter = LineSplitter(m_max_line);
        if (m_grace > 0) {
            old.grace_left = m_grace;
            m_old.push_back(std::move(old));
        } else {
            close(old, true);
        }
        ++m_rotations;
        m_out.rotated();
        if (open_current(false)) total += drain(m_cur);
    }
    return total;
}

}  // namespace saslguard::exporter
