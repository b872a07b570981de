#include "stream_source.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cerrno>
#include <csignal>
#include <thread>

#include "saslguard/common/log.hpp"

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

std::vector<std::string> journalctl_argv(const std::string& units) {
    std::vector<std::string> argv = {"journalctl", "--follow", "--no-pager", "--lines=0",
                                     "--output=short-iso-precise"};
    std::size_t start = 0;
    while (start <= units.size()) {
        std::size_t comma = units.find(',', start);
        std::string unit =
            units.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!unit.empty()) argv.push_back("--unit=" + unit);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return argv;
}

void follow_journal(const std::string& units, LineConsumer& out, const std::atomic<bool>& stop) {
    const auto args = journalctl_argv(units);
    while (!stop.load()) {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) != 0) return;
        pid_t pid = fork();
        if (pid == 0) {
            dup2(pipefd[1], STDOUT_FILENO);
            std::vector<char*> argv;
            for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execvp(argv[0], argv.data());
            _exit(127);
        }
        ::close(pipefd[1]);
        if (pid < 0) {
            ::close(pipefd[0]);
            return;
        }
        log::info("journal reader started", {{"pid", std::to_string(pid)}});
        read_stream(pipefd[0], out, stop);
        ::close(pipefd[0]);
        kill(pid, SIGTERM);
        int status = 0;
        waitpid(pid, &status, 0);
        if (stop.load()) break;
        log::warn("journal reader exited; restarting in 1s", {{"status", std::to_string(status)}});
        for (int i = 0; i < 10 && !stop.load(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace saslguard::exporter
