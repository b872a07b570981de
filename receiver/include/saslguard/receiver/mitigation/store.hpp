#pragma once
// Persistence of the mitigation audit trail and of active blocks, behind a
// small interface: SqliteMitigationStore (the receiver's database: tables
// `actions` and `blocks`) in production, MemoryMitigationStore in unit tests.
//
// Every action, including dry runs and refused requests, gets an `actions` row:
// requested first, then applied|failed|reverted. `blocks` holds what is in force
// now (one row per kind+target), so list-blocks and expiry never have to replay
// the audit trail. A block row is only written after its change succeeded.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver {
class Database;
}

namespace saslguard::receiver::mitigation {

struct ActionRecord {
    std::int64_t id = 0;
    std::int64_t incident_id = 0;
    std::string kind;         // to_string(ActionKind)
    std::string target;       // username (log-quoted when it failed validation)
    std::string params_json;  // ips, senders, queue ids, …
    std::string actor;
    std::string reason;
    bool dry_run = false;
    std::string state = "requested";  // requested|applied|failed|reverted
    std::string result;               // the outcome summary
    std::string error;
    std::int64_t created_at = 0;  // unix ms (as every time in the store)
    std::optional<std::int64_t> finished_at;
    std::optional<std::int64_t> expires_at;
    std::optional<std::int64_t> reverts_action_id;
};

// Block kinds: "login" (check_sasl_access), "ip" (check_client_access),
// "account" (SASL backend lock), "hold" (queued mail held; target = username,
// the held queue ids live in the action's params_json).
struct BlockRecord {
    std::string kind;
    std::string target;
    std::int64_t action_id = 0;
    std::int64_t created_at = 0;
    std::optional<std::int64_t> expires_at;
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

class MitigationStore {
public:
    virtual ~MitigationStore() = default;
    virtual Result<std::int64_t> insert_action(const ActionRecord& record) = 0;
    // Atomically: the action's final state, the block changes, the reverted marks.
    virtual Result<void> finish_action(const ActionFinish& finish) = 0;
    virtual Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                          const std::string& target) = 0;
    virtual Result<std::vector<BlockRecord>> blocks() = 0;
    // Newest first; `limit` rows at most.
    virtual Result<std::vector<ActionRecord>> actions(std::size_t limit) = 0;
    virtual Result<std::optional<ActionRecord>> action(std::int64_t id) = 0;
};

// The receiver's SQLite database (tables from migration 3). Not thread-safe:
// one store per Database connection, as Database itself.
class SqliteMitigationStore final : public MitigationStore {
public:
    explicit SqliteMitigationStore(Database& db) : m_db(db) {}
    Result<std::int64_t> insert_action(const ActionRecord& record) override;
    Result<void> finish_action(const ActionFinish& finish) override;
    Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                  const std::string& target) override;
    Result<std::vector<BlockRecord>> blocks() override;
    Result<std::vector<ActionRecord>> actions(std::size_t limit) override;
    Result<std::optional<ActionRecord>> action(std::int64_t id) override;

private:
    Database& m_db;
};

class MemoryMitigationStore final : public MitigationStore {
public:
    Result<std::int64_t> insert_action(const ActionRecord& record) override;
    Result<void> finish_action(const ActionFinish& finish) override;
    Result<std::optional<BlockRecord>> find_block(const std::string& kind,
                                                  const std::string& target) override;
    Result<std::vector<BlockRecord>> blocks() override;
    Result<std::vector<ActionRecord>> actions(std::size_t limit) override;
    Result<std::optional<ActionRecord>> action(std::int64_t id) override;

private:
    std::vector<ActionRecord> m_actions;
    std::vector<BlockRecord> m_blocks;
};

}  // namespace saslguard::receiver::mitigation
