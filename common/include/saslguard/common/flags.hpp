#pragma once
// The one command-line parser of saslguard's binaries (saslguard-exporter,
// saslguard-receiver, saslguardctl). Each binary declares its flags once, in a
// table, next to their help and default; usage text comes from the same table.
//
// Syntax: `--name=value` or `--name value`; a boolean flag takes no value
// (`--dry-run`) or `--name=true|false`. `-h` / `--help` asks for the usage.
// Arguments not starting with '-' are positional (where the binary allows
// them, in any order with the flags); everything after `--` is positional.
// Errors name the flag: "unknown flag --nope (see --help)",
// "flag --window=10x: invalid duration …", "flag --config needs a value".
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::flags {

struct Flag {
    std::string name;  // without the leading "--": "config", "log.level"
    std::string help;
    std::string default_text;  // shown in the usage; "" = none
    bool is_bool = false;      // never takes the next argument as its value
    std::string value_name = "VALUE";
    // Applies one occurrence's value ("" for a bare boolean); returns "" or why
    // the value is wrong. A repeatable flag simply appends.
    std::function<std::string(const std::string& value)> apply;
};

struct Parsed {
    std::vector<std::string> positional;  // in order
    bool help = false;                    // -h / --help was given (parsing stopped there)
};

class FlagSet {
public:
    // `allow_positional`: false makes any positional argument an error.
    explicit FlagSet(bool allow_positional = false) : m_allow_positional(allow_positional) {}

    FlagSet& add(Flag flag);
    // Shorthands for the common kinds; the default shown is the target's current value.
    FlagSet& text(std::string name, std::string help, std::string& target);
    FlagSet& boolean(std::string name, std::string help, bool& target);

    // `args` without argv[0].
    Result<Parsed> parse(const std::vector<std::string>& args) const;
    Result<Parsed> parse(int argc, const char* const* argv) const;

    // "  --name=VALUE\n      help (default x)\n" for every flag, in declaration order.
    std::string usage() const;

private:
    std::vector<Flag> m_flags;
    bool m_allow_positional;
};

// Value checkers for Flag::apply: each returns "" or the reason.
std::string parse_bool(const std::string& value, bool& out);  // "" (bare), true|false|1|0
std::string parse_count(const std::string& value, std::size_t& out, std::size_t min_value = 1);
// A duration in the one syntax (duration.hpp) that must be above zero.
std::string parse_positive_duration(const std::string& value, std::chrono::milliseconds& out);

template <class Rep, class Period>
std::string parse_positive_duration(const std::string& value,
                                    std::chrono::duration<Rep, Period>& out) {
    std::chrono::milliseconds ms{};
    if (auto err = parse_positive_duration(value, ms); !err.empty()) return err;
    auto converted = std::chrono::duration_cast<std::chrono::duration<Rep, Period>>(ms);
    if (converted.count() <= 0) return "duration too small";
    out = converted;
    return {};
}

}  // namespace saslguard::flags
