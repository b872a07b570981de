// The fleet's claim and dedup SQL against a real PostgreSQL (a private cluster
// started by coordination_test.sh, its conninfo in SASLGUARD_TEST_PG).
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "pg.hpp"  // receiver/src/fleet: the same connection helper
#include "saslguard/receiver/fleet/coordination.hpp"

using namespace saslguard::receiver;
using namespace std::chrono_literals;

namespace {

std::string conninfo() {
    const char* c = std::getenv("SASLGUARD_TEST_PG");
    REQUIRE(c != nullptr);  // run through coordination_test.sh
    return c;
}

fleet::CoordinationSettings settings(const std::string& host) {
    fleet::CoordinationSettings s;
    s.conninfo = conninfo();
    s.host = host;
    s.retry = 200ms;
    return s;
}

// A fresh set of tables for each test; returns a connection to look with.
std::unique_ptr<fleet::pg::Connection> clean() {
    auto c = std::make_unique<fleet::pg::Connection>(conninfo());
    REQUIRE(c->ensure(fleet::coordination_schema_sql()));
    REQUIRE(
        c->run("TRUNCATE saslguard_fleet_hosts, saslguard_telegram_updates, "
               "saslguard_fleet_requests, saslguard_fleet_alerts"));
    REQUIRE(c->run("UPDATE saslguard_telegram_front SET update_offset = 0, poller = NULL"));
    return c;
}

std::string one(fleet::pg::Connection& c, const std::string& sql) {
    auto r = c.exec(sql);
    REQUIRE(r);
    REQUIRE(r->size() == 1);
    return (*r)[0][0].value_or("NULL");
}

Alert alert(const std::string& fingerprint, std::map<std::string, std::string> labels) {
    Alert a;
    a.status = "firing";
    a.fingerprint = fingerprint;
    a.starts_at = "2026-11-30T07:00:00Z";
    a.labels = std::move(labels);
    return a;
}

}  // namespace

TEST_CASE("an update is claimed once whichever receiver polls it, and the offset moves past it") {
    auto c = clean();
    fleet::PgTelegramFront a(settings("host-a")), b(settings("host-b"));
    auto first = a.claim_update(10, "command");
    REQUIRE(first);
    CHECK(*first);
    auto again = b.claim_update(10, "command");
    REQUIRE(again);
    CHECK_FALSE(*again);
    CHECK(*b.offset() == 11);
    REQUIRE(a.advance_offset(5));  // never back
    CHECK(*a.offset() == 11);
    CHECK(one(*c, "SELECT handled_by FROM saslguard_telegram_updates") == "host-a");
}

TEST_CASE("a press becomes one request row for its host, recorded with its update") {
    auto c = clean();
    fleet::PgTelegramFront a(settings("host-a")), b(settings("host-b"));
    auto f = a.forward_press(20, "host-b", 7, "@admin (1)", R"({"update_id":20})");
    REQUIRE(f);
    CHECK(*f);
    // The same update polled again (by A after a restart, or by B after a takeover).
    CHECK_FALSE(*a.forward_press(20, "host-b", 7, "@admin (1)", R"({"update_id":20})"));
    CHECK_FALSE(*b.forward_press(20, "host-b", 7, "@admin (1)", R"({"update_id":20})"));
    CHECK(one(*c, "SELECT count(*) FROM saslguard_fleet_requests") == "1");
    CHECK(*a.offset() == 21);
    // Addressed to B: A never takes it.
    auto none = a.take_request();
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    auto got = b.take_request();
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->update_id == 20);
    CHECK((*got)->forwarded_by == "host-a");
    CHECK((*got)->payload_json == R"({"update_id":20})");
    auto twice = b.take_request();
    REQUIRE(twice);
    CHECK_FALSE(twice->has_value());
    REQUIRE(b.finish_request((*got)->id, true, "handled"));
    CHECK(one(*c, "SELECT state FROM saslguard_fleet_requests") == "done");
}

TEST_CASE("two takers of one host's requests never take the same row") {
    auto c = clean();
    fleet::PgTelegramFront poller(settings("host-a"));
    for (int i = 0; i < 60; ++i) REQUIRE(*poller.forward_press(100 + i, "host-b", 1, "x", "{}"));
    fleet::PgTelegramFront t1(settings("host-b")), t2(settings("host-b"));
    std::vector<std::int64_t> ids1, ids2;
    auto take_all = [](fleet::PgTelegramFront& f, std::vector<std::int64_t>& ids) {
        for (;;) {
            auto r = f.take_request();
            if (!r || !r->has_value()) return;
            ids.push_back((*r)->id);
        }
    };
    std::thread x([&] { take_all(t1, ids1); });
    std::thread y([&] { take_all(t2, ids2); });
    x.join();
    y.join();
    std::set<std::int64_t> all(ids1.begin(), ids1.end());
    all.insert(ids2.begin(), ids2.end());
    CHECK(ids1.size() + ids2.size() == 60);
    CHECK(all.size() == 60);
    CHECK(one(*c, "SELECT count(*) FROM saslguard_fleet_requests WHERE state = 'running'") == "60");
}

TEST_CASE("exactly one receiver holds the poller lock, and another takes it when it stops") {
    auto c = clean();
    auto a = std::make_unique<fleet::PgTelegramFront>(settings("host-a"));
    fleet::PgTelegramFront b(settings("host-b"));
    a->start();
    for (int i = 0; i < 100 && !a->leading(); ++i) std::this_thread::sleep_for(50ms);
    REQUIRE(a->leading());
    b.start();
    std::this_thread::sleep_for(600ms);  // B tries at least twice
    CHECK_FALSE(b.leading());
    a.reset();  // its session ends: the lock is free
    for (int i = 0; i < 100 && !b.leading(); ++i) std::this_thread::sleep_for(50ms);
    CHECK(b.leading());
    CHECK(one(*c, "SELECT poller FROM saslguard_telegram_front") == "host-b");
    b.stop();
}

TEST_CASE("an alert naming a host of the fleet belongs to it, one naming none to its first") {
    auto c = clean();
    REQUIRE(c->run("INSERT INTO saslguard_fleet_hosts (host) VALUES ('host-a'), ('host-b')"));
    fleet::AlertClaims a(settings("host-a")), b(settings("host-b"));
    WebhookPayload p;
    p.alerts = {alert("f1", {{"host", "host-b"}}), alert("f2", {}),
                alert("f3", {{"instance", "host-b:9154"}}), alert("f4", {{"host", "host-z"}})};
    auto mine_a = a.mine(p);
    REQUIRE(mine_a);
    std::vector<std::string> got;
    for (const auto& x : mine_a->alerts) got.push_back(x.fingerprint);
    // f2 and f4 (a host that is no receiver of the fleet): the first to store them.
    CHECK(got == std::vector<std::string>{"f2", "f4"});
    auto mine_b = b.mine(p);
    REQUIRE(mine_b);
    got.clear();
    for (const auto& x : mine_b->alerts) got.push_back(x.fingerprint);
    CHECK(got == std::vector<std::string>{"f1", "f3"});
    // Delivered again, to anyone: the same owners.
    CHECK(a.mine(p)->alerts.size() == 2);
    CHECK(b.mine(p)->alerts.size() == 2);
    CHECK(one(*c, "SELECT count(*) FROM saslguard_fleet_alerts") == "4");
}

TEST_CASE("the host an alert names: its host label, else the host part of instance") {
    CHECK(fleet::AlertClaims::named_host(alert("x", {{"host", "mx-b"}, {"instance", "a:1"}})) ==
          "mx-b");
    CHECK(fleet::AlertClaims::named_host(alert("x", {{"instance", "mx-b.example.org:9154"}})) ==
          "mx-b.example.org");
    CHECK(fleet::AlertClaims::named_host(alert("x", {{"instance", "[2001:db8::1]:9154"}})) ==
          "2001:db8::1");
    CHECK(fleet::AlertClaims::named_host(alert("x", {})).empty());
}

TEST_CASE("callback_data names host, incident and token within Telegram's 64 bytes") {
    const std::string host(30, 'h');
    const std::string token(22, 'T');
    auto data = fleet::callback_data(host, 9999999999, token);
    CHECK(data.size() <= 64);
    auto a = fleet::parse_callback_data(data);
    CHECK(a.host == host);
    CHECK(a.incident_id == 9999999999);
    CHECK(a.token == token);
    auto bare = fleet::parse_callback_data(token);  // a single host's button
    CHECK(bare.host.empty());
    CHECK(bare.token == token);
    CHECK(fleet::callback_data("", 5, token) == token);
}

TEST_CASE("PostgreSQL unreachable is an error, never an exception or a false claim") {
    fleet::CoordinationSettings s;
    s.conninfo = "host=/nonexistent-dir user=x dbname=x connect_timeout=1";
    s.host = "host-a";
    fleet::PgTelegramFront f(s);
    CHECK_FALSE(f.claim_update(1, "command"));
    CHECK_FALSE(f.offset());
    fleet::AlertClaims claims(s);
    WebhookPayload p;
    p.alerts = {alert("f", {})};
    CHECK_FALSE(claims.mine(p));
}

TEST_CASE(
    "a press its host has not taken in time is reported once, and one for no host is failed") {
    auto c = clean();
    auto s = settings("host-a");
    s.late_after = 1s;
    fleet::PgTelegramFront poller(s), other(s);
    REQUIRE(
        c->run("INSERT INTO saslguard_fleet_hosts (host, seen_at) VALUES "
               "('host-b', now() - interval '50 seconds')"));
    REQUIRE(*poller.forward_press(30, "host-b", 7, "x", R"({"update_id":30})"));
    REQUIRE(*poller.forward_press(31, "host-z", 7, "x", R"({"update_id":31})"));
    auto early = poller.report_late_requests();
    REQUIRE(early);
    CHECK(early->empty());  // not late yet
    REQUIRE(
        c->run("UPDATE saslguard_fleet_requests SET created_at = now() - interval '2 seconds'"));
    auto late = poller.report_late_requests();
    REQUIRE(late);
    REQUIRE(late->size() == 2);
    CHECK((*late)[0].host == "host-b");
    REQUIRE((*late)[0].host_silent_for);
    CHECK(*(*late)[0].host_silent_for >= 50);
    CHECK((*late)[0].payload_json == R"({"update_id":30})");
    CHECK((*late)[1].host == "host-z");
    CHECK_FALSE((*late)[1].host_silent_for);
    // Reported once, whoever polls next.
    CHECK(other.report_late_requests()->empty());
    CHECK(poller.report_late_requests()->empty());
    // host-b's request still runs when B is back; host-z's never will.
    CHECK(one(*c, "SELECT state FROM saslguard_fleet_requests WHERE update_id = 30") == "pending");
    CHECK(one(*c, "SELECT state FROM saslguard_fleet_requests WHERE update_id = 31") == "failed");
    fleet::PgTelegramFront b(settings("host-b"));
    auto got = b.take_request();
    REQUIRE(got);
    REQUIRE(got->has_value());
    CHECK((*got)->update_id == 30);
}

TEST_CASE(
    "pruning deletes coordination rows past their retention, in batches, and keeps the rest") {
    auto c = clean();
    auto s = settings("host-a");
    s.prune_batch = 7;  // several batches per table
    fleet::PgTelegramFront f(s);
    // Old: 20 handled updates below the offset, 20 finished requests, 20 alert
    // owners, a dead host. Recent or still needed: the rest.
    REQUIRE(c->run(
        "INSERT INTO saslguard_telegram_updates (update_id, kind, handled_by, handled_at) "
        "SELECT g, 'press', 'host-a', now() - interval '3 days' FROM generate_series(1, 20) g"));
    REQUIRE(c->run(
        "INSERT INTO saslguard_telegram_updates (update_id, kind, handled_by, handled_at) "
        "VALUES (21, 'press', 'host-a', now()), (500, 'press', 'host-a', now() - interval '3 "
        "days')"));  // 500: at or above the offset, kept whatever its age
    REQUIRE(c->run("UPDATE saslguard_telegram_front SET update_offset = 100"));
    REQUIRE(c->run(
        "INSERT INTO saslguard_fleet_requests (update_id, host, incident_id, pressed_by, "
        "payload, forwarded_by, state, created_at, finished_at) SELECT g, 'host-b', 1, 'x', '{}', "
        "'host-a', 'done', now() - interval '40 days', now() - interval '40 days' FROM "
        "generate_series(1, 20) g"));
    REQUIRE(c->run(
        "INSERT INTO saslguard_fleet_requests (update_id, host, incident_id, pressed_by, "
        "payload, forwarded_by, state, created_at, finished_at) VALUES "
        "(41, 'host-b', 1, 'x', '{}', 'host-a', 'done', now(), now()), "
        "(42, 'host-b', 1, 'x', '{}', 'host-a', 'pending', now() - interval '40 days', NULL)"));
    REQUIRE(
        c->run("INSERT INTO saslguard_fleet_alerts (fingerprint, starts_at, owner, "
               "stored_by, stored_at) SELECT 'f' || g, 's', 'host-b', 'host-b', now() - "
               "interval '31 days' FROM generate_series(1, 20) g"));
    REQUIRE(
        c->run("INSERT INTO saslguard_fleet_alerts (fingerprint, starts_at, owner, stored_by) "
               "VALUES ('recent', 's', 'host-b', 'host-b')"));
    REQUIRE(
        c->run("INSERT INTO saslguard_fleet_hosts (host, seen_at) VALUES ('host-old', now() - "
               "interval '31 days'), ('host-b', now())"));
    auto n = f.prune();
    REQUIRE(n);
    CHECK(*n == 61);
    CHECK(one(*c,
              "SELECT string_agg(update_id::text, ',' ORDER BY update_id) FROM "
              "saslguard_telegram_updates") == "21,500");
    CHECK(one(*c,
              "SELECT string_agg(update_id::text, ',' ORDER BY update_id) FROM "
              "saslguard_fleet_requests") == "41,42");
    CHECK(one(*c, "SELECT string_agg(fingerprint, ',') FROM saslguard_fleet_alerts") == "recent");
    CHECK(one(*c, "SELECT string_agg(host, ',') FROM saslguard_fleet_hosts") == "host-b");
    CHECK(*f.prune() == 0);
}

TEST_CASE("a callback update delivered again after it was acted on makes no second request") {
    // Telegram (or a takeover) redelivers an update the old poller forwarded
    // and its host already handled: the update id is known, nothing new runs.
    auto c = clean();
    fleet::PgTelegramFront a(settings("host-a")), b(settings("host-b")),
        poller2(settings("host-c"));
    REQUIRE(*a.forward_press(60, "host-b", 3, "x", R"({"update_id":60})"));
    auto got = b.take_request();
    REQUIRE(got);
    REQUIRE(got->has_value());
    REQUIRE(b.finish_request((*got)->id, true, "handled"));
    // The old poller died before Telegram was told the offset: the new one gets it again.
    auto again = poller2.forward_press(60, "host-b", 3, "x", R"({"update_id":60})");
    REQUIRE(again);
    CHECK_FALSE(*again);
    auto none = b.take_request();
    REQUIRE(none);
    CHECK_FALSE(none->has_value());
    CHECK(one(*c, "SELECT count(*) || ' ' || min(state) FROM saslguard_fleet_requests") ==
          "1 done");
    CHECK(one(*c, "SELECT handled_by FROM saslguard_telegram_updates WHERE update_id = 60") ==
          "host-a");
}
