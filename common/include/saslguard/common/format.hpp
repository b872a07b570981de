#pragma once
// Numbers and times as saslguard shows them to people (logs, Telegram,
// saslguardctl, error messages). One place, so "1234", "87%" and
// "2026-11-23T09:00:00Z" read the same wherever they appear. Never throws.
#include <cstddef>
#include <cstdint>
#include <string>

namespace saslguard::format {

// `decimals` digits after the point: fixed(0.873, 2) == "0.87", fixed(1234, 0) == "1234".
std::string fixed(double value, int decimals);

// A count as a person reads it: whole numbers without decimals ("1234"), others
// with one ("2.5"). Very large values keep one decimal rather than overflow.
std::string compact(double value);

// A ratio (0..1) as a whole percentage: percent(0.873) == "87%".
std::string percent(double ratio);

// The shortest text that gives `value` back (%.15g): shortest(0.5) == "0.5",
// shortest(1e12) == "1000000000000". For bounds in error messages.
std::string shortest(double value);

// A count with its noun, plural unless one: counted(1, "message") ==
// "1 message", counted(3, "client IP") == "3 client IPs".
std::string counted(std::size_t n, const char* noun);

// RFC 3339 UTC to the second: "2026-11-23T09:00:00Z".
std::string rfc3339(std::int64_t unix_seconds);

// RFC 3339 UTC with milliseconds: "2026-11-23T09:00:00.123Z" (the logs' ts=).
std::string rfc3339_ms(std::int64_t unix_ms);

// To the minute, for chat messages: "2026-11-23 09:00 UTC".
std::string utc_minutes(std::int64_t unix_ms);

}  // namespace saslguard::format
