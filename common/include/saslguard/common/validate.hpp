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

// The one form of a SASL login wherever it is a key (the check_sasl_access map,
// the blocks table, ActiveBlocks, the SMTP policy service, the UI): a valid
// sasl_username() in ASCII lowercase. Postfix's access maps fold keys and
// lookups to lowercase, so "Bob@EXAMPLE.org" and "bob@example.org" are one
// login to smtpd and must be one to saslguard. nullopt when not a valid login.
std::optional<std::string> canonical_login(std::string_view s);

// IPv4 dotted quad or IPv6 text, as inet_pton accepts it. Returns the one
// canonical text form (inet_ntop; lowercase IPv6, "::" compression), with an
// IPv4-mapped IPv6 address as the plain IPv4 it is ("::ffff:1.2.3.4" → "1.2.3.4"):
// Postfix reports such clients in IPv4 form, so that is the key its
// check_client_access lookup uses, and the form every never-block rule sees.
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
