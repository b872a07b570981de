// SMTP-time containment in the receiver (receiver/src/containment): the
// policy service's view of blocks, the guard's alert, the executor around the
// mitigation, and the guard's way into the incident flow, over a real state
// store, intake and worker. The service's network side and the guard's counting
// have their own tests (tests/receiver/smtp_policy); the Postfix side is
// receiver_policy_postfix_test.sh.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/containment/block_feed.hpp"
#include "saslguard/receiver/containment/containment.hpp"
#include "saslguard/receiver/containment/guard_alert.hpp"
#include "saslguard/receiver/containment/guard_incidents.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/webhook.hpp"
#include "saslguard/receiver/worker.hpp"

using namespace saslguard;
using namespace saslguard::receiver;
using namespace saslguard::receiver::containment;
using namespace saslguard::receiver::testing;
using namespace std::chrono_literals;
namespace sp = saslguard::receiver::smtp_policy;

namespace {

const std::chrono::system_clock::time_point kWall{std::chrono::seconds(1795400000)};

HttpResponse unreachable(const HttpRequest&) {
    HttpResponse r;
    r.error = "Couldn't connect to server";
    return r;
}

// Sends messages for `user` until the guard trips; returns the trip.
sp::GuardTrip trip_of(sp::SendingGuard& guard, const std::string& user,
                      const std::string& queue_id = "4F1A2B3C4D") {
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) {
        auto out = guard.record_message(user, 1, "192.0.2.7", queue_id, now, kWall);
        if (out.trip) return *out.trip;
    }
    FAIL("the guard never tripped");
    return {};
}

// A block as the Mitigator records one (its action row and the block, one
// transaction), from any session: another process's, when `blocks` is null.
std::int64_t record_block(store::Session& s, const std::string& kind, const std::string& action,
                          const std::string& target, bool lift,
                          mitigation::ActiveBlocks* blocks = nullptr,
                          const std::string& actor = "cli:root") {
    auto tx = s.begin();
    REQUIRE(tx.ok());
    store::ActionRecord rec;
    rec.kind = action;
    rec.target = target;
    rec.params_json = "{}";
    rec.actor = actor;
    rec.state = "running";
    rec.created_at = wall_clock_ms();
    auto id = s.mitigation().insert_action(rec);
    REQUIRE(id.ok());
    store::ActionFinish fin;
    fin.action_id = *id;
    fin.state = "applied";
    fin.params_json = "{}";
    fin.finished_at = rec.created_at;
    store::BlockRecord b{kind, target, *id, rec.created_at, std::nullopt, actor, 0};
    if (lift) {
        auto existing = s.mitigation().find_block(kind, target);
        REQUIRE(existing.ok());
        if (*existing) b = **existing;
        fin.remove_blocks.push_back(b);
    } else {
        fin.put_blocks.push_back(b);
    }
    REQUIRE(s.mitigation().finish_action(fin).ok());
    REQUIRE((*tx)->commit().ok());
    if (blocks) {
        mitigation::BlockChange c;
        (lift ? c.removed : c.added).push_back(b);
        c.action_id = *id;
        c.actor = actor;
        blocks->apply(c);
    }
    return *id;
}

// The receiver's pieces around the guard, over one state store.
struct Stack {
    TempDir dir;
    std::unique_ptr<store::StateStore> store;
    Config config;
    Resolver resolver{PrometheusConfig{}, PolicyConfig{}, unreachable};
    CountingExecutor executor;
    RecordingNotifier notifier;
    std::unique_ptr<mitigation::ActiveBlocks> blocks;
    std::unique_ptr<ActiveBlocksView> view;
    std::unique_ptr<Intake> intake;
    std::unique_ptr<sp::SendingGuard> guard;
    std::unique_ptr<GuardIncidents> incidents;
    std::unique_ptr<store::sql::Connection> db;

    explicit Stack(sp::GuardLimits limits = {3, 0}) {
        config.state_path = dir.path("s.db");
        store = store::StateStore::open(config.state_path).value();
        blocks = std::make_unique<mitigation::ActiveBlocks>(session());
        REQUIRE(blocks->refresh().ok());
        view = std::make_unique<ActiveBlocksView>(*blocks);
        intake = std::make_unique<Intake>(session(store::Durability::Full));
        sp::GuardSettings g;
        g.limits = limits;
        guard = std::make_unique<sp::SendingGuard>(g);
        start_incidents();
        db = open_db(config.state_path);
    }
    ~Stack() {
        if (incidents) incidents->stop();
    }
    std::unique_ptr<store::Session> session(store::Durability d = store::Durability::Normal) {
        return store->session({d, false}).value();
    }
    void start_incidents(GuardIncidentsOptions o = {}) {
        incidents = std::make_unique<GuardIncidents>(session(), *blocks, *view, o);
        incidents->start(*intake, *guard);
    }
    int work() {
        incidents->drain();
        Worker w(session(), config, resolver, executor, notifier, nullptr);
        auto n = w.run_once();
        REQUIRE(n.ok());
        return *n;
    }
    std::int64_t q(const std::string& sql) { return db->query_int64(sql)->value_or(-1); }
    std::string text(const std::string& sql) { return query_text(*db, sql); }
};

}  // namespace

TEST_CASE("the guard's alert is an Alertmanager webhook that parses back, one alert per user") {
    sp::SendingGuard guard(sp::GuardSettings{});
    sp::GuardTrip t = trip_of(guard, "alice@example.com");
    WebhookPayload p = guard_alert_firing(t);
    auto back = parse_webhook(webhook_json(p));
    INFO((back.ok() ? "" : back.error().message));
    REQUIRE(back.ok());
    REQUIRE(back->alerts.size() == 1);
    const Alert& a = back->alerts[0];
    CHECK(a.status == "firing");
    CHECK(a.label("alertname") == "SaslUserSendingGuard");
    CHECK(a.label("sasl_username") == "alice@example.com");
    CHECK(a.label("mitigation") == "confirm");
    CHECK(a.label("severity") == "critical");
    CHECK(a.starts_at == "2026-11-23T02:13:20.000Z");  // kWall
    CHECK(a.annotation("summary") ==
          "The sending guard holds the mail of alice@example.com: 21 messages in 1m (limit 20)");
    CHECK(a.annotation("description").find("Client addresses: 192.0.2.7.") != std::string::npos);
    CHECK(a.annotation("description").find("queue id 4F1A2B3C4D") != std::string::npos);
    CHECK(back->receiver == std::string(kGuardReceiver));
    CHECK(a.fingerprint == guard_fingerprint("alice@example.com"));
    CHECK(a.fingerprint.size() == 16);
    CHECK(guard_fingerprint("bob@example.com") != a.fingerprint);

    auto resolved = parse_webhook(webhook_json(guard_alert_resolved(
        "alice@example.com", a.fingerprint, a.starts_at, kWall + 60s, "released")));
    REQUIRE(resolved.ok());
    CHECK(resolved->alerts[0].status == "resolved");
    CHECK(resolved->alerts[0].fingerprint == a.fingerprint);
    CHECK(resolved->alerts[0].starts_at == a.starts_at);
}

TEST_CASE("a block reaches the policy service's view when it is recorded, in any letter case") {
    TempDir dir;
    auto store = store::StateStore::open(dir.path("s.db")).value();
    mitigation::ActiveBlocks blocks(store->session().value());
    auto writer = store->session().value();
    record_block(*writer, "login", "block_login", "early@example.com", false);
    REQUIRE(blocks.refresh().ok());
    ActiveBlocksView view(blocks);
    CHECK(view.login_blocked("early@example.com"));  // in force before the view existed

    // In this process (a Telegram button, auto mode): visible when apply() returns,
    // which the Mitigator calls right after its commit.
    record_block(*writer, "login", "block_login", "Alice@Example.COM", false, &blocks);
    CHECK(view.login_blocked("alice@example.com"));
    record_block(*writer, "ip", "block_ips", "2001:DB8::7", false, &blocks);
    CHECK(view.client_blocked("2001:db8::7"));
    record_block(*writer, "account", "lock_account", "locked@example.com", false, &blocks);
    CHECK(view.login_blocked("locked@example.com"));
    record_block(*writer, "hold", "hold_mail", "held@example.com", false, &blocks);
    CHECK_FALSE(view.login_blocked("held@example.com"));  // held mail is not a refusal
    record_block(*writer, "login", "unblock_login", "Alice@Example.COM", true, &blocks);
    CHECK_FALSE(view.login_blocked("alice@example.com"));

    // Another process (saslguardctl): visible at ActiveBlocks' next refresh.
    auto other = store::StateStore::open(dir.path("s.db"));
    REQUIRE(other.ok());
    auto ctl = (*other)->session().value();
    record_block(*ctl, "login", "block_login", "carol@example.com", false);
    CHECK_FALSE(view.login_blocked("carol@example.com"));
    REQUIRE(blocks.refresh().ok());
    CHECK(view.login_blocked("carol@example.com"));
    CHECK(view.login_count() == 3);  // early, locked, carol (alice unblocked)
    CHECK(view.client_count() == 1);
}

TEST_CASE("the executor ends the guard's hold before a release and clears it after a block") {
    sp::GuardSettings gs;
    gs.limits = {2, 0};
    sp::SendingGuard guard(gs);
    struct Probe final : ActionExecutor {
        sp::SendingGuard& guard;
        bool held_at_call = false;
        explicit Probe(sp::SendingGuard& g) : guard(g) {}
        ActionOutcome execute(const ActionRequest& r) override {
            held_at_call =
                guard.is_held(sp::canonical_login(r.username), std::chrono::steady_clock::now());
            ActionOutcome o;
            o.ok = true;
            return o;
        }
    } inner(guard);
    ContainmentExecutor ex(inner, guard, 3600s, false);
    auto request = [](ActionKind k, bool dry = false) {
        ActionRequest r;
        r.kind = k;
        r.username = "Bulk@Example.com";
        r.actor = "telegram:1";
        r.dry_run = dry;
        return r;
    };
    trip_of(guard, "bulk@example.com");
    const auto now = std::chrono::steady_clock::now();
    REQUIRE(guard.is_held("bulk@example.com", now));

    ex.execute(request(ActionKind::ReleaseMail, true));  // a dry run changes nothing
    CHECK(inner.held_at_call);
    CHECK(guard.is_held("bulk@example.com", now));

    ex.execute(request(ActionKind::ReleaseMail));
    CHECK_FALSE(inner.held_at_call);  // ended before postsuper looked at the queue
    // The grace: the bulk sender goes on without being held again.
    for (int i = 0; i < 50; ++i)
        CHECK_FALSE(guard.record_message("bulk@example.com", 1, "192.0.2.7", "", now, kWall).hold);

    trip_of(guard, "spam@example.com");
    ex.execute(request(ActionKind::DeleteMail));  // a delete leaves the hold as it is
    ActionRequest block = request(ActionKind::BlockLogin);
    block.username = "spam@example.com";
    ex.execute(block);
    CHECK(inner.held_at_call);  // blocked first, then cleared
    CHECK_FALSE(guard.is_held("spam@example.com", now));
}

TEST_CASE(
    "a trip records the hold and opens one incident, and a later alert for the user joins it") {
    Stack s;
    sp::GuardTrip t = trip_of(*s.guard, "alice@example.com", "4F1A2B3C4D");
    s.incidents->tripped(t);
    s.incidents->held({"alice@example.com", "4F1A2B3C4D", "192.0.2.7", kWall});
    s.incidents->drain();

    // The hold is in force, as what it is: the guard's hold_mail in the action log.
    CHECK(s.blocks->is_blocked("hold", "alice@example.com"));
    CHECK(s.text("SELECT kind || ' ' || actor || ' ' || state FROM actions") ==
          "hold_mail guard applied");
    CHECK(s.text("SELECT params_json FROM actions") == R"({"affected":["4F1A2B3C4D"]})");
    CHECK(s.q("SELECT count(*) FROM alerts WHERE alertname = 'SaslUserSendingGuard'") == 1);

    CHECK(s.work() == 1);
    REQUIRE(s.notifier.opened.size() == 1);
    const IncidentNotice& n = s.notifier.opened[0];
    CHECK(n.alertname == "SaslUserSendingGuard");
    CHECK(n.decision.mode == Mode::Confirm);
    CHECK(n.decision.actions == std::vector<ActionKind>{ActionKind::ReleaseMail,
                                                        ActionKind::BlockLogin,
                                                        ActionKind::DeleteMail});
    CHECK(s.executor.requests.empty());  // confirm: nothing runs until an admin says so
    CHECK(s.q("SELECT count(*) FROM guard_holds WHERE incident_id = 1") == 1);

    // Held messages after the incident opened go straight to it; a second trip
    // (the hold ran out, the user is still at it) is no second alert.
    s.incidents->held({"alice@example.com", "5A6B7C8D9E", "192.0.2.8", kWall});
    s.incidents->tripped(t);
    s.incidents->drain();
    CHECK(s.q("SELECT count(*) FROM guard_holds WHERE incident_id = 1") == 2);
    CHECK(s.q("SELECT count(*) FROM alerts") == 1);

    // Prometheus's alert for the user, later: the same incident.
    nlohmann::json surge = {{"alertname", "SaslUserSendingSurge"},
                            {"sasl_username", "alice@example.com"},
                            {"mitigation", "confirm"}};
    auto p = payload_json({alert_json("00000000000000a1", "firing", surge)});
    REQUIRE(s.intake->accept(*parse_webhook(p.dump()), p.dump()).ok());
    CHECK(s.work() == 1);
    CHECK(s.q("SELECT count(*) FROM incidents") == 1);
    CHECK(s.notifier.joined.size() == 1);

    // The admin releases the mail (ContainmentExecutor, then the Mitigator lifts
    // the hold): the episode ends, the guard's alert resolves, the incident closes.
    s.guard->clear("alice@example.com", 3600s);
    record_block(*s.session(), "hold", "release_mail", "alice@example.com", true, s.blocks.get(),
                 "telegram:42");
    CHECK(s.work() == 1);
    CHECK(s.q("SELECT count(*) FROM incidents WHERE status = 'resolved'") == 1);
    REQUIRE(s.notifier.resolved.size() == 1);
    CHECK(s.notifier.resolved[0].alert.label("alertname") == "SaslUserSendingGuard");
    CHECK(s.incidents->stats().alerts_stored == 2);
}

TEST_CASE("a blocked login ends the episode and clears the guard's counts") {
    Stack s;
    s.incidents->tripped(trip_of(*s.guard, "spam@example.com"));
    CHECK(s.work() == 1);
    record_block(*s.session(), "login", "block_login", "spam@example.com", false, s.blocks.get(),
                 "telegram:42");
    CHECK(s.work() == 1);
    CHECK(s.q("SELECT count(*) FROM incidents WHERE status = 'resolved'") == 1);
    CHECK_FALSE(s.guard->is_held("spam@example.com", std::chrono::steady_clock::now()));
    // The held mail is still held: the hold stays in force until released or deleted.
    CHECK(s.blocks->is_blocked("hold", "spam@example.com"));
}

TEST_CASE("deleted held mail: the guard goes on holding, and new held mail is offered again") {
    Stack s;
    s.incidents->tripped(trip_of(*s.guard, "spam@example.com"));
    CHECK(s.work() == 1);
    record_block(*s.session(), "hold", "delete_mail", "spam@example.com", true, s.blocks.get(),
                 "telegram:42");
    s.incidents->drain();
    CHECK_FALSE(s.blocks->is_blocked("hold", "spam@example.com"));
    CHECK(s.q("SELECT count(*) FROM incidents WHERE status = 'open'") == 1);  // still held
    s.incidents->held({"spam@example.com", "ABCDEF1234", "192.0.2.9", kWall});
    s.incidents->drain();
    CHECK(s.blocks->is_blocked("hold", "spam@example.com"));
    CHECK(s.q("SELECT count(*) FROM actions WHERE actor = 'guard'") == 2);
}

TEST_CASE("after a restart the open guard incident closes when another process releases the mail") {
    Stack s;
    s.incidents->tripped(trip_of(*s.guard, "bulk@example.com"));
    CHECK(s.work() == 1);
    // The receiver restarts: the guard's counts are gone, the hold is in force.
    s.incidents->stop();
    s.guard = std::make_unique<sp::SendingGuard>(sp::GuardSettings{});
    s.start_incidents();
    s.incidents->drain();
    CHECK(s.q("SELECT count(*) FROM incidents WHERE status = 'open'") == 1);

    // saslguardctl release-mail, in another process: found by the refresh.
    auto other = store::StateStore::open(s.config.state_path);
    REQUIRE(other.ok());
    auto ctl = (*other)->session().value();
    record_block(*ctl, "hold", "release_mail", "bulk@example.com", true);
    REQUIRE(s.blocks->refresh().ok());
    CHECK(s.work() == 1);
    CHECK(s.q("SELECT count(*) FROM incidents WHERE status = 'resolved'") == 1);
    // It was a release: the grace applies, the bulk sender is not held again.
    const auto now = std::chrono::steady_clock::now();
    for (int i = 0; i < 40; ++i)
        CHECK_FALSE(s.guard->record_message("bulk@example.com", 1, "", "", now, kWall).hold);
}

TEST_CASE("the policy thread never waits for the database: events queue while it is locked") {
    GuardIncidentsOptions o;
    o.max_queue = 5000;
    Stack s;
    s.incidents->stop();
    s.start_incidents(o);
    // Another writer holds the store's write lock (a long transaction).
    auto locker = s.session();
    auto tx = locker->begin();
    REQUIRE(tx.ok());
    s.incidents->tripped(trip_of(*s.guard, "alice@example.com"));
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 10000; ++i)
        s.incidents->held(
            {"alice@example.com", "ABCDEF" + std::to_string(1000 + i % 9000), "192.0.2.7", kWall});
    const auto took = std::chrono::steady_clock::now() - t0;
    // 10,000 hand-overs: a mutex and a vector push each (loose: a loaded machine).
    CHECK(took < 2s);
    CHECK(s.incidents->stats().events_dropped > 0);  // beyond max_queue, counted
    std::this_thread::sleep_for(100ms);
    CHECK(s.q("SELECT count(*) FROM alerts") == 0);  // nothing could be written yet
    REQUIRE((*tx)->commit().ok());
    s.incidents->drain();
    CHECK(s.q("SELECT count(*) FROM alerts") == 1);
    CHECK(s.q("SELECT count(*) FROM guard_holds") +
              static_cast<std::int64_t>(s.incidents->stats().events_dropped) ==
          10000);
}

// The containment's metrics as /metrics serves them.
std::string exposition(const Containment& c) {
    ReceiverMetrics m;
    for (auto& e : c.metrics()) m.add_external(std::move(e));
    return m.serialize();
}

TEST_CASE("the service's metrics start at zero and count answers") {
    TempDir dir;
    Config config;
    config.state_path = dir.path("s.db");
    config.smtp_policy.service.enabled = true;
    config.smtp_policy.service.server.listen = {"inet:127.0.0.1:0"};
    auto store = store::StateStore::open(config.state_path).value();
    mitigation::ActiveBlocks blocks(store->session().value());
    CountingExecutor inner;
    auto c = Containment::create(config, *store, blocks, inner);
    REQUIRE(c.ok());
    const std::string before = exposition(**c);
    for (const char* line :
         {"saslguard_policy_answers_total{action=\"DUNNO\"} 0",
          "saslguard_policy_answers_total{action=\"REJECT\"} 0",
          "saslguard_policy_answers_total{action=\"HOLD\"} 0",
          "saslguard_policy_errors_total{kind=\"line_too_long\"} 0",
          "saslguard_policy_errors_total{kind=\"request_timeout\"} 0",
          "saslguard_policy_connections_total{result=\"refused\"} 0",
          "saslguard_policy_answer_duration_seconds_bucket{le=\"+Inf\"} 0",
          "saslguard_policy_guard_trips_total 0", "saslguard_policy_guard_held_users 0",
          "saslguard_policy_guard_alerts_total{result=\"failed\"} 0"}) {
        INFO(line);
        CHECK(before.find(std::string(line) + "\n") != std::string::npos);
    }
    Intake intake(store->session({store::Durability::Full, false}).value());
    REQUIRE((*c)->start(intake).ok());
    const auto bound = (*c)->service().bound();
    REQUIRE(bound.size() == 1);
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(bound[0].port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const std::string req =
        "request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=192.0.2.1\n"
        "sasl_username=alice@example.com\n\n";
    REQUIRE(::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    char buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "action=DUNNO\n\n");
    CHECK(exposition(**c).find("saslguard_policy_answers_total{action=\"DUNNO\"} 1\n") !=
          std::string::npos);
    (*c)->stop();

    config.smtp_policy.service.server.socket_group = "no-such-group-here";
    auto bad = Containment::create(config, *store, blocks, inner);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "smtp_policy.socket_group: no group named 'no-such-group-here'");
}
