#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "receiver_test_util.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/database.hpp"

using namespace saslguard::receiver;
using namespace saslguard::receiver::store::sqlite;
using namespace saslguard::receiver::store::sql;
using saslguard::receiver::testing::TempDir;

namespace {
bool table_exists(Database& db, const std::string& name) {
    auto st = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1");
    REQUIRE(st.ok());
    st->bind(1, name);
    return st->step().value();
}
}  // namespace

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
    CHECK(table_exists(**db, "incidents"));
    CHECK(table_exists(**db, "actions"));
    CHECK_FALSE(table_exists(**db, "incident_actions"));  // one action log since migration 5
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

TEST_CASE("the action-log migration carries the worker's rows and the audit trail into one log") {
    TempDir dir;
    DatabaseOptions at4;
    at4.run_migrations = false;
    auto db = Database::open(dir.path("state.db"), at4).value();
    REQUIRE(migrate(*db, 4).value() == 4);
    // As a receiver before migration 5 left it: incident 1's block_login ran
    // through the executor (audit row 1, reverted by audit row 2 from
    // saslguardctl) and its hold_mail was still planned; the executor crashed
    // in the middle of audit row 3; incident 2's action ran with no executor row.
    REQUIRE(db->exec(R"SQL(
INSERT INTO webhooks VALUES (1, 1000, 'g', 'firing', 'r', 0, 1, '{"externalURL":"http://am:9093"}');
INSERT INTO alerts (id, webhook_id, fingerprint, starts_at, status, alertname, labels, annotations,
                    ends_at, generator_url, received_at, state)
VALUES (1, 1, 'a1', 's', 'firing', 'X', '{}', '{}', 'e', 'g', 1000, 'decided'),
       (2, 1, 'b2', 's', 'firing', 'X', '{}', '{}', 'e', 'g', 1000, 'done');
INSERT INTO incidents (id, fingerprint, starts_at, alertname, instance, username, status, opened_at,
                       firing_alert_id) VALUES (1, 'a1', 's', 'X', 'i', 'alice@example.com', 'open', 1000, 1),
                                               (2, 'b2', 's', 'X', 'i', 'bob@example.com', 'open', 1000, 2);
INSERT INTO actions (id, incident_id, kind, target, params_json, actor, reason, dry_run, state, result,
                     created_at, finished_at, expires_at)
VALUES (1, 1, 'block_login', 'alice@example.com', '{}', 'auto', 'r', 0, 'reverted', 'blocked login', 1100, 1101, 9000),
       (2, NULL, 'unblock_login', 'alice@example.com', '{}', 'cli:root', 'r', 0, 'applied', 'unblocked', 1200, 1201, NULL),
       (3, NULL, 'block_login', 'carol@example.com', '{}', 'cli:root', 'r', 0, 'requested', '', 1300, NULL, NULL);
UPDATE actions SET reverts_action_id = 1 WHERE id = 2;
INSERT INTO blocks VALUES ('login', 'carol@example.com', 3, 1300, NULL);
INSERT INTO incident_actions (id, incident_id, kind, actor, request, state, summary, error, audit_id,
                              created_at, started_at, finished_at)
VALUES (1, 1, 'block_login', 'auto', '{"kind":"block_login","username":"alice@example.com"}', 'done',
        'blocked login', '', 1, 1050, 1099, 1102),
       (2, 1, 'hold_mail', 'auto', '{"kind":"hold_mail","username":"alice@example.com","senders":["alice@example.com"],"reason":"why","dry_run":true}',
        'planned', NULL, NULL, NULL, 1050, NULL, NULL),
       (3, 2, 'block_login', 'auto', '{"kind":"block_login","username":"bob@example.com"}', 'failed',
        'not executed', 'no executor', NULL, 1060, 1061, 1062);
)SQL")
                .ok());
    REQUIRE(migrate(*db).value() == static_cast<int>(migrations().size()));
    CHECK_FALSE(table_exists(*db, "incident_actions"));
    auto rows = [&](const std::string& sql) {
        auto st = db->prepare(sql);
        REQUIRE(st.ok());
        std::vector<std::string> out;
        while (st->step().value()) out.push_back(st->column_text(0));
        return out;
    };
    // The executor's rows keep their ids; the crashed one is interrupted; the
    // worker's rows without an executor row follow, in their order.
    CHECK(
        rows("SELECT id || ' ' || coalesce(incident_id, '-') || ' ' || kind || ' ' || target || "
             "' ' || actor || ' ' || state || ' ' || coalesce(started_at, '-') FROM actions ORDER "
             "BY id") == std::vector<std::string>{
                             "1 1 block_login alice@example.com auto reverted 1099",
                             "2 - unblock_login alice@example.com cli:root applied -",
                             "3 - block_login carol@example.com cli:root interrupted -",
                             "4 1 hold_mail alice@example.com auto planned -",
                             "5 2 block_login bob@example.com auto failed 1061",
                         });
    CHECK(rows("SELECT reason || ' ' || dry_run FROM actions WHERE id = 4") ==
          std::vector<std::string>{"why 1"});
    CHECK(rows("SELECT result || '/' || error FROM actions WHERE id = 5") ==
          std::vector<std::string>{"not executed/no executor"});
    CHECK(rows("SELECT reverts_action_id FROM actions WHERE id = 2") ==
          std::vector<std::string>{"1"});
    // The block still points at its action, and foreign keys hold.
    CHECK(rows("SELECT a.kind FROM blocks b JOIN actions a ON a.id = b.action_id") ==
          std::vector<std::string>{"block_login"});
    CHECK(rows("SELECT count(*) FROM pragma_foreign_key_check") == std::vector<std::string>{"0"});
    // New rows continue after the highest id.
    REQUIRE(db->exec("INSERT INTO actions (kind, target, params_json, actor, reason, dry_run, "
                     "state, created_at) VALUES ('x', 'y', '{}', 'a', '', 0, 'planned', 1)")
                .ok());
    CHECK(db->last_insert_rowid() == 6);
    // Migration 6: the event still to be processed knows its Alertmanager.
    CHECK(rows("SELECT external_url FROM alerts ORDER BY id") ==
          std::vector<std::string>{"http://am:9093", ""});
}

TEST_CASE("the state database and its -wal and -shm are created 0600 whatever the umask") {
    TempDir dir;
    const mode_t old = ::umask(022);
    {
        auto s = saslguard::receiver::testing::open_session(dir.path("state.db"));
        REQUIRE(s->alerts().count_unfinished().ok());
        for (const char* f : {"state.db", "state.db-wal", "state.db-shm"}) {
            struct stat st {};
            INFO(f);
            REQUIRE(::stat(dir.path(f).c_str(), &st) == 0);
            CHECK((st.st_mode & 0777) == 0600);
        }
    }
    ::umask(old);
}

TEST_CASE("the canonical-keys migration lowercases logins in blocks, merging case variants") {
    TempDir dir;
    DatabaseOptions at6;
    at6.run_migrations = false;
    auto db = Database::open(dir.path("state.db"), at6).value();
    REQUIRE(migrate(*db, 6).value() == 6);
    REQUIRE(db->exec(R"SQL(
INSERT INTO actions (id, incident_id, kind, target, params_json, actor, reason, dry_run, state, result,
                     created_at) VALUES
  (1, NULL, 'block_login', 'Bob@EXAMPLE.org', '{}', 'cli:root', 'r', 0, 'applied', '', 1000),
  (2, NULL, 'block_login', 'bob@example.org', '{}', 'cli:root', 'r', 0, 'applied', '', 2000),
  (3, NULL, 'lock_account', 'Carol@Example.Org', '{}', 'auto', 'r', 0, 'applied', '', 3000),
  (4, NULL, 'block_ips', '', '{}', 'auto', 'r', 0, 'applied', '', 4000);
INSERT INTO blocks VALUES ('login', 'Bob@EXAMPLE.org', 1, 1000, NULL),
                          ('login', 'bob@example.org', 2, 2000, NULL),
                          ('account', 'Carol@Example.Org', 3, 3000, 9000),
                          ('ip', '2001:db8::1', 4, 4000, NULL);
)SQL")
                .ok());
    REQUIRE(migrate(*db).value() == static_cast<int>(migrations().size()));
    auto st =
        db->prepare("SELECT kind || ' ' || target || ' ' || action_id FROM blocks ORDER BY 1");
    REQUIRE(st.ok());
    std::vector<std::string> rows;
    while (st->step().value()) rows.push_back(st->column_text(0));
    CHECK(rows == std::vector<std::string>{"account carol@example.org 3", "ip 2001:db8::1 4",
                                           "login bob@example.org 2"});
}
