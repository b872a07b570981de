#pragma once
// Structured logging to stderr in logfmt (`ts=… level=… msg="…" key=value`), the
// format Prometheus and Alertmanager use, so operators grep one style.
// Values are quoted and escaped: they may hold attacker-controlled text (SASL
// usernames, log lines), which must never forge a log line or a field.
// Thread-safe; never throws.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace saslguard::log {

enum class Level { Debug = 0, Info = 1, Warn = 2, Error = 3 };

using Field = std::pair<std::string_view, std::string>;

void set_level(Level level);
// Parses "debug|info|warn|error"; returns false (level unchanged) otherwise.
bool set_level(std::string_view name);
Level level();

void write(Level level, std::string_view msg, std::initializer_list<Field> fields = {});

inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::Debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::Info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::Warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
    write(Level::Error, m, f);
}

// Quotes a value for logfmt when it needs it; control bytes and non-ASCII become \xNN.
std::string quote(std::string_view value);

}  // namespace saslguard::log
