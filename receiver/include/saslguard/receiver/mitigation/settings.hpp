#pragma once
// The `mitigation:` section of the receiver's YAML: the one model of it. The
// config loader (config.hpp) fills it and reports the first broken rule with
// the key's line; the receiver and saslguardctl hand the same struct to the
// Mitigator. Every YAML key is documented once, next to its default, in
// deploy/receiver.yml; the fields below the line are fixed in code
// (docs/mitigation.md says why).
#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::mitigation {

enum class SaslBackendKind {
    None,             // lock_account/unlock_account are refused
    Sasldb,           // Cyrus sasldb (saslpasswd2 + db_dump/db_load, see docs/mitigation.md)
    SaslauthdShadow,  // saslauthd -a shadow|pam: the Unix account (usermod -L/-U)
    Command,          // lock_command / unlock_command argv templates ({user} substituted)
};

// "none", "sasldb", "saslauthd_shadow", "command" (the YAML values).
std::string_view to_string(SaslBackendKind kind);
std::optional<SaslBackendKind> sasl_backend_from_string(std::string_view name);

// The programs mitigations run, by the names `programs:` accepts. Each is run
// by an absolute path (program()), never looked up in PATH.
inline constexpr std::string_view kPostfixPrograms[] = {"postmap", "postsuper", "postqueue",
                                                        "postcat", "postconf"};
inline constexpr std::string_view kOtherPrograms[] = {"saslpasswd2", "db_dump", "db_load",
                                                      "usermod", "passwd"};

struct MitigationSettings {
    bool dry_run = false;  // every action only describes what it would do
    std::string postfix_config_dir = "/etc/postfix";
    // Where Postfix's own tools are (its command_directory); absolute.
    std::string postfix_bin_dir = "/usr/sbin";
    // A program's absolute path by name (kPostfixPrograms, kOtherPrograms), over
    // the default (postfix_bin_dir/NAME, or Debian's path for the others).
    std::map<std::string, std::string, std::less<>> programs;
    std::string sasl_access_map = "/etc/postfix/saslguard_sasl_access";  // postmap makes .db
    std::string client_access_map = "/etc/postfix/saslguard_client_access";
    std::string map_type = "hash";                               // hash|btree|lmdb|cdb
    std::string showq_path = "/var/spool/postfix/public/showq";  // "" = run `postqueue -j`
    SaslBackendKind sasl_backend = SaslBackendKind::Sasldb;
    std::string sasldb_path = "/etc/sasldb2";
    std::vector<std::string> lock_command;  // e.g. {"/usr/local/sbin/ldap-lock", "{user}"}
    std::vector<std::string> unlock_command;
    std::size_t max_block_ips = 50;  // a block_ips request naming more is refused
    std::chrono::milliseconds command_timeout{30000};
    // Addresses and networks (CIDR) never blocked, on top of the fixed ones
    // (loopback, unspecified, link-local), the host's own and Postfix's mynetworks.
    std::vector<std::string> never_block_ips;

    // ---- not YAML keys ----
    // The receiver's state directory (the directory of state_path; the loader
    // sets it): the mitigation lock and the sasldb quarantine live there, never
    // beside the Postfix maps or the sasldb. Required, absolute.
    std::string state_dir;
    std::string reject_text = "REJECT 5.7.1 account blocked by saslguard";  // login map value
    std::string ip_reject_text = "REJECT 5.7.1 client address blocked by saslguard";
    std::size_t max_queue_ids = 100000;  // a hold/delete finding more is refused (runaway guard)
    std::string lock_file;  // "" = <state_dir>/mitigation.lock (receiver + saslguardctl)

    // The absolute path of program `name` (one of kPostfixPrograms or kOtherPrograms).
    std::string program(std::string_view name) const;
    std::string effective_lock_file() const;
    // Where lock_account (sasldb) keeps the records of locked accounts.
    std::string sasldb_quarantine() const;
};

// A broken rule: `key` is the YAML key under mitigation: that is wrong.
struct SettingsError {
    std::string key;
    std::string message;
};

// Every rule on the settings, in one place: map types Postfix picks up without
// a reload (hash, btree, lmdb, cdb; texthash is refused), at least one IP per
// request, a positive timeout, absolute paths for every program (postfix_bin_dir,
// programs, the command templates' programs) and for state_dir, known program
// names, never_block_ips entries that are addresses or networks, and for the
// command backend both templates with "{user}" as a whole argument. The loader
// (so --check-config) and Mitigator::create apply the same function.
std::optional<SettingsError> validate(const MitigationSettings& settings);

// A lock/unlock argv template is usable: not empty, the program an absolute
// path (not "{user}"), "{user}" present and only ever as a whole argument
// (inside a longer argument a login's '=' or ',' could reshape e.g. an LDAP DN).
Result<void> check_user_template(const std::vector<std::string>& tmpl);

}  // namespace saslguard::receiver::mitigation
