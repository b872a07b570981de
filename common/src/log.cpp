#include "saslguard/common/log.hpp"

#include "saslguard/common/clock.hpp"
#include "saslguard/common/format.hpp"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace saslguard::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mutex;

const char* level_name(Level l) {
    switch (l) {
        case Level::Debug:
            return "debug";
        case Level::Info:
            return "info";
        case Level::Warn:
            return "warn";
        case Level::Error:
            return "error";
    }
    return "info";
}
}  // namespace

void set_level(Level level) {
    g_level = static_cast<int>(level);
}

bool set_level(std::string_view name) {
    for (Level l : {Level::Debug, Level::Info, Level::Warn, Level::Error}) {
        if (name == level_name(l)) {
            set_level(l);
            return true;
        }
    }
    return false;
}

Level level() {
    return static_cast<Level>(g_level.load());
}

std::string quote(std::string_view v) {
    bool needs = v.empty();
    for (unsigned char c : v) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) {
            needs = true;
            break;
        }
    }
    if (!needs) return std::string(v);
    std::string out;
    out.reserve(v.size() + 2);
    out += '"';
    for (unsigned char c : v) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < ' ' || c >= 0x7f) {
            static const char* hex = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    return out;
}

void write(Level lvl, std::string_view msg, std::initializer_list<Field> fields) {
    if (static_cast<int>(lvl) < g_level.load()) return;
    const std::string ts = format::rfc3339_ms(wall_clock_ms());
    std::string line;
    line.reserve(128);
    line += "ts=";
    line += ts;
    line += " level=";
    line += level_name(lvl);
    line += " msg=";
    line += quote(msg);
    for (const auto& [k, v] : fields) {
        line += ' ';
        line += k;
        line += '=';
        line += quote(v);
    }
    line += '\n';
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace saslguard::log
