// Golden tests of the text admins read: every message kind the bot renders
// (incident in each mode, joined by an admin's action and its undo, resolved,
// the command replies), from realistic data, compared byte for byte with
// tests/receiver/golden/<kind>.html. The queued-mail sample is parsed from
// real `postcat -e -h` output (tests/fixtures/queue/), countries come from
// Debian's geoip-database as installed.
//
// After an intended change, regenerate and review the diff:
//   UPDATE_GOLDEN=1 build/tests/receiver/telegram_tests '[golden]'
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "saslguard/receiver/mitigation/queue.hpp"
#include "saslguard/receiver/telegram/incident_ui.hpp"
#include "saslguard/receiver/telegram/replies.hpp"
#include "telegram_test_support.hpp"

using namespace tgtest;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Compares `text` with the golden file `kind`.html (or writes it with UPDATE_GOLDEN=1).
void check_golden(const std::string& kind, const std::string& text) {
    const std::string path =
        std::string(SASLGUARD_SOURCE_DIR) + "/tests/receiver/golden/" + kind + ".html";
    const char* update = std::getenv("UPDATE_GOLDEN");
    if (update && std::string(update) == "1") {
        std::ofstream(path, std::ios::binary) << text << "\n";
        WARN("rewrote " << path);
        return;
    }
    const std::string expected = read_file(path);
    INFO("golden file " << path << " (UPDATE_GOLDEN=1 rewrites it)");
    REQUIRE_FALSE(expected.empty());
    CHECK(text + "\n" == expected);
    CHECK(visible_length(text) <= kMaxMessageChars);
}

TelegramConfig golden_config() {
    TelegramConfig cfg;
    cfg.host_name = "mail.saslguard.test";
    cfg.grafana_url = "http://127.0.0.1:3000/d/saslguard/saslguard";
    return cfg;
}

QueueSample sample_from(const std::string& fixture, const std::string& login, bool subjects) {
    auto messages = mitigation::parse_postcat_messages(
        read_file(std::string(SASLGUARD_FIXTURES_DIR) + "/queue/" + fixture));
    std::vector<mitigation::PostcatMessage> mine;
    for (auto& m : messages)
        if (m.sasl_login == login) {
            if (!subjects) m.subject.clear();
            mine.push_back(std::move(m));
        }
    return mitigation::summarize_queue_sample(mine);
}

// The demo's first incident, as the worker hands it over: the rules' alert for
// alice, evidence from Prometheus (with her hourly history and the exporter's
// new-source counter), her queued mail sampled, the confirm policy's decision.
IncidentNotice surge_notice(bool subjects) {
    IncidentNotice n;
    n.incident_id = 1;
    n.alertname = "SaslUserSendingSurge";
    n.severity = "critical";
    n.summary = "SASL user alice@saslguard.test is sending 3.6 msg/s";
    n.alert.status = "firing";
    n.alert.labels = {{"alertname", "SaslUserSendingSurge"},
                      {"instance", "127.0.0.1:9154"},
                      {"job", "saslguard-exporter"},
                      {"mitigation", "confirm"},
                      {"sasl_username", "alice@saslguard.test"},
                      {"severity", "critical"}};
    n.external_url = "http://127.0.0.1:9093";
    Evidence& e = n.evidence;
    e.source = "label";
    e.conclusive = true;
    e.culprit = "alice@saslguard.test";
    e.instance = "127.0.0.1:9154";
    e.window = "10m";
    e.total_messages = 268.1;
    e.queue_depth = 212;
    UserEvidence u;
    u.username = "alice@saslguard.test";
    u.messages = 238.6;
    u.share = 0.89;
    u.distinct_ips = 4;
    u.deliveries = 180;
    u.bounce_ratio = 0.31;
    u.usual_per_hour = 4.2;
    u.busiest_hour = 11;
    u.new_source_messages = 238.6;
    e.top_users = {u};
    e.top_senders = {{"alice@saslguard.test", 206}};
    e.sample = sample_from("postcat_surge_sample.txt", "alice@saslguard.test", subjects);
    n.decision.configured_mode = Mode::Confirm;
    n.decision.mode = Mode::Confirm;
    n.decision.actions = {ActionKind::BlockLogin, ActionKind::HoldMail};
    n.decision.reason =
        "confirm (from policy.modes.SaslUserSendingSurge): suggest block_login, hold_mail for "
        "alice@saslguard.test";
    return n;
}

}  // namespace

TEST_CASE("golden: the confirm incident message, subjects hidden (the default)", "[golden]") {
    check_golden("incident_confirm",
                 format_incident(view_from_notice(surge_notice(false), golden_config())));
}

TEST_CASE("golden: the confirm incident message with the queue subjects switched on", "[golden]") {
    check_golden("incident_confirm_subjects",
                 format_incident(view_from_notice(surge_notice(true), golden_config())));
}

TEST_CASE("golden: an automatic block says what was done, in plain words", "[golden]") {
    IncidentNotice n = surge_notice(false);
    n.incident_id = 2;
    n.decision.configured_mode = Mode::Auto;
    n.decision.mode = Mode::Auto;
    n.decision.act = true;
    ActionResult block;
    block.request.kind = ActionKind::BlockLogin;
    block.outcome = {true, 11, "blocked login alice@saslguard.test", "", {}};
    ActionResult hold;
    hold.request.kind = ActionKind::HoldMail;
    hold.outcome = {true, 12, "held 206 messages of alice@saslguard.test", "", {}};
    n.results = {block, hold};
    check_golden("incident_auto", format_incident(view_from_notice(n, golden_config())));
}

TEST_CASE("golden: an automatic policy that asked instead says why", "[golden]") {
    IncidentNotice n = surge_notice(false);
    n.incident_id = 3;
    n.decision.configured_mode = Mode::Auto;
    n.decision.mode = Mode::Confirm;
    n.decision.reason =
        "auto (from the alert's mitigation label); not acting automatically: 5 automatic actions "
        "in the last hour; 2 more would exceed policy.max_auto_actions_per_hour 6";
    check_golden("incident_auto_asked", format_incident(view_from_notice(n, golden_config())));
}

TEST_CASE("golden: a queue surge without a culprit, no history, no links configured", "[golden]") {
    IncidentNotice n;
    n.incident_id = 4;
    n.alertname = "PostfixQueueSurge";
    n.severity = "warning";
    n.summary = "Postfix queue on 127.0.0.1:9154 is 5321 messages, far above its usual 40";
    n.alert.status = "firing";
    n.alert.labels = {{"alertname", "PostfixQueueSurge"}, {"instance", "mail.saslguard.test:9154"}};
    n.evidence.source = "prometheus";
    n.evidence.instance = "mail.saslguard.test:9154";
    n.evidence.window = "10m";
    n.evidence.queue_depth = 5321;
    UserEvidence u;
    u.username = "bob@saslguard.test";
    u.messages = 12;
    u.share = 0.2;
    n.evidence.top_users = {u};
    n.evidence.notes = {"top user bob@saslguard.test has 12 messages (20% of 60): below policy"};
    n.decision.mode = Mode::Notify;
    n.decision.reason = "notify; no culprit named, so nothing to act on";
    TelegramConfig cfg = golden_config();
    cfg.grafana_url.clear();
    check_golden("incident_notify_no_user", format_incident(view_from_notice(n, cfg)));
}

TEST_CASE("golden: a brute-force alert names the address with its country", "[golden]") {
    IncidentNotice n;
    n.incident_id = 5;
    n.alertname = "SaslAuthBruteForce";
    n.severity = "warning";
    n.summary = "193.0.6.139 failed SMTP AUTH 412 times in 10m";
    n.alert.status = "firing";
    n.alert.labels = {{"alertname", "SaslAuthBruteForce"}, {"client_ip", "193.0.6.139"}};
    n.external_url = "http://127.0.0.1:9093/";
    n.evidence.source = "prometheus";
    n.evidence.window = "10m";
    n.evidence.client_ips = {"193.0.6.139"};
    n.evidence.protected_ips = {{"127.0.0.1", "a loopback address"}};
    n.decision.mode = Mode::Confirm;
    n.decision.configured_mode = Mode::Confirm;
    n.decision.actions = {ActionKind::BlockIps};
    check_golden("incident_brute_force", format_incident(view_from_notice(n, golden_config())));
}

TEST_CASE("golden: an admin's block and its undo, as the edited message shows them", "[golden]") {
    IncidentView v = view_from_notice(surge_notice(false), golden_config());
    v.log.push_back({"@bob (2222)", "blocked login alice@saslguard.test", true});
    v.log.push_back({"@bob (2222)", "unblocked login alice@saslguard.test", true});
    check_golden("incident_undo", format_incident(v));
}

TEST_CASE("golden: the resolved message keeps the history and drops the silence link", "[golden]") {
    IncidentView v = view_from_notice(surge_notice(false), golden_config());
    v.log.push_back({"@bob (2222)", "blocked login alice@saslguard.test", true});
    v.log.push_back({"@bob (2222)", "hold_mail failed: postsuper: exit 1: fatal: queue", false});
    v.resolved = true;
    check_golden("incident_resolved", format_incident(v));
}

TEST_CASE("golden: attacker-controlled names, subjects and addresses stay text", "[golden]") {
    IncidentNotice n = surge_notice(true);
    n.incident_id = 6;
    const std::string evil = "<a href=\"tg://x\">x</a>&amp;@evil.example";
    n.evidence.culprit = evil;
    n.evidence.top_users.front().username = evil;
    n.alert.labels["sasl_username"] = evil;
    n.evidence.sample->subjects = {"</b><i>free</i> \x01\xff money", std::string(400, '<')};
    n.evidence.sample->client_addresses.push_back({"<script>", 1});
    n.summary = "</i>summary<b>";
    std::string text = format_incident(view_from_notice(n, golden_config()));
    CHECK(text.find("<a href=\"tg:") == std::string::npos);
    CHECK(text.find("<script>") == std::string::npos);
    CHECK(text.find("<i>free") == std::string::npos);
    check_golden("incident_hostile", text);
}

TEST_CASE("golden: /status, /top, /queue and /blocked replies", "[golden]") {
    const std::string host = "mail.saslguard.test";
    StatusInfo s;
    s.open_incidents = {{1, "SaslUserSendingSurge", "alice@saslguard.test", 1796022461000},
                        {4, "PostfixQueueSurge", "", 1796022761000}};
    s.active_blocks = 2;
    s.queue_depth = 212;
    check_golden("status", render_status(s, host));
    check_golden("status_quiet", render_status(StatusInfo{}, host));
    check_golden("top", render_top({{"alice@saslguard.test", 238.6},
                                    {"bob@saslguard.test", 21.4},
                                    {"carol@saslguard.test", 8.0}},
                                   host));
    QueueInfo q;
    q.depth = 212;
    q.top_senders = {{"alice@saslguard.test", 206}, {"", 4.0}, {"bob@saslguard.test", 2}};
    check_golden("queue", render_queue(q, host));
    check_golden("blocked",
                 render_blocked({{"login", "alice@saslguard.test", "telegram:2222", std::nullopt},
                                 {"hold", "alice@saslguard.test", "auto", 1796026061000},
                                 {"ip", "185.220.101.4", "cli:root", std::nullopt}},
                                host));
}

TEST_CASE("golden: /status and /blocked answered by a fleet's poller name every host", "[golden]") {
    // The poller answers for the fleet (docs/fleet.md): who polls, which
    // receivers answer, and every host's blocks from the shared table.
    StatusInfo s;
    s.open_incidents = {{3, "SaslUserSendingSurge", "alice@saslguard.test", 1796022461000}};
    s.active_blocks = 1;
    s.queue_depth = 4;
    s.fleet = true;
    s.poller = "mx-a";
    s.fleet_hosts = {{"mx-a", 1}, {"mx-b", 0}, {"mx-c", 95}};
    check_golden("status_fleet", render_status(s, "mx-a"));
    check_golden(
        "blocked_fleet",
        render_blocked({{"login", "carol@saslguard.test", "telegram:2222", std::nullopt, "mx-a"},
                        {"login", "alice@saslguard.test", "", std::nullopt, "mx-b"},
                        {"ip", "185.220.101.4", "", 1796026061000, "mx-c"}},
                       "mx-a"));
}

TEST_CASE("real postcat -e -h output is read message by message") {
    auto messages = mitigation::parse_postcat_messages(
        read_file(std::string(SASLGUARD_FIXTURES_DIR) + "/queue/postcat_headers_two_messages.txt"));
    REQUIRE(messages.size() == 2);
    CHECK(messages[0].queue_id == "E3069A7609D");
    CHECK(messages[0].sasl_login == "alice@saslguard.test");
    CHECK(messages[0].client_address == "127.0.0.1");
    CHECK(messages[0].recipients ==
          std::vector<std::string>{"carol@example.net", "dave@example.com"});
    CHECK(messages[0].subject == "Invoice");
    CHECK(messages[1].queue_id == "752A4A76092");
    CHECK(messages[1].subject == "Invoice =?UTF-8?B?w6k=?= <b>overdue</b>");
    QueueSample s = mitigation::summarize_queue_sample(messages);
    CHECK(s.messages == 2);
    CHECK(s.recipient_domains == 3);
    REQUIRE(s.client_addresses.size() == 1);
    CHECK(s.client_addresses[0].messages == 2);
    CHECK(s.subjects ==
          std::vector<std::string>{"Invoice", "Invoice =?UTF-8?B?w6k=?= <b>overdue</b>"});
    // Envelope only (no -h): no subject is invented.
    auto envelope = mitigation::parse_postcat_messages(
        "*** ENVELOPE RECORDS deferred/7/752A4A76092 ***\n"
        "named_attribute: sasl_username=bob\nrecipient: x@example.org\n"
        "*** MESSAGE FILE END deferred/7/752A4A76092 ***\n"
        "*** ENVELOPE RECORDS deferred/7/../../etc ***\nrecipient: y@example.org\n");
    REQUIRE(envelope.size() == 1);
    CHECK(envelope[0].subject.empty());
    CHECK(envelope[0].sasl_login == "bob");
}
