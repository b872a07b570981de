#include "saslguard/common/flags.hpp"

#include <charconv>

#include "saslguard/common/duration.hpp"
#include "saslguard/common/log.hpp"

namespace saslguard::flags {

FlagSet& FlagSet::add(Flag flag) {
    m_flags.push_back(std::move(flag));
    return *this;
}

FlagSet& FlagSet::text(std::string name, std::string help, std::string& target) {
    Flag f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.default_text = target;
    f.apply = [&target](const std::string& v) -> std::string {
        target = v;
        return {};
    };
    return add(std::move(f));
}

FlagSet& FlagSet::boolean(std::string name, std::string help, bool& target) {
    Flag f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.is_bool = true;
    f.apply = [&target](const std::string& v) { return parse_bool(v, target); };
    return add(std::move(f));
}

Result<Parsed> FlagSet::parse(int argc, const char* const* argv) const {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
    return parse(args);
}

Result<Parsed> FlagSet::parse(const std::vector<std::string>& args) const {
    Parsed out;
    bool only_positional = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (only_positional || arg.empty() || arg[0] != '-' || arg == "-") {
            if (!m_allow_positional) return make_error("unexpected argument " + log::quote(arg));
            out.positional.push_back(arg);
            continue;
        }
        if (arg == "--") {
            only_positional = true;
            continue;
        }
        if (arg == "-h" || arg == "--help") {
            out.help = true;
            return out;
        }
        if (arg.rfind("--", 0) != 0)
            return make_error("unknown flag " + log::quote(arg) + " (see --help)");
        std::string name = arg.substr(2);
        std::string value;
        bool has_value = false;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            has_value = true;
        }
        const Flag* flag = nullptr;
        for (const auto& f : m_flags)
            if (f.name == name) flag = &f;
        if (!flag) return make_error("unknown flag " + log::quote("--" + name) + " (see --help)");
        if (!has_value && !flag->is_bool) {
            if (i + 1 >= args.size()) return make_error("flag --" + name + " needs a value");
            value = args[++i];
        }
        if (std::string err = flag->apply(value); !err.empty())
            return make_error("flag --" + name + (flag->is_bool && !has_value ? "" : "=" + value) +
                              ": " + err);
    }
    return out;
}

std::string FlagSet::usage() const {
    std::string out;
    for (const auto& f : m_flags) {
        out += "  --" + f.name + (f.is_bool ? "" : "=" + f.value_name) + "\n      " + f.help;
        if (!f.default_text.empty()) out += " (default " + f.default_text + ")";
        out += "\n";
    }
    return out;
}

std::string parse_bool(const std::string& v, bool& out) {
    if (v.empty() || v == "true" || v == "1") {
        out = true;
        return {};
    }
    if (v == "false" || v == "0") {
        out = false;
        return {};
    }
    return "expected true or false";
}

std::string parse_count(const std::string& v, std::size_t& out, std::size_t min_value) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || n < min_value)
        return "expected an integer >= " + std::to_string(min_value);
    out = n;
    return {};
}

std::string parse_positive_duration(const std::string& value, std::chrono::milliseconds& out) {
    auto d = parse_duration(value);
    if (!d) return d.error().message;
    if (d->count() <= 0) return "expected a positive duration";
    out = *d;
    return {};
}

}  // namespace saslguard::flags
