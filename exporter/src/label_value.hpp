#pragma once
// Label values come from the log (SASL usernames, client IPs) and may hold any
// bytes. prometheus-cpp escapes '\\', '"' and '\n' but passes other bytes
// through, so invalid UTF-8 would make the exposition unparseable. Every label
// value taken from a log line goes through sanitize_label_value first.
#include <string>
#include <string_view>

namespace saslguard::exporter {

// True when `s` is valid UTF-8 without control characters (the common case;
// such a value is used as is).
bool is_clean_label_value(std::string_view s) noexcept;

// Replaces each invalid UTF-8 sequence and each control character with U+FFFD,
// and truncates to `max_bytes` (at a character boundary). Never throws except bad_alloc.
std::string sanitize_label_value(std::string_view s, std::size_t max_bytes = 256);

}  // namespace saslguard::exporter
