#include <catch2/catch.hpp>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/database.hpp"
#include "saslguard/receiver/migrations.hpp"

using namespace saslguard::receiver;
using saslguard::receiver::testing::TempDir;

TEST_CASE("a new database is migrated to the latest version, in WAL mode with foreign keys on") {
    TempDir dir;
    auto db = Database::open(dir.path("state.db"));
    REQUIRE(db.ok());
    CHECK(*schema_version(**db) == static_cast<int>(migrations().size()));
    auto st = (*db)->prepare("PRAGMA journal_mode");
    REQUIRE(st->step().value());
    CHECK(st->column_text(0) == "wal");
    CHECK((*db)->query_int64("PRAGMA foreign_keys")->value() == 1);
    CHECK((*db)->query_int64("PRAGMA synchronous")->value() == 2);  // FULL
    CHECK((*db)->table_exists("incidents"));
    CHECK((*db)->table_exists("incident_actions"));
}

TEST_CASE("opening twice runs no migration twice") {
    TempDir dir;
    { REQUIRE(Database::open(dir.path("state.db")).ok()); }
    auto db = Database::open(dir.path("state.db"));
    REQUIRE(db.ok());
    CHECK((*db)->query_int64("SELECT count(*) FROM schema_version")->value() == 1);
}

TEST_CASE("a database from a newer program is refused, naming both versions") {
    TempDir dir;
    {
        auto db = Database::open(dir.path("state.db"));
        REQUIRE((*db)->exec("UPDATE schema_version SET version = 999").ok());
    }
    auto db = Database::open(dir.path("state.db"));
    REQUIRE_FALSE(db.ok());
    CHECK(db.error().message == dir.path("state.db") +
                                    ": database schema version 999 is newer than this program's " +
                                    std::to_string(migrations().size()));
}

TEST_CASE("a transaction that is not committed leaves nothing behind") {
    TempDir dir;
    auto db = Database::open(dir.path("state.db")).value();
    REQUIRE(db->exec("CREATE TABLE t (x INTEGER)").ok());
    {
        auto tx = Transaction::begin(*db);
        REQUIRE(tx.ok());
        REQUIRE(db->exec("INSERT INTO t VALUES (1)").ok());
    }
    CHECK(db->query_int64("SELECT count(*) FROM t")->value() == 0);
    {
        auto tx = Transaction::begin(*db);
        REQUIRE(db->exec("INSERT INTO t VALUES (1)").ok());
        REQUIRE(tx->commit().ok());
    }
    CHECK(db->query_int64("SELECT count(*) FROM t")->value() == 1);
}

TEST_CASE("statements bind text, numbers and nulls and report SQL errors with the statement") {
    TempDir dir;
    auto db = Database::open(dir.path("state.db")).value();
    REQUIRE(db->exec("CREATE TABLE t (s TEXT, n INTEGER, d REAL)").ok());
    auto ins = db->prepare("INSERT INTO t VALUES (?1, ?2, ?3)");
    REQUIRE(ins.ok());
    ins->bind(1, std::string_view("a'; DROP TABLE t; --")).bind(2, std::int64_t{7}).bind(3, 0.5);
    REQUIRE(ins->run().ok());
    ins->reset();
    ins->bind_null(1).bind(2, std::optional<std::int64_t>()).bind(3, 1.0);
    REQUIRE(ins->run().ok());
    auto sel = db->prepare("SELECT s, n, d FROM t ORDER BY rowid");
    REQUIRE(sel->step().value());
    CHECK(sel->column_text(0) == "a'; DROP TABLE t; --");
    CHECK(sel->column_int64(1) == 7);
    CHECK(sel->column_double(2) == 0.5);
    REQUIRE(sel->step().value());
    CHECK_FALSE(sel->column_opt_text(0));
    CHECK_FALSE(sel->column_opt_int64(1));
    auto bad = db->prepare("SELEC nonsense");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "prepare SELEC nonsense: near \"SELEC\": syntax error");
}
