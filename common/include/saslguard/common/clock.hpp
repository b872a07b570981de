#pragma once
// The one clock of saslguard: wall-clock Unix time in milliseconds, injectable.
// Every stored timestamp (the receiver's state database, audit records, the
// Telegram outbox) and every expiry is in this unit, read through a Clock, so a
// test can hold time still or move it forward by hand.
// Intervals that must not jump with the wall clock (timeouts, measured
// durations) use std::chrono::steady_clock instead; this clock says *when*.
#include <chrono>
#include <cstdint>
#include <functional>

namespace saslguard {

// Returns the current Unix time in milliseconds.
using Clock = std::function<std::int64_t()>;

// The real wall clock (std::chrono::system_clock), in Unix milliseconds.
std::int64_t wall_clock_ms();

// A system_clock time point in the same unit (e.g. a daemon's timestamp).
std::int64_t unix_ms(std::chrono::system_clock::time_point t);

}  // namespace saslguard
