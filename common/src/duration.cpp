#include "saslguard/common/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace saslguard {
namespace {

struct Unit {
    std::string_view name;
    std::int64_t ms;
};

// Largest first: the order a duration must be written in.
constexpr std::array<Unit, 7> kUnits{{
    {"y", 365LL * 86'400'000},
    {"w", 7LL * 86'400'000},
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

Error bad(std::string_view text, const std::string& why) {
    return make_error("invalid duration '" + std::string(text) + "': " + why +
                      " (write it like 250ms, 30s, 10m, 1h30m or 7d)");
}

}  // namespace

Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
    if (text == "0") return std::chrono::milliseconds(0);
    if (text.empty()) return bad(text, "empty");
    std::int64_t total = 0;
    std::size_t next_unit = 0;  // units before this index may not appear any more
    std::size_t i = 0;
    while (i < text.size()) {
        if (text[i] < '0' || text[i] > '9') return bad(text, "expected a whole number");
        std::int64_t n = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            if (n > (std::numeric_limits<std::int64_t>::max() - 9) / 10)
                return bad(text, "too large");
            n = n * 10 + (text[i++] - '0');
        }
        std::size_t start = i;
        while (i < text.size() && (text[i] < '0' || text[i] > '9')) ++i;
        std::string_view unit = text.substr(start, i - start);
        if (unit.empty()) return bad(text, "a number needs a unit");
        std::size_t k = 0;
        while (k < kUnits.size() && kUnits[k].name != unit) ++k;
        if (k == kUnits.size()) return bad(text, "unknown unit '" + std::string(unit) + "'");
        if (k < next_unit) return bad(text, "units must be largest first, each once");
        next_unit = k + 1;
        if (n > (std::numeric_limits<std::int64_t>::max() - total) / kUnits[k].ms)
            return bad(text, "too large");
        total += n * kUnits[k].ms;
    }
    return std::chrono::milliseconds(total);
}

std::string format_duration(std::chrono::milliseconds d) {
    const std::int64_t ms = d.count();
    if (ms == 0) return "0s";
    for (std::string_view unit : {"h", "m", "s"}) {
        for (const auto& u : kUnits)
            if (u.name == unit && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.name.data();
    }
    return std::to_string(ms) + "ms";
}

}  // namespace saslguard
