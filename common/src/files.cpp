#include "saslguard/common/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace saslguard::files {
namespace {
Error sys_error(const std::string& what, const std::string& path) {
    return make_error(what + " " + path + ": " + std::strerror(errno));
}
std::string dir_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}
}  // namespace

Result<void> check_safe_target(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        return make_error("refusing to write " + path + ": it is a symbolic link");
    const std::string dir = dir_of(path);
    struct stat ds {};
    if (::stat(dir.c_str(), &ds) != 0) return sys_error("stat directory of", path);
    if (ds.st_mode & (S_IWGRP | S_IWOTH)) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(ds.st_mode & 07777));
        return make_error("refusing to write " + path +
                          ": its directory is writable by group or others (mode " + mode + ")");
    }
    return {};
}

Result<void> write_atomic(const std::string& path, std::string_view content, mode_t mode) {
    WriteOptions o;
    o.mode = mode;
    return write_atomic(path, content, o);
}

Result<void> write_atomic(const std::string& path, std::string_view content,
                          const WriteOptions& options) {
    if (auto safe = check_safe_target(path); !safe) return safe;
    // A random name, created exclusively (0600 until fchmod below).
    std::string tmp = path + ".saslguard-XXXXXX";
    int fd = ::mkostemp(tmp.data(), O_CLOEXEC);
    if (fd < 0) return sys_error("create a temporary file for", path);
    auto abandon = [&](const std::string& what) {
        Error e = sys_error(what, tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
    };
    if ((options.owner || options.group) &&
        ::fchown(fd, options.owner ? *options.owner : static_cast<uid_t>(-1),
                 options.group ? *options.group : static_cast<gid_t>(-1)) != 0)
        return abandon("fchown");
    if (::fchmod(fd, options.mode) != 0) return abandon("fchmod");
    std::size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return abandon("write");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) return abandon("fsync");
    if (::close(fd) != 0) {
        Error e = sys_error("close", tmp);
        ::unlink(tmp.c_str());
        return e;
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        Error e = sys_error("rename to", path);
        ::unlink(tmp.c_str());
        return e;
    }
    int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

Result<std::string> read_all(const std::string& path, std::size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return sys_error("open", path);
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            Error e = sys_error("read", path);
            ::close(fd);
            return e;
        }
        if (n == 0) break;
        if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
            ::close(fd);
            return make_error("read " + path + ": larger than " + std::to_string(max_bytes) +
                              " bytes");
        }
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

Result<std::string> read_secret(const std::string& path) {
    auto content = read_all(path, 64 * 1024);
    if (!content) return content.error();
    std::string_view s = *content;
    auto nl = s.find('\n');
    if (nl != std::string_view::npos) s = s.substr(0, nl);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    if (s.empty()) return make_error("secret file " + path + " is empty");
    return std::string(s);
}

}  // namespace saslguard::files
