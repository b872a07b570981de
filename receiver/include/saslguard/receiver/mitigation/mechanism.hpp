#pragma once
// A mechanism: one way saslguard changes the mail host (the login map, the
// client map, the queue, the SASL backend), with the kinds it carries out
// described in the catalog (catalog.hpp). The Mitigator validates a request,
// records it, takes the mitigation lock and calls exactly one of apply, revert
// or dry_run; it turns the Effect into blocks put in force or lifted, and the
// outcome. A mechanism never throws and validates every value it uses again
// (names are attacker-controlled).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"

namespace saslguard::receiver::mitigation {

struct ActionDescriptor;
class QueueSource;

// What a request acts on, validated by the Mitigator: the login (may be empty
// for IP kinds), canonical unique IPs, envelope senders.
struct ActionTarget {
    std::string username;
    std::vector<std::string> ips;
    std::vector<std::string> senders;
};

// What a mechanism did (or, in a dry run, would do).
struct Effect {
    std::string summary;                // "blocked login alice@example.com"
    std::vector<std::string> affected;  // what changed: logins, IPs, queue ids
    std::vector<std::string> in_force;  // targets of the descriptor's block kind now in force
    std::vector<std::string> lifted;    // targets of the block kind no longer in force
};

// What a mechanism may use. `in_force` answers from the blocks table (under
// the mitigation lock) whether a block is saslguard's, e.g. so an account an
// administrator locked by hand is not recorded as ours.
struct MechanismDeps {
    const MitigationSettings& settings;
    CommandRunner& runner;
    QueueSource& queue_source;
    std::function<bool(std::string_view block_kind, const std::string& target)> in_force;
};

class Mechanism {
public:
    virtual ~Mechanism() = default;
    // Carries out a forward kind of this mechanism (action.forward).
    virtual Result<Effect> apply(const ActionDescriptor& action, const ActionTarget& target) = 0;
    // Carries out an undo kind (!action.forward).
    virtual Result<Effect> revert(const ActionDescriptor& action, const ActionTarget& target) = 0;
    // Says what apply/revert would change, reading but never writing.
    virtual Result<Effect> dry_run(const ActionDescriptor& action, const ActionTarget& target) = 0;
    // Where it acts on this host, one line ("hash:/etc/postfix/saslguard_sasl_access
    // (check_sasl_access), postmap"): logged at start, shown by saslguardctl --help.
    virtual std::string describe() const = 0;
};

}  // namespace saslguard::receiver::mitigation
