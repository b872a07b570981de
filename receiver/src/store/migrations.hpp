#pragma once
// Schema migrations: an append-only list of SQL steps (receiver/src/store/migrations.cpp),
// each in both dialects: the SQLite text and the PostgreSQL text of the same step.
// Step N (1-based position in the list) brings the schema to version N; the
// `schema_version` table records which version a database file is at.
//
// To add tables: APPEND one entry at the end of the list in migrations.cpp.
// Never edit, reorder or remove a committed entry: databases in the field have
// already run it. Each step runs in its own transaction with its version bump,
// so a crash leaves the database at the previous or the next version. Steps
// run under the store's write lock (Connection::begin: SQLite IMMEDIATE,
// PostgreSQL an advisory lock on the host's schema), so receivers and
// saslguardctl starting at once migrate one after the other.
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::store::sql {

class Connection;

struct Migration {
    std::string_view description;  // one line: what and why
    std::string_view sql;          // SQLite: one or more statements
    std::string_view postgresql;   // the same step in PostgreSQL's dialect
};

const std::vector<Migration>& migrations();

// Brings `db` to the latest version; returns it. Fails on a database newer than
// this binary knows (a downgrade), naming both versions.
Result<int> migrate(Connection& db);
// Up to `target` only (tests of a step's data migration start from the one before).
Result<int> migrate(Connection& db, int target);
Result<int> schema_version(Connection& db);

}  // namespace saslguard::receiver::store::sql
