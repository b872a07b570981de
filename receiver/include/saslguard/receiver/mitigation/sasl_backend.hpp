#pragma once
// Locking an account in the SASL backend so it cannot authenticate at all
// (block_login only stops it sending through Postfix's check_sasl_access).
// Every backend is reversible without saslguard ever choosing or learning a new
// password; docs/mitigation.md explains each choice.
//
// Contract: lock()/unlock() are idempotent (locking a locked account succeeds
// with "already locked" and changed=false); the username is validated again here; failures carry
// the command's exit status and stderr. Each returns a one-line description.
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"

namespace saslguard::receiver::mitigation {

struct BackendChange {
    std::string summary;   // "locked alice@example.com in sasldb (1 record quarantined)"
    bool changed = false;  // false: it already was in the requested state
};

class SaslBackend {
public:
    virtual ~SaslBackend() = default;
    virtual Result<BackendChange> lock(const std::string& username) = 0;
    virtual Result<BackendChange> unlock(const std::string& username) = 0;
    // What lock/unlock would do, for dry runs; validates but changes nothing.
    virtual Result<std::string> describe(const std::string& username, bool lock) = 0;
    // The account each login names here, canonical (lowercase): what lock()
    // would act on. sasldb: "user@realm", the realm found in the sasldb when
    // the login has none; saslauthd_shadow: the Unix user (the realm dropped);
    // command: the login. A login the backend cannot resolve (no such account,
    // ambiguous realm, invalid) names itself. Reads, never changes; never fails:
    // the guards that compare identities must not lose to a backend hiccup, so
    // an unreadable backend resolves every login to itself.
    virtual std::vector<std::string> accounts(const std::vector<std::string>& logins);
};

// nullptr for SaslBackendKind::None. Fails on an invalid lock/unlock template.
// Programs run by their absolute paths (settings.program()); the sasldb
// quarantine lives in settings.sasldb_quarantine() (the state directory).
Result<std::unique_ptr<SaslBackend>> make_sasl_backend(const MitigationSettings& settings,
                                                       CommandRunner& runner);

// Exposed for tests: the argv of a command template with every argument that is
// exactly "{user}" replaced by `user`. A template with "{user}" inside a longer
// argument is refused (it would let a name's '=' or ',' reshape e.g. an LDAP DN).
Result<std::vector<std::string>> expand_user_template(const std::vector<std::string>& tmpl,
                                                      const std::string& user);

// Sasldb records as db_dump prints them (hex), split into user/realm/property.
struct SasldbRecord {
    std::string key_hex;
    std::string value_hex;
    std::string user;
    std::string realm;
    std::string property;
};
std::vector<SasldbRecord> parse_db_dump(std::string_view text);

}  // namespace saslguard::receiver::mitigation
