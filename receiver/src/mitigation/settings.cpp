#include "saslguard/receiver/mitigation/settings.hpp"

#include "saslguard/receiver/mitigation/command_runner.hpp"
#include "saslguard/receiver/mitigation/never_block.hpp"

namespace saslguard::receiver::mitigation {

std::string_view to_string(SaslBackendKind kind) {
    switch (kind) {
        case SaslBackendKind::None:
            return "none";
        case SaslBackendKind::Sasldb:
            return "sasldb";
        case SaslBackendKind::SaslauthdShadow:
            return "saslauthd_shadow";
        case SaslBackendKind::Command:
            return "command";
    }
    return "none";
}

std::optional<SaslBackendKind> sasl_backend_from_string(std::string_view name) {
    for (auto k : {SaslBackendKind::None, SaslBackendKind::Sasldb, SaslBackendKind::SaslauthdShadow,
                   SaslBackendKind::Command})
        if (to_string(k) == name) return k;
    return std::nullopt;
}

namespace {

bool absolute(std::string_view path) {
    return !path.empty() && path.front() == '/';
}

template <std::size_t N>
bool listed(const std::string_view (&names)[N], std::string_view name) {
    for (auto n : names)
        if (n == name) return true;
    return false;
}

// Where Debian installs the programs that are not Postfix's.
std::string default_program(std::string_view name) {
    if (name == "db_dump" || name == "db_load" || name == "passwd")
        return "/usr/bin/" + std::string(name);
    return "/usr/sbin/" + std::string(name);  // saslpasswd2, usermod
}

}  // namespace

std::string MitigationSettings::program(std::string_view name) const {
    if (auto it = programs.find(name); it != programs.end()) return it->second;
    if (listed(kPostfixPrograms, name)) {
        std::string dir = postfix_bin_dir;
        if (!dir.empty() && dir.back() != '/') dir += '/';
        return dir + std::string(name);
    }
    return default_program(name);
}

std::string MitigationSettings::effective_lock_file() const {
    return lock_file.empty() ? state_dir + "/mitigation.lock" : lock_file;
}

std::string MitigationSettings::sasldb_quarantine() const {
    return state_dir + "/sasldb-quarantine";
}

Result<void> check_user_template(const std::vector<std::string>& tmpl) {
    if (tmpl.empty() || tmpl[0].empty()) return make_error("lock/unlock command is not configured");
    if (tmpl[0] == "{user}") return make_error("command template: the program cannot be {user}");
    if (!absolute(tmpl[0]))
        return make_error("command template: the program must be an absolute path, got '" +
                          tmpl[0] + "'");
    bool used = false;
    for (const auto& a : tmpl) {
        if (a == "{user}")
            used = true;
        else if (a.find("{user}") != std::string::npos)
            return make_error(
                "command template: \"{user}\" must be a whole argument, not part of \"" + a + "\"");
    }
    if (!used) return make_error("command template has no {user} argument");
    return {};
}

std::optional<SettingsError> validate(const MitigationSettings& s) {
    const auto& t = s.map_type;
    if (t == "texthash")
        return SettingsError{
            "map_type",
            "texthash is not supported: Postfix reads a texthash table only when it starts, so a "
            "block would need `postfix reload`; use hash, btree, lmdb or cdb"};
    if (t != "hash" && t != "btree" && t != "lmdb" && t != "cdb")
        return SettingsError{"map_type", "expected hash, btree, lmdb or cdb, got '" + t + "'"};
    if (s.max_block_ips == 0) return SettingsError{"max_block_ips", "must be at least 1"};
    if (s.command_timeout.count() <= 0)
        return SettingsError{"command_timeout", "must be above zero"};
    if (!absolute(s.postfix_bin_dir))
        return SettingsError{"postfix_bin_dir",
                             "must be an absolute path (programs are never "
                             "looked up in PATH), got '" +
                                 s.postfix_bin_dir + "'"};
    for (const auto& [name, path] : s.programs) {
        if (!listed(kPostfixPrograms, name) && !listed(kOtherPrograms, name))
            return SettingsError{"programs", "unknown program '" + name + "'"};
        if (!absolute(path))
            return SettingsError{"programs",
                                 name + ": must be an absolute path, got '" + path + "'"};
    }
    for (const auto& n : s.never_block_ips)
        if (!parse_network(n))
            return SettingsError{"never_block_ips",
                                 "not an IP address or network (CIDR): '" + n + "'"};
    if (!absolute(s.state_dir))
        return SettingsError{
            "state_dir", "the state directory must be an absolute path, got '" + s.state_dir + "'"};
    if (s.sasl_access_map.empty()) return SettingsError{"sasl_access_map", "must not be empty"};
    if (s.client_access_map.empty()) return SettingsError{"client_access_map", "must not be empty"};
    if (s.sasl_backend == SaslBackendKind::Command) {
        if (s.lock_command.empty() || s.unlock_command.empty())
            return SettingsError{"sasl_backend", "command needs lock_command and unlock_command"};
        if (auto r = check_user_template(s.lock_command); !r)
            return SettingsError{"lock_command", r.error().message};
        if (auto r = check_user_template(s.unlock_command); !r)
            return SettingsError{"unlock_command", r.error().message};
    }
    return std::nullopt;
}

std::string describe_failure(const std::vector<std::string>& argv, const ProcessResult& result) {
    std::string cmd;
    for (std::size_t i = 0; i < argv.size() && i < 6; ++i) {
        if (i) cmd += ' ';
        cmd += argv[i];
    }
    if (argv.size() > 6) cmd += " …";
    return cmd + ": " + result.describe();
}

}  // namespace saslguard::receiver::mitigation
