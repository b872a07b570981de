#include "saslguard/receiver/mitigation/settings.hpp"

#include "saslguard/receiver/mitigation/command_runner.hpp"

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

std::string MitigationSettings::postfix_command(std::string_view name) const {
    if (postfix_bin_dir.empty()) return std::string(name);
    std::string dir = postfix_bin_dir;
    if (dir.back() != '/') dir += '/';
    return dir + std::string(name);
}

std::string MitigationSettings::effective_lock_file() const {
    return lock_file.empty() ? sasl_access_map + ".mitigation.lock" : lock_file;
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

#include "saslguard/receiver/config.hpp"

namespace saslguard::receiver::mitigation {

MitigationSettings settings_from_config(const Config& c) {
    const auto& m = c.mitigation;
    MitigationSettings s;
    s.dry_run = m.dry_run;
    s.postfix_config_dir = m.postfix_config_dir;
    s.postfix_bin_dir = m.postfix_bin_dir;
    s.sasl_access_map = m.sasl_access_map;
    s.client_access_map = m.client_access_map;
    s.map_type = m.map_type;
    s.showq_path = m.showq_path;
    s.mail_log = m.mail_log;
    switch (m.sasl_backend) {
        case SaslBackend::Sasldb:
            s.sasl_backend = SaslBackendKind::Sasldb;
            break;
        case SaslBackend::SaslauthdShadow:
            s.sasl_backend = SaslBackendKind::SaslauthdShadow;
            break;
        case SaslBackend::Command:
            s.sasl_backend = SaslBackendKind::Command;
            break;
        case SaslBackend::None:
            s.sasl_backend = SaslBackendKind::None;
            break;
    }
    s.sasldb_path = m.sasldb_path;
    s.lock_command = m.lock_command;
    s.unlock_command = m.unlock_command;
    s.max_block_ips = m.max_block_ips > 0 ? static_cast<std::size_t>(m.max_block_ips) : 1;
    s.command_timeout = std::chrono::duration_cast<std::chrono::seconds>(m.command_timeout);
    if (s.command_timeout.count() < 1) s.command_timeout = std::chrono::seconds(1);
    s.allow_auto_delete = c.policy.allow_auto_delete;
    return s;
}

}  // namespace saslguard::receiver::mitigation
