#pragma once
// File helpers with the durability the mitigation maps and state need.
#include <sys/types.h>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard::files {

// Writes `content` to a temporary file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory: readers see the old or the new file, never a
// half-written one. Fails (leaving `path` untouched) on any error, e.g. disk full.
Result<void> write_atomic(const std::string& path, std::string_view content, mode_t mode = 0644);

// Reads a whole file (up to max_bytes; larger is an error).
Result<std::string> read_all(const std::string& path, std::size_t max_bytes = 64 << 20);

// Reads a secret (token) file: the first line, surrounding whitespace trimmed.
// An empty secret is an error. Secrets come from files, never argv.
Result<std::string> read_secret(const std::string& path);

}  // namespace saslguard::files
