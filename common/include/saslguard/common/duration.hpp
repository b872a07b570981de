#pragma once
// The one duration syntax of saslguard, for every flag of every binary and every
// key of the receiver's YAML. It is Prometheus's own (model.ParseDuration), so an
// operator writes a window the same way in rules/, prometheus.yml and here:
//
//   one or more <integer><unit>, units largest first and each at most once:
//   y (365d), w (7d), d, h, m, s, ms     e.g. 250ms, 30s, 10m, 1h30m, 7d
//   "0" alone is zero.
//
// Refused, with the reason: a bare number other than 0 ("30": seconds or
// minutes?), a sign, a fraction, an unknown or repeated unit, overflow.
#include <chrono>
#include <string>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard {

Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The inverse for display and PromQL ranges, in the largest unit that divides
// it exactly among h, m, s, ms: 600s -> "10m", 5400s -> "90m", 90s -> "90s",
// 0 -> "0s". Every output parses back to the same value.
std::string format_duration(std::chrono::milliseconds d);

}  // namespace saslguard
