// The store on the engine of this run (store_under_test.hpp): SQLite by
// default, PostgreSQL under store_postgresql_test.sh. The same cases hold on both.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/webhook.hpp"
#include "store/migrations.hpp"

using namespace saslguard::receiver;
using namespace saslguard::receiver::testing;

namespace {
std::string engine_name() {
    return postgresql_under_test() ? "PostgreSQL" : "SQLite";
}
}  // namespace

TEST_CASE("a new store is migrated to the latest schema version") {
    TempDir dir;
    INFO(engine_name());
    auto store = open_store(dir.path("s.db"));
    CHECK(store->schema_version() == static_cast<int>(store::sql::migrations().size()));
    auto db = open_db(dir.path("s.db"));
    CHECK(db->query_int64("SELECT count(*) FROM schema_version")->value() == 1);
    CHECK(db->query_int64("SELECT count(*) FROM actions")->value() == 0);
}

TEST_CASE("a store written by a newer saslguard is refused, naming both versions") {
    TempDir dir;
    INFO(engine_name());
    open_store(dir.path("s.db"));
    REQUIRE(open_db(dir.path("s.db"))->exec("UPDATE schema_version SET version = 999").ok());
    auto again = store::StateStore::open(store_settings_for(dir.path("s.db")));
    REQUIRE_FALSE(again.ok());
    CHECK_THAT(again.error().message,
               Catch::Contains("database schema version 999 is newer than this program's " +
                               std::to_string(store::sql::migrations().size())));
}

TEST_CASE("stores opened at the same moment migrate once") {
    TempDir dir;
    INFO(engine_name());
    std::atomic<int> ok{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            if (store::StateStore::open(store_settings_for(dir.path("s.db"))).ok()) ++ok;
        });
    for (auto& t : threads) t.join();
    CHECK(ok == 4);
    auto db = open_db(dir.path("s.db"));
    CHECK(db->query_int64("SELECT count(*) FROM schema_version")->value() == 1);
    CHECK(db->query_int64("SELECT max(version) FROM schema_version")->value() ==
          static_cast<std::int64_t>(store::sql::migrations().size()));
}

TEST_CASE("begin() holds the write lock: a second writer waits until the first commits") {
    TempDir dir;
    INFO(engine_name());
    auto store = open_store(dir.path("s.db"));
    auto a = store->session().value();
    auto b = store->session().value();
    auto tx = a->begin();
    REQUIRE(tx.ok());
    // Read-decide-write under the lock: nothing is pending, so A enqueues one.
    REQUIRE(a->telegram().count_outbox("pending").value() == 0);
    std::atomic<bool> b_began{false};
    std::int64_t b_saw = -1;
    std::thread writer([&] {
        auto btx = b->begin();
        b_began = true;
        if (!btx) return;
        auto n = b->telegram().count_outbox("pending");
        if (n) b_saw = *n;
        (void)(*btx)->commit();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    CHECK_FALSE(b_began.load());  // still waiting for A's lock
    REQUIRE(a->telegram().enqueue(1, "sendMessage", "{}", 0, 1000).ok());
    REQUIRE((*tx)->commit().ok());
    writer.join();
    CHECK(b_began.load());
    CHECK(b_saw == 1);  // B decided on what A committed
}

TEST_CASE("a transaction not committed leaves nothing, and ids come back from inserts") {
    TempDir dir;
    INFO(engine_name());
    auto s = open_session(dir.path("s.db"));
    {
        auto tx = s->begin();
        REQUIRE(tx.ok());
        REQUIRE(s->telegram().enqueue(1, "sendMessage", "{}", 0, 1000).ok());
    }
    CHECK(s->telegram().count_outbox("pending").value() == 0);
    auto first = s->telegram().enqueue(1, "sendMessage", "{\"a\":1}", 7, 1000);
    auto second = s->telegram().enqueue(1, "sendMessage", "{\"a\":2}", 0, 1000);
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(*first > 0);
    CHECK(*second > *first);
    auto due = s->telegram().next_due(2000).value();
    REQUIRE(due);
    CHECK(due->id == *first);  // the incident's row first
    CHECK(due->incident_id == 7);
}

TEST_CASE("two stores of one database do not see each other's rows") {
    TempDir dir;
    INFO(engine_name());
    auto parse = [](const nlohmann::json& j) { return parse_webhook(j.dump()).value(); };
    {
        Intake intake(open_session(dir.path("a.db"), store::Durability::Full));
        REQUIRE(intake.accept(parse(payload_json({alert_json("00000000000000a1")})), "{}").ok());
        intake.stop();
    }
    auto a = open_session(dir.path("a.db"));
    auto b = open_session(dir.path("b.db"));
    CHECK(a->alerts().count_unfinished().value() == 1);
    CHECK(b->alerts().count_unfinished().value() == 0);
    CHECK(b->alerts().unfinished(10).value().empty());
}

TEST_CASE("an error names the statement and the engine's reason, and nothing throws") {
    TempDir dir;
    INFO(engine_name());
    auto db = open_db(dir.path("s.db"));
    auto bad = db->query_int64("SELECT count(*) FROM no_such_table");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("SELECT count(*) FROM no_such_table"));
    CHECK_THAT(bad.error().message, Catch::Contains("no_such_table"));
    // Text goes as a parameter, never into the SQL.
    auto s = open_session(dir.path("s.db"));
    const std::string hostile = "x'); DROP TABLE telegram_outbox; --";
    REQUIRE(s->telegram().enqueue(1, hostile, hostile, 0, 1000).ok());
    CHECK(s->telegram().count_outbox("pending").value() == 1);
}

TEST_CASE("a session whose connection was dropped reconnects by itself") {
    TempDir dir;
    if (!postgresql_under_test()) {
        // A SQLite session has no server connection to lose.
        SUCCEED("PostgreSQL only: store_postgresql runs this case");
        return;
    }
    auto s = open_session(dir.path("s.db"));
    REQUIRE(s->telegram().enqueue(1, "sendMessage", "{}", 0, 1000).ok());
    // The server ends every other backend of this database (as a restart would).
    auto killer = open_db(dir.path("s.db"));
    REQUIRE(killer
                ->query_int64("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                .ok());
    // begin() finds the dropped connection and connects again.
    auto tx = s->begin();
    REQUIRE(tx.ok());
    REQUIRE(s->telegram().enqueue(1, "sendMessage", "{}", 0, 1000).ok());
    REQUIRE((*tx)->commit().ok());
    CHECK(s->telegram().count_outbox("pending").value() == 2);
}

TEST_CASE("placeholders become PostgreSQL's, quoted text left alone") {
    int n = 0;
    CHECK(store::pg::to_postgresql("SELECT ?1, '?2', ?12 WHERE a = ?2", n) ==
          "SELECT $1, '?2', $12 WHERE a = $2");
    CHECK(n == 12);
}
