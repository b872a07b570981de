#include <catch2/catch.hpp>

#include "receiver_test_util.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/safeguards.hpp"
#include "saslguard/receiver/webhook.hpp"
#include "saslguard/receiver/worker.hpp"

using namespace saslguard;
using namespace saslguard::receiver;
using namespace saslguard::receiver::testing;

namespace {

// The mail host as Safeguards tells it: accounts by a table, the queue by a
// count per login, loopback never blocked.
class FakeSafeguards final : public Safeguards {
public:
    std::map<std::string, std::string> account_of;  // login → account (else itself)
    std::map<std::string, std::size_t> queued;      // login → its queued messages (else 50)
    bool queue_down = false;
    std::vector<std::string> asked_queue;

    std::vector<std::string> accounts(const std::vector<std::string>& logins) override {
        std::vector<std::string> out;
        for (const auto& l : logins) out.push_back(account_of.count(l) ? account_of[l] : l);
        return out;
    }
    Result<std::vector<std::pair<std::string, std::string>>> protected_ips(
        const std::vector<std::string>& ips) override {
        std::vector<std::pair<std::string, std::string>> out;
        for (const auto& ip : ips)
            if (ip.rfind("127.", 0) == 0) out.emplace_back(ip, "a loopback address");
        return out;
    }
    Result<std::size_t> queued_messages(const std::string& login, std::size_t enough) override {
        asked_queue.push_back(login);
        if (queue_down) return make_error("showq: connect: No such file or directory");
        return std::min(enough, queued.count(login) ? queued[login] : std::size_t{50});
    }
};

struct Fixture {
    TempDir dir;
    Config config;
    // Prometheus is down; the exporter's one scrape (totals) is the evidence,
    // unless exporter_down.
    bool exporter_down = false;
    Resolver resolver{
        PrometheusConfig{}, PolicyConfig{}, [this](const HttpRequest& req) {
            HttpResponse r;
            if (req.url.find("/api/v1/") != std::string::npos || exporter_down) {
                r.error = "Couldn't connect to server";
                return r;
            }
            r.status = 200;
            r.body =
                "postfix_sasl_user_messages_total{sasl_username=\"alice@example.com\"} 120\n"
                "postfix_sasl_user_messages_total{sasl_username=\"Bob@Example.com\"} 80\n"
                "postfix_sasl_user_messages_total{sasl_username=\"alice\"} 90\n";
            return r;
        }};
    CountingExecutor executor;
    RecordingNotifier notifier;
    FakeSafeguards safeguards;
    std::unique_ptr<store::sql::Connection> db;

    Fixture() {
        config.state_path = dir.path("s.db");
        db = open_db(config.state_path);
    }
    void deliver(const nlohmann::json& payload) {
        Intake intake(open_session(config.state_path, store::Durability::Full));
        auto p = parse_webhook(payload.dump());
        REQUIRE(p.ok());
        REQUIRE(intake.accept(*p, payload.dump()).ok());
    }
    int run() {
        Worker w(open_session(config.state_path), config, resolver, executor, notifier, nullptr,
                 &safeguards);
        REQUIRE(w.recover().ok());
        auto n = w.run_once();
        REQUIRE(n.ok());
        return *n;
    }
    std::int64_t q(const std::string& sql) { return db->query_int64(sql)->value_or(-1); }
    std::string text(const std::string& sql) { return query_text(*db, sql); }
};

}  // namespace

TEST_CASE(
    "a firing auto alert opens one incident, runs each automatic action once and notifies with "
    "outcomes") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    CHECK(f.run() == 1);
    CHECK(f.q("SELECT count(*) FROM incidents WHERE status = 'open'") == 1);
    CHECK(f.text("SELECT username FROM incidents") == "alice@example.com");
    CHECK(f.text("SELECT source FROM evidence") == "label");
    CHECK(f.safeguards.asked_queue == std::vector<std::string>{"alice@example.com"});
    CHECK(f.text("SELECT mode FROM decisions") == "auto");
    CHECK(f.q("SELECT act FROM decisions") == 1);
    REQUIRE(f.executor.requests.size() == 2);
    CHECK(f.executor.requests[0].kind == ActionKind::BlockLogin);
    CHECK(f.executor.requests[0].username == "alice@example.com");
    CHECK(f.executor.requests[1].kind == ActionKind::HoldMail);
    CHECK(f.q("SELECT count(*) FROM actions WHERE actor = 'auto' AND state = 'applied'") == 2);
    REQUIRE(f.notifier.opened.size() == 1);
    const IncidentNotice& n = f.notifier.opened[0];
    CHECK(n.alertname == "SaslUserSendingSurge");
    CHECK(n.external_url == "http://127.0.0.1:9093");
    CHECK(n.decision.act);
    REQUIRE(n.results.size() == 2);
    CHECK(n.results[0].outcome.ok);
    CHECK(n.results[0].outcome.summary == "block_login alice@example.com");
    CHECK_FALSE(n.interrupted);
}

TEST_CASE("redeliveries and reruns act on nothing again") {
    Fixture f;
    auto payload = payload_json({alert_json("00000000000000a1")});
    f.deliver(payload);
    f.run();
    f.deliver(payload);  // Alertmanager HA peer or repeat_interval
    f.deliver(payload);
    CHECK(f.run() == 0);
    CHECK(f.executor.requests.size() == 2);
    CHECK(f.notifier.opened.size() == 1);
    CHECK(f.q("SELECT duplicates FROM alerts") == 2);
}

TEST_CASE("a resolved alert closes its incident and is notified once") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();
    f.deliver(payload_json({alert_json("00000000000000a1", "resolved")}, "resolved"));
    f.deliver(payload_json({alert_json("00000000000000a1", "resolved")}, "resolved"));
    CHECK(f.run() == 1);
    CHECK(f.q("SELECT count(*) FROM incidents WHERE status = 'resolved'") == 1);
    REQUIRE(f.notifier.resolved.size() == 1);
    CHECK(f.notifier.resolved[0].incident_id == 1);
    CHECK(f.notifier.resolved[0].evidence.culprit == "alice@example.com");
    CHECK(f.executor.requests.size() == 2);
}

TEST_CASE(
    "a resolution with an earlier startsAt (Alertmanager merged the alert) still closes the "
    "incident") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();
    f.deliver(payload_json(
        {alert_json("00000000000000a1", "resolved", nullptr, "2026-11-23T08:00:00Z")}, "resolved"));
    f.run();
    CHECK(f.q("SELECT count(*) FROM incidents WHERE status = 'resolved'") == 1);
    CHECK(f.notifier.resolved.size() == 1);
}

TEST_CASE(
    "an action cut short by a crash is reported as interrupted and never run again; the rest run "
    "once") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();
    // The database as SIGKILL would leave it in the middle of the first action:
    // event decided, action 1 marked running, action 2 still planned.
    REQUIRE(f.db->exec("UPDATE alerts SET state = 'decided';"
                       "UPDATE actions SET state = 'running', result = '' WHERE id = 1;"
                       "UPDATE actions SET state = 'planned', result = '' WHERE id = 2")
                .ok());
    f.executor.requests.clear();
    f.notifier.opened.clear();
    CHECK(f.run() == 1);
    REQUIRE(f.executor.requests.size() == 1);
    CHECK(f.executor.requests[0].kind == ActionKind::HoldMail);
    CHECK(f.text("SELECT state FROM actions WHERE id = 1") == "interrupted");
    CHECK(f.text("SELECT state FROM actions WHERE id = 2") == "applied");
    REQUIRE(f.notifier.opened.size() == 1);
    CHECK(f.notifier.opened[0].interrupted);
    CHECK_FALSE(f.notifier.opened[0].results[0].outcome.ok);
}

TEST_CASE("a crash between deciding and acting runs the planned actions after the restart") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();
    REQUIRE(f.db->exec("UPDATE alerts SET state = 'decided'; UPDATE actions SET state = 'planned'")
                .ok());
    f.executor.requests.clear();
    f.run();
    CHECK(f.executor.requests.size() == 2);
    CHECK(f.q("SELECT count(*) FROM incidents") == 1);
}

TEST_CASE("failed actions are stored with their error and notified as failures") {
    Fixture f;
    f.executor.fail = true;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();
    CHECK(f.q("SELECT count(*) FROM actions WHERE state = 'failed'") == 2);
    CHECK(f.text("SELECT error FROM actions WHERE id = 1") == "exit 1: postmap failed");
    CHECK_FALSE(f.notifier.opened[0].results[0].outcome.ok);
}

TEST_CASE("the hourly budget counts actions stored before a restart") {
    Fixture f;
    f.config.policy.max_auto_actions_per_hour = 3;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    f.run();  // 2 actions
    nlohmann::json labels = {{"alertname", "SaslUserSendingSurge"},
                             {"sasl_username", "bob@example.com"},
                             {"mitigation", "auto"}};
    f.deliver(payload_json({alert_json("00000000000000b2", "firing", labels)}));
    f.run();  // a new worker: 2 + 2 > 3
    CHECK(f.executor.requests.size() == 2);
    CHECK(f.text("SELECT mode FROM decisions WHERE incident_id = 2") == "confirm");
    CHECK(f.text("SELECT reason FROM decisions WHERE incident_id = 2")
              .find("max_auto_actions_per_hour 3") != std::string::npos);
}

TEST_CASE("a notify alert stores its decision and evidence and runs nothing") {
    Fixture f;
    f.exporter_down = true;
    nlohmann::json labels = {
        {"alertname", "PostfixQueueSurge"}, {"instance", "mx1:9754"}, {"mitigation", "notify"}};
    f.deliver(payload_json({alert_json("00000000000000c3", "firing", labels)}));
    f.run();
    CHECK(f.executor.requests.empty());
    CHECK(f.text("SELECT mode FROM decisions") == "notify");
    CHECK(f.text("SELECT source FROM evidence") == "none");
    CHECK(f.notifier.opened.size() == 1);
    CHECK(f.notifier.opened[0].evidence.notes.size() == 3);
}

TEST_CASE("an alert naming a user with an open incident joins it: one incident, one notice") {
    Fixture f;
    nlohmann::json guard = {{"alertname", "SaslUserSendingGuard"},
                            {"sasl_username", "alice@example.com"},
                            {"severity", "critical"},
                            {"mitigation", "confirm"}};
    f.deliver(payload_json({alert_json("00000000000000d1", "firing", guard)}));
    CHECK(f.run() == 1);
    REQUIRE(f.notifier.opened.size() == 1);
    // The guard's incident asks about the held mail.
    CHECK(f.notifier.opened[0].decision.actions == std::vector<ActionKind>{ActionKind::ReleaseMail,
                                                                           ActionKind::BlockLogin,
                                                                           ActionKind::DeleteMail});
    CHECK(f.notifier.opened[0].decision.reason.find("the sending guard holds the mail of "
                                                    "alice@example.com") != std::string::npos);
    CHECK(f.executor.requests.empty());

    // Prometheus's alert for the same user (another case of the login): auto
    // mode, so its actions run, on the same incident.
    nlohmann::json surge = {{"alertname", "SaslUserSendingSurge"},
                            {"instance", "mx1:9754"},
                            {"sasl_username", "Alice@Example.com"},
                            {"mitigation", "auto"}};
    f.deliver(payload_json({alert_json("00000000000000a1", "firing", surge)}));
    CHECK(f.run() == 1);
    CHECK(f.q("SELECT count(*) FROM incidents") == 1);
    CHECK(f.q("SELECT incident_id FROM incident_joins WHERE alert_id = 2") == 1);
    CHECK(f.notifier.opened.size() == 1);
    REQUIRE(f.notifier.joined.size() == 1);
    const IncidentNotice& j = f.notifier.joined[0];
    CHECK(j.incident_id == 1);
    CHECK(j.alertname == "SaslUserSendingSurge");
    CHECK(j.results.size() == 2);
    CHECK(f.q("SELECT count(*) FROM actions WHERE incident_id = 1 AND actor = 'auto'") == 2);

    // A crash after deciding the join: the rerun notifies the join again, not an opening.
    REQUIRE(f.db->exec("UPDATE alerts SET state = 'decided' WHERE id = 2").ok());
    f.notifier.joined.clear();
    f.run();
    CHECK(f.notifier.joined.size() == 1);
    CHECK(f.notifier.opened.size() == 1);

    // The incident closes with the alert that opened it; the joined one's
    // resolution finds nothing left to close.
    f.deliver(payload_json({alert_json("00000000000000a1", "resolved", surge)}, "resolved"));
    f.run();
    CHECK(f.q("SELECT count(*) FROM incidents WHERE status = 'open'") == 1);
    f.deliver(payload_json({alert_json("00000000000000d1", "resolved", guard)}, "resolved"));
    f.run();
    CHECK(f.q("SELECT count(*) FROM incidents WHERE status = 'open'") == 0);
    CHECK(f.notifier.resolved.size() == 1);

    // Once closed, the next alert for the user opens a new incident.
    f.deliver(
        payload_json({alert_json("00000000000000a1", "firing", surge, "2026-11-23T10:00:00Z")}));
    f.run();
    CHECK(f.q("SELECT count(*) FROM incidents") == 2);
    CHECK(f.notifier.opened.size() == 2);
}

TEST_CASE("alerts about different users, or about nobody, never join") {
    Fixture f;
    f.deliver(payload_json({alert_json("00000000000000a1")}));
    nlohmann::json bob = {{"alertname", "SaslUserSendingSurge"},
                          {"sasl_username", "bob@example.com"},
                          {"mitigation", "notify"}};
    f.deliver(payload_json({alert_json("00000000000000b2", "firing", bob)}));
    nlohmann::json queue = {{"alertname", "PostfixQueueSurge"}, {"mitigation", "notify"}};
    f.deliver(payload_json({alert_json("00000000000000c3", "firing", queue)}));
    CHECK(f.run() == 3);
    CHECK(f.q("SELECT count(*) FROM incidents") == 3);
    CHECK(f.notifier.joined.empty());
}

TEST_CASE("with Prometheus and the exporter both unreachable an auto alert for root runs nothing") {
    Fixture f;
    f.exporter_down = true;
    nlohmann::json labels = {
        {"alertname", "SaslUserSendingSurge"}, {"sasl_username", "root"}, {"mitigation", "auto"}};
    f.deliver(payload_json({alert_json("00000000000000d4", "firing", labels)}));
    f.run();
    CHECK(f.executor.requests.empty());
    CHECK(f.q("SELECT count(*) FROM actions") == 0);
    CHECK(f.text("SELECT mode FROM decisions") == "confirm");
}

TEST_CASE("forged log lines: a user with nothing in the queue is asked about, with the reason") {
    Fixture f;
    f.safeguards.queued["alice@example.com"] = 0;
    f.deliver(payload_json({alert_json("00000000000000e5")}));
    f.run();
    CHECK(f.executor.requests.empty());
    CHECK(f.text("SELECT mode FROM decisions") == "confirm");
    CHECK(f.text("SELECT reason FROM decisions")
              .find("the queue does not corroborate the log: 0 of "
                    "alice@example.com's messages are queued") != std::string::npos);
    REQUIRE(f.notifier.opened.size() == 1);
    CHECK(f.notifier.opened[0].evidence.queued == 0);
    CHECK(f.notifier.opened[0].decision.actions.size() == 2);  // offered as buttons instead

    SECTION("and when the queue cannot be read at all") {
        f.safeguards.queue_down = true;
        f.deliver(payload_json({alert_json("00000000000000e6")}));
        f.run();
        CHECK(f.executor.requests.empty());
        // The same user: the alert joins the open incident (one incident per
        // user); its own decision is the newest row.
        CHECK(f.text("SELECT reason FROM decisions ORDER BY id DESC LIMIT 1")
                  .find("the queue could not be read to corroborate the log (showq") !=
              std::string::npos);
    }
}

TEST_CASE("an allowlisted account is protected when the alert names it without its realm") {
    Fixture f;
    f.config.policy.allowlist_users = {"alice@example.com"};
    f.safeguards.account_of["alice"] = "alice@example.com";  // sasldb: the one realm
    nlohmann::json labels = {
        {"alertname", "SaslUserSendingSurge"}, {"sasl_username", "alice"}, {"mitigation", "auto"}};
    f.deliver(payload_json({alert_json("00000000000000e7", "firing", labels)}));
    f.run();
    CHECK(f.executor.requests.empty());
    CHECK(f.text("SELECT reason FROM decisions")
              .find("alice (the account alice@example.com in the SASL backend) is allowlisted") !=
          std::string::npos);
    CHECK(f.notifier.opened[0].evidence.account == "alice@example.com");
}

TEST_CASE("a login is acted on in its one form, its case variants' counts together") {
    Fixture f;
    nlohmann::json labels = {{"alertname", "SaslUserSendingSurge"},
                             {"sasl_username", "BOB@example.COM"},
                             {"mitigation", "auto"}};
    f.deliver(payload_json({alert_json("00000000000000e8", "firing", labels)}));
    f.run();
    REQUIRE(f.executor.requests.size() == 2);
    CHECK(f.executor.requests[0].username == "bob@example.com");
    CHECK(f.text("SELECT username FROM incidents") == "bob@example.com");
    CHECK(f.notifier.opened[0].evidence.culprit == "bob@example.com");
}

TEST_CASE("never-block addresses are kept out of the plan and shown in the evidence") {
    Fixture f;
    f.config.policy.auto_actions = {ActionKind::BlockLogin, ActionKind::BlockIps};
    nlohmann::json labels = {{"alertname", "SaslUserSendingSurge"},
                             {"sasl_username", "alice@example.com"},
                             {"client_ip", "::ffff:127.0.0.1"},
                             {"mitigation", "auto"},
                             {"suggested_actions", "block_ips,block_login"}};
    f.deliver(payload_json({alert_json("00000000000000e9", "firing", labels)}));
    f.run();
    REQUIRE(f.executor.requests.size() == 1);
    CHECK(f.executor.requests[0].kind == ActionKind::BlockLogin);
    const auto& ev = f.notifier.opened[0].evidence;
    CHECK(ev.client_ips.empty());
    REQUIRE(ev.protected_ips.size() == 1);
    CHECK(ev.protected_ips[0].ip == "127.0.0.1");
    CHECK(ev.protected_ips[0].reason == "a loopback address");
}
