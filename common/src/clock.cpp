#include "saslguard/common/clock.hpp"

#include <chrono>

namespace saslguard {

std::int64_t wall_clock_ms() {
    return unix_ms(std::chrono::system_clock::now());
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace saslguard
