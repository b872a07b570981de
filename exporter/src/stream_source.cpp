#include "stream_source.hpp"

#include <poll.h>
#include <unistd.h>
#include <cerrno>

namespace saslguard::exporter {

bool read_stream(int fd, LineConsumer& out, const std::atomic<bool>& stop) {
    LineSplitter splitter;
    std::vector<char> buf(256 * 1024);
    while (!stop.load()) {
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, 200);  // wake up now and then to see `stop`
        if (r < 0 && errno != EINTR) return false;
        if (r <= 0) continue;
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return false;
        }
        if (n == 0) break;
        splitter.feed(buf.data(), static_cast<std::size_t>(n), out);
    }
    splitter.flush(out);
    return true;
}

}  // namespace saslguard::exporter
