#pragma once
// The ActionExecutor for Postfix and the SASL backend (issue #6): block/unblock
// the login, hold/release/delete the user's queued mail, lock/unlock the SASL
// account, block/unblock client IPs. The receiver's worker, its Telegram
// handlers and saslguardctl all go through one Mitigator, so they share the
// validation, the audit trail and the block state.
//
// Contract:
// - Never throws. Every request is one row of the action log, including dry
//   runs and requests refused by validation: a new row, or the planned row the
//   request names (ActionRequest::action_id, the worker's automatic actions).
// - Validation first: the username, each IP, each sender and each queue id is
//   checked with common/validate before anything reaches a map or a command;
//   one bad value refuses the whole request.
// - Idempotent: repeating an action that is already in force changes nothing
//   (and may refresh its expiry); reverting something not in force succeeds
//   with "not blocked".
// - Serialized: the whole action runs under a mutex and an flock on
//   settings.lock_file, so the receiver and saslguardctl never interleave.
// - A failed change leaves no block row; the error has the exit status and stderr.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "saslguard/common/clock.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/access_map.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"
#include "saslguard/receiver/mitigation/queue.hpp"
#include "saslguard/receiver/mitigation/sasl_backend.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"
#include "saslguard/receiver/store/mitigation_repository.hpp"

namespace saslguard::receiver::mitigation {

using store::MitigationRepository;

struct MitigatorDeps {
    CommandRunner* runner = nullptr;        // required
    MitigationRepository* store = nullptr;  // required: the action log and blocks
    QueueSource* queue_source = nullptr;    // nullptr: PostqueueSource over `runner`
    Clock clock;                            // unix ms; empty: the wall clock
    bool allow_auto_delete = false;         // policy.allow_auto_delete: delete_mail by actor "auto"
};

class Mitigator final : public ActionExecutor {
public:
    // Fails on settings that cannot work (bad lock/unlock template, unknown map type).
    static Result<std::unique_ptr<Mitigator>> create(MitigationSettings settings,
                                                     MitigatorDeps deps);

    ActionOutcome execute(const ActionRequest& request) override;

    // Reverts every block whose expiry is due (actor "expiry"); returns one
    // outcome per reverted action. A revert that fails stays due and is retried
    // on the next call.
    std::vector<ActionOutcome> run_expiries();

    const MitigationSettings& settings() const { return m_settings; }

private:
    Mitigator(MitigationSettings settings, MitigatorDeps deps,
              std::unique_ptr<SaslBackend> backend);

    struct Work;  // one request in flight (defined in mitigator.cpp)
    ActionOutcome run(const ActionRequest& request);
    Result<std::int64_t> record(const store::ActionRecord& rec);
    void do_login(Work& w);
    void do_ips(Work& w);
    void do_mail(Work& w);
    void do_account(Work& w);
    // "" when main.cf or master.cf uses `map`; otherwise a warning for the
    // outcome (the block is written but has no effect until the map is used).
    std::string unused_map_warning(const AccessMap& map, bool& known_used);

    MitigationSettings m_settings;
    MitigatorDeps m_deps;
    std::unique_ptr<QueueSource> m_own_queue_source;
    std::unique_ptr<SaslBackend> m_backend;
    AccessMap m_sasl_map;
    AccessMap m_client_map;
    PostfixQueue m_queue;
    bool m_sasl_map_used = false;  // cached once seen in the Postfix configuration
    bool m_client_map_used = false;
    std::mutex m_mutex;
};

}  // namespace saslguard::receiver::mitigation
