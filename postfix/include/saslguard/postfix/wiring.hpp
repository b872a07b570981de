#pragma once
// Postfix wiring: does every smtpd service that accepts SASL consult saslguard
// before it lets an authenticated client through?
//
// A block is real only when smtpd looks it up. saslguard writes a
// check_sasl_access map (blocked logins), a check_client_access map (blocked
// client IPs) and may run a policy service; each must be named in a restriction
// list of every smtpd service that accepts AUTH, BEFORE any permit that ends that
// list for an authenticated client (permit_sasl_authenticated, permit, or
// permit_mynetworks for a client in mynetworks). master.cf overrides main.cf:
// Debian's stock `submission`/`submissions` entries replace the lists with
// `-o smtpd_sender_restrictions=` (empty) or `=$mua_sender_restrictions`, so a map
// named in main.cf's smtpd_sender_restrictions then protects port 25 only.
//
// This is a pure function of the texts postconf prints; it runs nothing and reads
// no file, so the same code serves `saslguardctl doctor`, the receiver's startup
// warning and the unit tests (real captures in tests/fixtures/postconf/):
//
//   postconf -c DIR -n    main.cf, non-default parameters (or plain `postconf`:
//                         every parameter; defaults then come from the text)
//   postconf -c DIR -M    master.cf services, one line each, -o options inline
//   postconf -c DIR -P    master.cf -o overrides, "service/type/name = value"
//                         (optional: -M carries them too)
//
// Semantics followed (Postfix 3.x, SMTPD_ACCESS_README):
// - A service's parameter is its -o override, else main.cf, else the built-in
//   default (smtpd_sasl_auth_enable = no, smtpd_*_restrictions empty except
//   smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated,
//   defer_unauth_destination).
// - $name and ${name} in a list are expanded against the service's parameters
//   (an undefined name expands to nothing, as in Postfix, and is reported);
//   an element naming a class from smtpd_restriction_classes is replaced by the
//   class's list. ${name?value} / ${name:value} and ${{...}} are not evaluated:
//   a list that uses them is reported as not understood (never as protected).
// - The lists client, helo, sender, relay and recipient are evaluated one after
//   the other at RCPT TO (smtpd_delay_reject = yes, the default); a permit ends
//   only its own list, so a check is effective when no permit precedes it in the
//   list that holds it. With smtpd_delay_reject = no the client and helo lists
//   run before AUTH: a check_sasl_access there never sees a login.
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::postfix {

// The postconf outputs of one Postfix instance (see above).
struct PostconfTexts {
    std::string main;       // postconf -n (or postconf)
    std::string master;     // postconf -M
    std::string overrides;  // postconf -P; may be empty
};

// What saslguard expects smtpd to consult: the receiver's mitigation settings.
// An empty field is not checked.
struct WiringExpectation {
    std::string sasl_access_map;    // path, e.g. /etc/postfix/saslguard_sasl_access
    std::string client_access_map;  // path, e.g. /etc/postfix/saslguard_client_access
    std::string map_type;           // hash | btree | lmdb | cdb | texthash; empty: any type
    std::string policy_service;     // e.g. inet:127.0.0.1:10031 or unix:private/saslguard
};

// One thing smtpd must consult.
enum class WiringCheck { SaslAccessMap, ClientAccessMap, PolicyService };

enum class WiringVerdict {
    Consulted,       // named in an effective list, before any permit
    Missing,         // named in no effective list of the service
    AfterPermit,     // named, but only after a permit that ends that list first
    WrongTableType,  // named with another table type than the receiver postmaps
    BeforeAuth,      // only in client/helo lists while smtpd_delay_reject = no
    NotUnderstood,   // a list uses syntax this analyzer does not evaluate
};

struct WiringFinding {
    WiringCheck check;
    WiringVerdict verdict;
    std::string list;    // the restriction list involved (smtpd_sender_restrictions), or ""
    std::string detail;  // what was found, in words
    std::string fix;     // how to fix it (postconf commands); empty when Consulted

    bool ok() const { return verdict == WiringVerdict::Consulted; }
};

// One restriction list as the service sees it.
struct EffectiveList {
    std::string name;                   // smtpd_sender_restrictions
    std::string source;                 // where its text comes from: "main.cf", "default",
                                        // or "master.cf submission/inet -o"
    std::string raw;                    // the text before expansion
    std::vector<std::string> elements;  // after $name and restriction-class expansion;
                                        // a "check_x_access type:table" stays one element
};

// An smtpd service of master.cf that accepts SASL (smtpd_sasl_auth_enable = yes).
struct SmtpdService {
    std::string name;                     // "submission", "smtp", "127.0.0.1:submission"
    std::string type;                     // "inet", "unix", "pass"
    bool chroot = false;                  // smtpd runs chrooted to the queue directory: a Cyrus
                                          // sasldb it opens is the copy under the queue directory
    std::string syslog_name;              // effective syslog_name (postfix/submission)
    std::vector<EffectiveList> lists;     // client, helo, sender, relay, recipient
    std::vector<WiringFinding> findings;  // one per expected check

    std::string label() const { return name + "/" + type; }  // postconf -M/-P notation
    bool ok() const;
};

struct WiringReport {
    std::vector<SmtpdService> services;  // every smtpd service with AUTH, master.cf order
    std::vector<std::string> notes;      // undefined $names, unparsed lines, ...
    bool ok() const;                     // every finding of every service is Consulted;
                                         // also false when no service accepts AUTH
};

// Fails only when the texts are not postconf output at all (no main.cf
// parameter line, or a master.cf line without the 8 columns).
Result<WiringReport> analyze_wiring(const PostconfTexts& texts, const WiringExpectation& expected);

std::string_view to_string(WiringCheck check);
std::string_view to_string(WiringVerdict verdict);

}  // namespace saslguard::postfix
