#pragma once
// Settings of the SMTP policy service (docs/policy-service.md). A plain struct
// with its defaults next to each field; the receiver's YAML section
// `smtp_policy:` maps onto it one key per field (the key is named in the
// comment). validate() is the one place that checks them.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/smtp_policy/protocol.hpp"

namespace saslguard::receiver::smtp_policy {

// One place to listen on, in Postfix's own notation so the same text goes into
// check_policy_service: "inet:127.0.0.1:10046", "inet:[::1]:10046" or
// "unix:/var/spool/postfix/private/saslguard-policy". TCP is loopback only: the
// service tells whoever asks whether a login is blocked, and a request it counts
// can put a user's mail on hold, so nobody off the host may talk to it.
struct ListenAddress {
    enum class Kind { Inet, Unix } kind = Kind::Inet;
    std::string host;  // Inet: an IP literal (127.0.0.0/8 or ::1)
    std::uint16_t port = 0;
    std::string path;  // Unix: absolute path
    std::string text() const;
};
// Parses and checks one `listen` entry; errors say what is wrong.
Result<ListenAddress> parse_listen_address(const std::string& text);

// Limits of one SASL user's sending guard; 0 switches that count off.
struct GuardLimits {
    std::uint32_t max_messages = 30;     // messages in message_window
    std::uint32_t max_recipients = 300;  // recipients in recipient_window
};

struct GuardSettings {
    bool enabled = true;                         // guard.enabled
    GuardLimits limits;                          // guard.max_messages, guard.max_recipients
    std::chrono::seconds message_window{60};     // guard.message_window (1s..1d)
    std::chrono::seconds recipient_window{600};  // guard.recipient_window (1s..1d)
    // guard.hold_for: how long a tripped user's further mail is held before the
    // guard looks at the counts afresh (the admin's release or block ends it
    // earlier through SendingGuard::clear). 0: until cleared or the receiver restarts.
    std::chrono::seconds hold_for{3600};
    // guard.max_tracked_users: memory bound; idle users (nothing in either
    // window, not held) are forgotten first, then the least recently seen.
    std::size_t max_tracked_users = 50000;
    // guard.user_limits: per-user limits, keys are logins (compared lowercased).
    std::map<std::string, GuardLimits> user_limits;
    // guard.allow_users / guard.allow_domains: never counted nor held. A domain
    // also covers its subdomains (example.com covers mx.example.com), matched
    // against the part of the login after the last '@'.
    std::vector<std::string> allow_users;
    std::vector<std::string> allow_domains;
};

struct ServerSettings {
    // listen: one or more addresses (see ListenAddress).
    std::vector<std::string> listen{"inet:127.0.0.1:10046"};
    mode_t socket_mode = 0660;  // socket_mode, for unix sockets
    std::string socket_group;   // socket_group: group of unix sockets (e.g. postfix); empty: ours
    // max_connections: beyond it a new connection is closed at once (counted,
    // logged): the established ones, Postfix's, keep working. Each smtpd process
    // holds one connection per policy service, so this is about the sum of the
    // process limits of the master.cf services that ask this one.
    std::size_t max_connections = 1000;
    // request_timeout: a request must end (empty line) within this time of its
    // first byte, or it is answered DUNNO and the connection closed. Postfix
    // writes a request in one go; only a broken or hostile client is this slow.
    std::chrono::milliseconds request_timeout{10000};
    // idle_timeout: an idle connection is closed after this. Longer than
    // Postfix's smtpd_policy_service_max_idle (300s) so that Postfix, not this
    // service, closes idle connections (a connection closed under Postfix's feet
    // costs it a retry: smtpd_policy_service_retry_delay).
    std::chrono::milliseconds idle_timeout{600000};
    ParserLimits parser;  // max_line_bytes, max_attributes, max_request_bytes
    // max_output_bytes: answers waiting for a client that does not read them;
    // beyond it the connection is not read until they drain.
    std::size_t max_output_bytes = 65536;
};

struct SmtpPolicySettings {
    bool enabled = false;  // enabled: the receiver starts the service only when true
    ServerSettings server;
    GuardSettings guard;
    // block.login_reject_text / block.client_reject_text: the text after REJECT
    // (Postfix adds the 554 code; the enhanced code is ours). No user data in it.
    std::string login_reject_text =
        "5.7.1 Sending from this account is blocked; "
        "contact your mail administrator";
    std::string client_reject_text =
        "5.7.1 Client address blocked; "
        "contact your mail administrator";
};

// Checks every field; the error names the key ("smtp_policy.guard.message_window: …").
Result<void> validate(const SmtpPolicySettings& settings);

}  // namespace saslguard::receiver::smtp_policy
