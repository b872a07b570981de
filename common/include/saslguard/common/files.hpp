#pragma once
// File helpers with the durability and the care that files written as root need.
#include <sys/types.h>
#include <optional>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard::files {

// Owner, group and mode of a file write_atomic() creates. They are set on the
// open descriptor (fchown/fchmod) before the rename, never by path afterwards:
// a path can be swapped for a symlink in between, a descriptor cannot.
struct WriteOptions {
    mode_t mode = 0644;
    std::optional<uid_t> owner;  // unset: the writer's (root's)
    std::optional<gid_t> group;
};

// Writes `content` to `path` so readers see the old or the new file, never a
// half-written one, and so no other local user can take part in it:
// - refused when `path` is a symbolic link, or when its directory is writable
//   by group or others (whoever may write there could swap names under us);
// - the temporary file is created beside `path` with a random name and O_EXCL
//   (mkostemp), so a name planted in advance is never opened;
// - owner, group and mode are set on the descriptor, then the data is written,
//   fsynced, renamed over `path`, and the directory fsynced.
// Fails (leaving `path` untouched and no temporary file behind) on any error,
// e.g. disk full; the message names the path and the reason.
Result<void> write_atomic(const std::string& path, std::string_view content, mode_t mode = 0644);
Result<void> write_atomic(const std::string& path, std::string_view content,
                          const WriteOptions& options);

// Whether `path` may be (re)written safely by write_atomic: not a symlink, and
// in a directory neither group nor others may write. The error says which.
Result<void> check_safe_target(const std::string& path);

// Reads a whole file (up to max_bytes; larger is an error).
Result<std::string> read_all(const std::string& path, std::size_t max_bytes = 64 << 20);

// Reads a secret (token) file: the first line, surrounding whitespace trimmed.
// An empty secret is an error. Secrets come from files, never argv.
Result<std::string> read_secret(const std::string& path);

}  // namespace saslguard::files
