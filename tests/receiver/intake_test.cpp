#include <catch2/catch.hpp>

#include <thread>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/webhook.hpp"

using namespace saslguard::receiver;
using namespace saslguard::receiver::testing;

namespace {
WebhookPayload parse(const nlohmann::json& j) {
    return parse_webhook(j.dump()).value();
}
std::int64_t count(store::sql::Connection& db, const std::string& sql) {
    return db.query_int64(sql)->value_or(-1);
}
}  // namespace

TEST_CASE(
    "the same alert delivered twice is stored once, the second delivery counted as a duplicate") {
    TempDir dir;
    Intake intake(open_session(dir.path("s.db"), store::Durability::Full));
    auto p = parse(payload_json({alert_json("00000000000000a1")}));
    auto first = intake.accept(p, "{}");
    auto second = intake.accept(p, "{}");
    REQUIRE(first.ok());
    REQUIRE(second.ok());
    CHECK(first->new_firing == 1);
    CHECK(first->duplicates == 0);
    CHECK(second->new_firing == 0);
    CHECK(second->duplicates == 1);
    intake.stop();
    auto db = open_db(dir.path("s.db"));
    CHECK(count(*db, "SELECT count(*) FROM webhooks") == 2);
    CHECK(count(*db, "SELECT count(*) FROM alerts") == 1);
    CHECK(count(*db, "SELECT duplicates FROM alerts") == 1);
}

TEST_CASE("firing and resolved of one alert, and a new startsAt, are distinct events") {
    TempDir dir;
    Intake intake(open_session(dir.path("s.db"), store::Durability::Full));
    REQUIRE(intake.accept(parse(payload_json({alert_json("00000000000000a1")})), "{}").ok());
    auto r = intake.accept(
        parse(payload_json({alert_json("00000000000000a1", "resolved")}, "resolved")), "{}");
    REQUIRE(r.ok());
    CHECK(r->new_resolved == 1);
    auto again = intake.accept(parse(payload_json({alert_json("00000000000000a1", "firing", nullptr,
                                                              "2026-11-23T10:00:00Z")})),
                               "{}");
    CHECK(again->new_firing == 1);
}

TEST_CASE("concurrent webhooks are all committed, sharing transactions") {
    TempDir dir;
    Intake intake(open_session(dir.path("s.db"), store::Durability::Full));
    std::atomic<int> committed_batches{0};
    intake.set_on_commit([&] { ++committed_batches; });
    constexpr int kThreads = 16, kEach = 25;
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                char fp[17];
                std::snprintf(fp, sizeof fp, "%08x%08x", t, i);
                auto p = parse(payload_json({alert_json(fp)}));
                if (intake.accept(p, "{}").ok()) ++ok;
            }
        });
    for (auto& t : threads) t.join();
    intake.stop();
    CHECK(ok == kThreads * kEach);
    CHECK(committed_batches.load() < kThreads * kEach);  // group commit happened
    auto db = open_db(dir.path("s.db"));
    CHECK(count(*db, "SELECT count(*) FROM alerts") == kThreads * kEach);
}

TEST_CASE(
    "after stop() a webhook is refused, so the handler answers 5xx and Alertmanager retries") {
    TempDir dir;
    Intake intake(open_session(dir.path("s.db"), store::Durability::Full));
    intake.stop();
    auto r = intake.accept(parse(payload_json({alert_json("00000000000000a1")})), "{}");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "receiver is shutting down");
}
