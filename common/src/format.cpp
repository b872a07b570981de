#include "saslguard/common/format.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>

namespace saslguard::format {
namespace {

std::tm utc(std::int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

// Floor division, so times before 1970 still split into seconds and a positive remainder.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

}  // namespace

std::string fixed(double value, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals < 0 ? 0 : decimals, value);
    return buf;
}

std::string compact(double value) {
    const bool whole = std::fabs(value - std::round(value)) < 1e-9 && std::fabs(value) < 1e15;
    return fixed(value, whole ? 0 : 1);
}

std::string percent(double ratio) {
    return fixed(std::round(ratio * 100.0), 0) + "%";
}

std::string shortest(double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", value);
    return buf;
}

std::string counted(std::size_t n, const char* noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string rfc3339(std::int64_t unix_seconds) {
    std::tm tm = utc(unix_seconds);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
    const std::int64_t s = floor_div(unix_ms, 1000);
    std::tm tm = utc(s);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(unix_ms - s * 1000));
    return buf;
}

std::string utc_minutes(std::int64_t unix_ms) {
    std::tm tm = utc(floor_div(unix_ms, 1000));
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

}  // namespace saslguard::format
