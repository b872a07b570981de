#pragma once
// The one owner of the receiver's state database.
//
//   auto store = StateStore::open(config.store);         // migrates, once
//   auto session = (*store)->session(Durability::Full); // one per thread
//   auto tx = session->begin();                          // the process's write lock
//   session->alerts().…; session->mitigation().…; session->telegram().…
//   tx->commit();
//
// StateStore is the connection factory and the only code that knows the engine:
// SQLite (the embedded default, one file per host) or PostgreSQL (a fleet's
// shared database, one schema per host; docs/fleet.md), behind the same
// interfaces and the same repositories. It runs the migrations once, when
// opened. Writers take the store's write lock at begin(): with SQLite every
// session of the process shares one mutex, so writers hand the lock to each
// other instead of polling in the engine's busy handler (which sleeps up to
// 100 ms); with PostgreSQL it is an advisory lock on the host's schema.
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
    // A COMMIT that returned is on disk (the intake: a 200 to Alertmanager means
    // stored). PostgreSQL: synchronous_commit on.
    Full,
    // A COMMIT survives any crash of the process, and is on disk at the next Full
    // commit of the same store; only a power loss right after it can roll it back.
    // PostgreSQL: synchronous_commit off (a crash of PostgreSQL itself may lose
    // the last few hundred ms of such commits).
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
    // The write lock is taken now (waiting for other writers), never halfway
    // through (SQLite: BEGIN IMMEDIATE; PostgreSQL: pg_advisory_xact_lock on
    // the host's schema). Rolled back unless committed.
    virtual Result<std::unique_ptr<Transaction>> begin() = 0;
    virtual AlertRepository& alerts() = 0;
    virtual MitigationRepository& mitigation() = 0;
    virtual TelegramRepository& telegram() = 0;
    // Engine housekeeping that must not run inside a commit (SQLite: a
    // passive WAL checkpoint; PostgreSQL: nothing). Cheap when there is nothing to do.
    virtual void checkpoint() = 0;
};

// Which engine and where (receiver config `store:` and `state_path`, docs/receiver.md).
struct StoreSettings {
    enum class Engine { Sqlite, Postgresql };
    Engine engine = Engine::Sqlite;
    std::string path;      // SQLite: the database file (state_path)
    std::string conninfo;  // PostgreSQL: a libpq connection string (a secret)
    std::string schema;    // PostgreSQL: this host's schema, saslguard_<host>
};

// A PostgreSQL schema name written into SQL unquoted: 1-63 of [a-z0-9_], not
// starting with a digit or "pg_".
bool valid_schema(const std::string& schema);
// saslguard_<host>: lowercased, any other character than a-z and 0-9 as _, at
// most 63 characters.
std::string default_schema(const std::string& host_name);

class StateStore {
public:
    virtual ~StateStore() = default;
    // Opens (creating it) and migrates the store. Fails on a store written by a
    // newer saslguard, naming both schema versions; with PostgreSQL, also when
    // it cannot be reached (its sessions reconnect by themselves afterwards).
    static Result<std::unique_ptr<StateStore>> open(const StoreSettings& settings);
    // The SQLite store at `path`.
    static Result<std::unique_ptr<StateStore>> open(const std::string& path);

    // A new connection. Sessions stay usable after the StateStore is gone.
    virtual Result<std::unique_ptr<Session>> session(const SessionOptions& options = {}) = 0;
    virtual int schema_version() const = 0;
    virtual const std::string& location() const = 0;
};

}  // namespace saslguard::receiver::store
