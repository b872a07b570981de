#include "saslguard/receiver/mitigation/access_map.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "saslguard/common/files.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/file_lock.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr std::string_view kHeader =
    "# Written by saslguard: do not edit by hand (saslguardctl list-blocks / unblock-*).\n"
    "# Every change is followed by postmap; smtpd picks up the new table by itself.\n";

bool printable_token_char(unsigned char c) {
    return c > 0x20 && c < 0x7f;
}

// `put` and `erase` with keys in the map's form; `current` already is.
Result<MapUpdate> diff(const MapEntries& current, const MapEntries& put,
                       const std::vector<std::string>& erase, const KeyForm& form,
                       MapEntries& next) {
    next = current;
    MapUpdate u;
    MapEntries put_canonical;
    for (const auto& [k, v] : put) {
        auto key = form(k);
        if (!key || !safe_map_token(*key)) return make_error("refusing unsafe map key");
        if (!safe_map_value(v)) return make_error("refusing unsafe map value for key " + *key);
        put_canonical[*key] = v;
    }
    for (const auto& [k, v] : put_canonical) {
        auto it = next.find(k);
        if (it == next.end() || it->second != v) u.added.push_back(k);
        next[k] = v;
    }
    for (const auto& raw : erase) {
        auto k = form(raw);
        if (!k) return make_error("refusing unsafe map key");
        if (put_canonical.count(*k)) continue;
        if (next.erase(*k)) u.removed.push_back(*k);
    }
    return u;
}

}  // namespace

KeyForm login_keys() {
    return [](std::string_view k) { return validate::canonical_login(k); };
}

KeyForm ip_keys() {
    return [](std::string_view k) { return validate::canonical_ip(k); };
}

bool safe_map_token(std::string_view s) {
    if (s.empty() || s.size() > 512 || s.front() == '#' || s.front() == '-') return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return printable_token_char(c); });
}

bool safe_map_value(std::string_view s) {
    if (s.empty() || s.size() > 512 || s.front() == ' ' || s.back() == ' ') return false;
    if (s.find("  ") != std::string_view::npos) return false;
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char c) { return c == ' ' || printable_token_char(c); });
}

Result<std::string> render_map(const MapEntries& entries) {
    std::string out(kHeader);
    for (const auto& [k, v] : entries) {
        if (!safe_map_token(k)) return make_error("refusing unsafe map key");
        if (!safe_map_value(v)) return make_error("refusing unsafe map value for key " + k);
        out += k;
        out += ' ';
        out += v;
        out += '\n';
    }
    return out;
}

Result<MapEntries> parse_map(std::string_view text, std::string_view path) {
    MapEntries entries;
    std::size_t line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        if (line.empty() || line.front() == '#') continue;
        auto sp = line.find(' ');
        std::string_view key = line.substr(0, sp);
        std::string_view value =
            sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
        if (!safe_map_token(key) || !safe_map_value(value))
            return make_error(std::string(path) + ":" + std::to_string(line_no) +
                              ": line not written by saslguard; fix or remove it by hand");
        entries[std::string(key)] = std::string(value);
    }
    return entries;
}

AccessMap::AccessMap(std::string path, std::string type, std::string config_dir,
                     std::string postmap_binary, CommandRunner& runner,
                     std::chrono::milliseconds timeout, KeyForm key_form)
    : m_path(std::move(path)),
      m_type(std::move(type)),
      m_config_dir(std::move(config_dir)),
      m_postmap(std::move(postmap_binary)),
      m_runner(runner),
      m_timeout(timeout),
      m_key_form(std::move(key_form)) {}

Result<MapEntries> AccessMap::canonical_entries(std::string_view text) const {
    auto parsed = parse_map(text, m_path);
    if (!parsed) return parsed.error();
    MapEntries out;
    for (auto& [k, v] : *parsed) {
        // A key not of this map's kind stays as written (it is still saslguard's line).
        auto key = m_key_form(k);
        out[key ? *key : k] = std::move(v);
    }
    return out;
}

Result<void> AccessMap::check_paths() const {
    if (auto r = files::check_safe_target(m_path); !r) return r;
    struct stat st {};
    if (::lstat(compiled_path().c_str(), &st) == 0 && S_ISLNK(st.st_mode))
        return make_error("refusing to write " + compiled_path() + ": it is a symbolic link");
    return {};
}

Result<MapEntries> AccessMap::read() const {
    struct stat st {};
    if (::lstat(m_path.c_str(), &st) != 0 && errno == ENOENT) return MapEntries{};
    if (S_ISLNK(st.st_mode))
        return make_error("refusing to read " + m_path + ": it is a symbolic link");
    auto text = files::read_all(m_path, 16 << 20);
    if (!text) return text.error();
    return canonical_entries(*text);
}

Result<MapUpdate> AccessMap::preview(const MapEntries& put,
                                     const std::vector<std::string>& erase) const {
    auto current = read();
    if (!current) return current.error();
    MapEntries next;
    return diff(*current, put, erase, m_key_form, next);
}

std::string AccessMap::compiled_path() const {
    if (m_type == "lmdb") return m_path + ".lmdb";
    if (m_type == "cdb") return m_path + ".cdb";
    return m_path + ".db";  // hash, btree
}

Result<void> AccessMap::postmap() {
    struct stat before {};
    bool had_before = ::stat(compiled_path().c_str(), &before) == 0;
    std::vector<std::string> argv{m_postmap, "-c", m_config_dir, table_name()};
    ProcessOptions opt;
    opt.timeout = m_timeout;
    auto r = m_runner.run(argv, opt);
    if (!r.success()) return make_error(describe_failure(argv, r));
    // smtpd compares the table's mtime in whole seconds: make sure it moved.
    struct stat after {};
    if (had_before && ::stat(compiled_path().c_str(), &after) == 0 &&
        after.st_mtime <= before.st_mtime) {
        timespec times[2] = {{0, UTIME_OMIT}, {before.st_mtime + 1, 0}};
        ::utimensat(AT_FDCWD, compiled_path().c_str(), times, 0);
    }
    return {};
}

Result<MapUpdate> AccessMap::update(const MapEntries& put, const std::vector<std::string>& erase) {
    // Before anything is created here (the .lock file included).
    if (auto safe = check_paths(); !safe) return safe.error();
    auto lock = FileLock::acquire(m_mutex, m_path + ".lock");
    if (!lock) return lock.error();
    if (auto safe = check_paths(); !safe) return safe.error();  // and still, under the lock

    bool existed = true;
    struct stat st {};
    if (::lstat(m_path.c_str(), &st) != 0) existed = false;
    std::string old_text;
    if (existed) {
        auto t = files::read_all(m_path, 16 << 20);
        if (!t) return t.error();
        old_text = std::move(*t);
    }
    auto current = canonical_entries(old_text);
    if (!current) return current.error();
    MapEntries next;
    auto u = diff(*current, put, erase, m_key_form, next);
    if (!u || !u->changed()) return u;

    auto text = render_map(next);
    if (!text) return text.error();
    // The new file keeps the old one's mode and owner, set on its descriptor.
    files::WriteOptions wo;
    wo.mode = existed ? (st.st_mode & 07777) : 0644;
    if (existed && ::geteuid() == 0) {
        wo.owner = st.st_uid;
        wo.group = st.st_gid;
    }
    if (auto w = files::write_atomic(m_path, *text, wo); !w) return w.error();
    if (auto p = postmap(); !p) {
        // Put the old source back so file and compiled table agree again.
        std::string err = p.error().message;
        auto restore =
            files::write_atomic(m_path, old_text.empty() ? std::string(kHeader) : old_text, wo);
        if (restore) {
            auto again = postmap();
            if (!again) err += "; rollback postmap also failed: " + again.error().message;
        } else {
            err += "; rollback of " + m_path + " failed: " + restore.error().message;
        }
        return make_error(err);
    }
    return u;
}

}  // namespace saslguard::receiver::mitigation
