#pragma once
// The one owner of the receiver's state database.
//
//   auto store = StateStore::open(config.state_path);   // migrates, once
//   auto session = (*store)->session(Durability::Full); // one per thread
//   auto tx = session->begin();                          // the process's write lock
//   session->alerts().…; session->mitigation().…; session->telegram().…
//   tx->commit();
//
// StateStore is the connection factory and the only code that knows the engine
// (SQLite today; PostgreSQL for a fleet later, behind the same interfaces). It
// runs the migrations once, when opened, and gives every session of the
// process the same write lock, so writers hand the lock to each other instead
// of polling in the engine's busy handler (which sleeps up to 100 ms).
//
// A Session is one connection with the three typed repositories over it; the
// repositories own their tables and are the only code with SQL. A transaction
// begun on a session covers all three. A session is used by one thread at a
// time; give each thread its own. Nothing here throws: every call returns a
// Result whose error names the statement and the engine's reason.
#include <memory>
#include <string>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/store/alert_repository.hpp"
#include "saslguard/receiver/store/mitigation_repository.hpp"
#include "saslguard/receiver/store/telegram_repository.hpp"
#include "saslguard/receiver/store/transaction.hpp"

namespace saslguard::receiver::store {

enum class Durability {
    // A COMMIT that returned is on disk (the intake: a 200 to Alertmanager means stored).
    Full,
    // A COMMIT survives any crash of the process, and is on disk at the next Full
    // commit of the same store; only a power loss right after it can roll it back.
    Normal,
};

struct SessionOptions {
    Durability durability = Durability::Normal;
    // The session's commits never run the engine's housekeeping inline (WAL
    // checkpoints): for the committing paths whose latency matters (intake,
    // worker); the worker runs Session::checkpoint() outside the lock instead.
    bool defer_housekeeping = false;
};

class Session {
public:
    virtual ~Session() = default;
    // IMMEDIATE: the write lock is taken now (waiting for other writers),
    // never halfway through. Rolled back unless committed.
    virtual Result<std::unique_ptr<Transaction>> begin() = 0;
    virtual AlertRepository& alerts() = 0;
    virtual MitigationRepository& mitigation() = 0;
    virtual TelegramRepository& telegram() = 0;
    // Engine housekeeping that must not run inside a commit (SQLite: a
    // passive WAL checkpoint). Cheap when there is nothing to do.
    virtual void checkpoint() = 0;
};

class StateStore {
public:
    virtual ~StateStore() = default;
    // Opens (creating it) and migrates the store at `path` (a SQLite file).
    // Fails on a store written by a newer saslguard, naming both schema versions.
    static Result<std::unique_ptr<StateStore>> open(const std::string& path);

    // A new connection. Sessions stay usable after the StateStore is gone.
    virtual Result<std::unique_ptr<Session>> session(const SessionOptions& options = {}) = 0;
    virtual int schema_version() const = 0;
    virtual const std::string& location() const = 0;
};

}  // namespace saslguard::receiver::store
