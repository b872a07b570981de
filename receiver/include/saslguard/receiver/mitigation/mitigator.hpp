#pragma once
// The ActionExecutor for Postfix and the SASL backend: every kind of the
// catalog (catalog.hpp), run by its mechanism. The receiver's worker, its
// Telegram handlers and saslguardctl all go through one Mitigator, so they
// share the validation, the action log and the blocks.
//
// Contract:
// - Never throws. Every request is one row of the action log, including dry
//   runs and requests refused by validation: a new row, or the planned row the
//   request names (ActionRequest::action_id, the worker's automatic actions).
// - Validation first: the kind must be in the catalog; the username, each IP,
//   each sender is checked with common/validate before anything reaches a map
//   or a command; one bad value refuses the whole request. The descriptor says
//   whether a kind may expire and whether the automatic policy may run it.
// - One form for every key: the login is acted on, recorded and put in force
//   lowercase (validate::canonical_login), each IP in canonical text, so an
//   unblock of bob@example.org lifts a block of Bob@EXAMPLE.org.
// - Never-block addresses (never_block.hpp): a request that would block one is
//   refused whole, saying which and why; unblocking one is always allowed.
// - Idempotent: repeating an action that is already in force changes nothing
//   (and may refresh its expiry); reverting something not in force succeeds
//   with "not blocked".
// - Serialized: the whole action runs under a mutex and an flock on
//   settings.effective_lock_file() (in the state directory, never beside the
//   Postfix maps), so the receiver and saslguardctl never interleave.
// - A failed change leaves no block row; the error has the exit status and
//   stderr. A successful one records its blocks in the same transaction as its
//   outcome, then tells ActiveBlocks (when wired), so readers see it at once.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "saslguard/common/clock.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"
#include "saslguard/receiver/mitigation/never_block.hpp"
#include "saslguard/receiver/mitigation/queue.hpp"
#include "saslguard/receiver/mitigation/sasl_backend.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"
#include "saslguard/receiver/safeguards.hpp"
#include "saslguard/receiver/store/mitigation_repository.hpp"

namespace saslguard::receiver::mitigation {

using store::MitigationRepository;

struct MitigatorDeps {
    CommandRunner* runner = nullptr;        // required
    MitigationRepository* store = nullptr;  // required: the action log and blocks
    QueueSource* queue_source = nullptr;    // nullptr: showq_path's socket, else postqueue -j
    ActiveBlocks* blocks = nullptr;         // told of every change; may be null
    Clock clock;                            // unix ms; empty: the wall clock
    bool allow_auto_delete = false;         // policy.allow_auto_delete (Automatic::OptIn kinds)
};

class Mitigator final : public ActionExecutor, public Safeguards {
public:
    // Fails on settings validate() refuses.
    static Result<std::unique_ptr<Mitigator>> create(MitigationSettings settings,
                                                     MitigatorDeps deps);

    ActionOutcome execute(const ActionRequest& request) override;

    // Safeguards (safeguards.hpp), from the backend, never-block set and queue it acts on.
    std::vector<std::string> accounts(const std::vector<std::string>& logins) override;
    Result<std::vector<std::pair<std::string, std::string>>> protected_ips(
        const std::vector<std::string>& ips) override;
    Result<std::size_t> queued_messages(const std::string& login, std::size_t enough) override;
    Result<QueueSample> queue_sample(const std::string& login, std::size_t max_messages,
                                     bool subjects) override;

    // Reverts every block whose expiry is due (actor "expiry", with the undo
    // kind the catalog gives the block's kind); returns one outcome per
    // revert. A revert that fails stays due and is retried on the next call.
    std::vector<ActionOutcome> run_expiries();

    const MitigationSettings& settings() const { return m_settings; }
    // Each mechanism's name and where it acts (Mechanism::describe).
    std::vector<std::pair<std::string, std::string>> describe() const;

private:
    Mitigator(MitigationSettings settings, MitigatorDeps deps);

    struct Work;  // one request in flight (defined in mitigator.cpp)
    ActionOutcome run(const ActionRequest& request);
    std::string validate_request(const ActionDescriptor* action, Work& w);
    store::ActionRecord row_of(const Work& w, const std::string& invalid) const;
    static std::string params_json(const Work& w, bool with_outcome);
    Result<std::int64_t> record(const store::ActionRecord& rec);
    void carry_out(const ActionDescriptor& action, Work& w);
    void finish(Work& w, const std::string& actor);

    MitigationSettings m_settings;
    MitigatorDeps m_deps;
    std::unique_ptr<QueueSource> m_own_queue_source;
    std::map<std::string, std::unique_ptr<Mechanism>, std::less<>> m_mechanisms;
    std::unique_ptr<SaslBackend> m_identity;  // accounts(); null for sasl_backend none
    std::unique_ptr<NeverBlock> m_never_block;
    std::mutex m_mutex;
};

}  // namespace saslguard::receiver::mitigation
