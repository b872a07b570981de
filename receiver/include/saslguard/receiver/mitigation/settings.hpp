#pragma once
// What the mitigation layer needs to know about the host: where Postfix and its
// maps live, which SASL backend holds the accounts, and the safety bounds.
// The receiver's YAML `mitigation:` section maps onto this one-to-one
// (docs/mitigation.md lists every key with its default).
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saslguard::receiver::mitigation {

enum class SaslBackendKind {
    None,             // lock_account/unlock_account are refused
    Sasldb,           // Cyrus sasldb (saslpasswd2 + db_dump/db_load, see docs/mitigation.md)
    SaslauthdShadow,  // saslauthd -a shadow|pam: the Unix account (usermod -L/-U)
    Command,          // lock_command / unlock_command argv templates ({user} substituted)
};

std::string_view to_string(SaslBackendKind kind);
std::optional<SaslBackendKind> sasl_backend_from_string(std::string_view name);

struct MitigationSettings {
    bool dry_run = false;  // every action only describes what it would do
    std::string postfix_config_dir = "/etc/postfix";
    std::string postfix_bin_dir;  // "" = find postmap/postsuper/postqueue/postcat in PATH
    std::string sasl_access_map =
        "/etc/postfix/saslguard_sasl_access";  // source file; postmap makes .db
    std::string client_access_map = "/etc/postfix/saslguard_client_access";
    std::string map_type = "hash";                                          // hash|btree|lmdb|cdb
    std::string reject_text = "REJECT 5.7.1 account blocked by saslguard";  // login map value
    std::string ip_reject_text =
        "REJECT 5.7.1 client address blocked by saslguard";  // client map value
    std::string showq_path;  // showq socket; "" = run `postqueue -j` instead
    std::string mail_log;    // reserved for the log-side lookup (not used yet)
    SaslBackendKind sasl_backend = SaslBackendKind::None;
    std::string sasldb_path = "/etc/sasldb2";
    std::vector<std::string> lock_command;  // e.g. {"/usr/local/sbin/ldap-lock", "{user}"}
    std::vector<std::string> unlock_command;
    std::size_t max_block_ips = 16;      // a block_ips request naming more is refused
    std::size_t max_queue_ids = 100000;  // a hold/delete finding more is refused (runaway guard)
    std::chrono::seconds command_timeout{30};
    bool match_sasl_login = true;    // also find queued mail by the SASL login recorded in it
    bool allow_auto_delete = false;  // delete_mail by actor "auto" is refused unless true
    std::string
        lock_file;  // "" = <sasl_access_map>.mitigation.lock: serializes receiver and saslguardctl

    // The binary `name` (postmap, postsuper, …) honoring postfix_bin_dir.
    std::string postfix_command(std::string_view name) const;
    std::string effective_lock_file() const;
};

}  // namespace saslguard::receiver::mitigation

namespace saslguard::receiver {
struct Config;
namespace mitigation {
// The receiver's YAML (`mitigation:` plus policy.allow_auto_delete) as settings.
MitigationSettings settings_from_config(const Config& config);
}  // namespace mitigation
}  // namespace saslguard::receiver
