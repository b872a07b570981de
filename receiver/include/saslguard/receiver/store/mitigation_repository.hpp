#pragma once
// Mitigation's tables: the one action log and the blocks in force.
//
// The action log has one row per action, whoever asked for it (the worker's
// automatic policy, a Telegram button or command, saslguardctl, expiry), dry
// runs and refused requests included, and one state vocabulary:
//
//   planned ──► running ──► applied ──► reverted   (a later action undid it)
//      │           ├──────► failed
//      │           └──────► interrupted   (the receiver stopped while it ran:
//      │                                   its effect is unknown, never re-run)
//      └─ the worker stores its automatic actions planned, with the incident,
//         before any of them runs; a request from elsewhere starts running.
//
// `blocks` holds what is in force now, one row per (kind, target): it is
// written only in the transaction that records the successful action. Owned by
// this repository: nobody else writes SQL against `actions` or `blocks`.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"

namespace saslguard::receiver::store {

struct ActionRecord {
    std::int64_t id = 0;
    std::int64_t incident_id = 0;  // 0: not tied to an incident (saslguardctl)
    std::string kind;              // wire name: block_login, …
    std::string target;            // SASL login (log-quoted when it failed validation)
    std::string params_json;  // {"ips":[…],"senders":[…],"expires_after_s":…,"affected":[…]}
    std::string actor;        // auto | telegram:<id> | cli:<user> | expiry
    std::string reason;
    bool dry_run = false;
    std::string state = "running";  // planned|running|applied|failed|interrupted|reverted
    std::string result;             // the outcome summary
    std::string error;
    std::int64_t created_at = 0;  // unix ms, as every time in the store
    std::optional<std::int64_t> started_at;
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> expires_at;
    std::optional<std::int64_t> reverts_action_id;
};

// Block kinds: "login" (check_sasl_access), "ip" (check_client_access),
// "account" (SASL backend lock), "hold" (queued mail held; target = username).
struct BlockRecord {
    std::string kind;
    std::string target;
    std::int64_t action_id = 0;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> expires_at;
    // Read side only (from the action that put it in force):
    std::string actor{};
    std::int64_t incident_id = 0;
};

struct ActionFinish {
    std::int64_t action_id = 0;
    std::string state;  // applied|failed
    std::string result;
    std::string error;
    std::string params_json;  // replaces the request's params (adds what was affected)
    std::int64_t finished_at = 0;
    std::vector<BlockRecord> put_blocks;         // upserted
    std::vector<BlockRecord> remove_blocks;      // by kind+target
    std::vector<std::int64_t> reverted_actions;  // their state becomes "reverted"
};

// A request as its action-log row (state planned) and back.
ActionRecord planned_record(const ActionRequest& request, std::int64_t now_ms);
ActionRequest request_of(const ActionRecord& record);

class MitigationRepository {
public:
    virtual ~MitigationRepository() = default;

    // --- the action log ----------------------------------------------------------
    // A new row as given (planned by the worker; running or failed by the executor).
    virtual Result<std::int64_t> insert_action(const ActionRecord& record) = 0;
    // The executor takes over a planned row it runs (record.id): target, params,
    // dry run, reason and expiry as it validated them; state from the record.
    virtual Result<void> update_action(const ActionRecord& record) = 0;
    // planned → running (committed before the action runs); false when the row
    // was not planned.
    virtual Result<bool> start_action(std::int64_t id, std::int64_t now_ms) = 0;
    // Atomically: the action's final state, the block changes, the reverted marks.
    virtual Result<void> finish_action(const ActionFinish& finish) = 0;
    // Records an outcome for a row still running (an executor that keeps no
    // log of its own); a row the executor finished is left alone.
    virtual Result<void> settle_action(std::int64_t id, bool ok, const std::string& result,
                                       const std::string& error, std::int64_t now_ms) = 0;
    // A row still running becomes interrupted with `error` (its outcome is unknown).
    virtual Result<void> interrupt_action(std::int64_t id, const std::string& error,
                                          std::int64_t now_ms) = 0;
    // Rows whose actor starts with one of `actor_prefixes`, left running by a
    // stop (crash, SIGKILL), become interrupted with `error`; returns how many.
    virtual Result<int> interrupt_running(const std::vector<std::string>& actor_prefixes,
                                          const std::string& error, std::int64_t now_ms) = 0;
    // Actions by `actor` created since `since_ms` (the hourly budget of automatic actions).
    virtual Result<std::int64_t> count_actions_since(const std::string& actor,
                                                     std::int64_t since_ms) = 0;
    // An incident's actions by `actor`, oldest first.
    virtual Result<std::vector<ActionRecord>> actions_of_incident(std::int64_t incident_id,
                                                                  const std::string& actor) = 0;
    // Newest first; `limit` rows at most.
    virtual Result<std::vector<ActionRecord>> actions(std::size_t limit) = 0;
    virtual Result<std::optional<ActionRecord>> action(std::int64_t id) = 0;

    // --- blocks in force -------------------------------------------------------
    virtual Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                          const std::string& target) = 0;
    // Ordered by kind, then target; with the actor and incident of each.
    virtual Result<std::vector<BlockRecord>> blocks() = 0;
};

}  // namespace saslguard::receiver::store
