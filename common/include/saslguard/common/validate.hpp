#pragma once
// Validation of attacker-controlled values before they reach a command line, a
// Postfix map file, a metric label or an SQL statement's meaning. SASL usernames,
// client IPs, envelope senders and queue ids all originate from the network.
// Each predicate is strict (accept only the known-good shape); callers reject
// anything else with a clear error instead of trying to "clean" it.
#include <optional>
#include <string>
#include <string_view>

namespace saslguard::validate {

// A SASL login name safe to put in a check_sasl_access map and in argv:
// 1..255 bytes of [A-Za-z0-9._%+-=@], not starting with '-' or '.', at most one '@',
// no "..". Rejects whitespace, control bytes, quotes, shell and map metacharacters.
bool sasl_username(std::string_view s);

// A domain name: labels of [A-Za-z0-9-] (not starting or ending with '-'), 1..253 bytes.
bool domain(std::string_view s);

// An envelope address local@domain with a conservative local part (same alphabet as
// sasl_username), or the empty (null) sender "".
bool email_address(std::string_view s);

// IPv4 dotted quad or IPv6 text, as inet_pton accepts it. Returns the canonical
// text form (inet_ntop) so "::ffff:1.2.3.4" and case variants map to one key.
std::optional<std::string> canonical_ip(std::string_view s);
inline bool ip(std::string_view s) {
    return canonical_ip(s).has_value();
}

// A Postfix queue id: short form (hex, 6..16 chars) or long form (enable_long_queue_ids:
// [0-9A-Za-z] 10..20 chars). Never starts with '-'.
bool queue_id(std::string_view s);

// A Unix account name for PAM/shadow backends: [a-z_][a-z0-9_.-]{0,31}.
bool unix_user(std::string_view s);

}  // namespace saslguard::validate
