// Tests for the events-to-metrics layer (exporter/src/log_metrics.cpp) and its
// correlator: attribution by queue id, bounded user table, windows, top-K.
#include "log_metrics.hpp"

#include <unistd.h>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include <prometheus/text_serializer.h>

#include "correlator.hpp"
#include "label_value.hpp"
#include "log_fixtures.hpp"

using namespace saslguard::exporter;
using namespace saslguard::test;

namespace {

struct Harness {
    explicit Harness(LogMetricsConfig c = oneshot()) : metrics(registry, c) {}
    static LogMetricsConfig oneshot() {
        LogMetricsConfig c;
        c.wall_clock = false;
        return c;
    }
    std::string text() {
        auto families = registry.Collect();
        for (auto& f : metrics.collectable()->Collect()) families.push_back(std::move(f));
        return prometheus::TextSerializer().Serialize(families);
    }
    // The value of one series, or -1 when absent.
    double value(const std::string& series) {
        std::string t = text();
        std::size_t pos = 0;
        while ((pos = t.find(series + " ", pos)) != std::string::npos) {
            if (pos == 0 || t[pos - 1] == '\n') return std::stod(t.substr(pos + series.size() + 1));
            ++pos;
        }
        return -1;
    }
    void lines(std::initializer_list<std::string> ls) {
        for (const auto& l : ls) metrics.process_line(l);
    }
    prometheus::Registry registry;
    LogMetrics metrics;
};

std::string at(int second) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-11-23T%02d:%02d:%02dZ", 9 + second / 3600,
                  second / 60 % 60, second % 60);
    return buf;
}
std::string client(int t, const std::string& qid, const std::string& user,
                   const std::string& ip = "192.0.2.1") {
    return at(t) + " mail postfix/submission/smtpd[1]: " + qid + ": client=unknown[" + ip +
           "], sasl_method=PLAIN, sasl_username=" + user;
}
std::string qmgr_from(int t, const std::string& qid, int nrcpt) {
    return at(t) + " mail postfix/qmgr[2]: " + qid +
           ": from=<x@y>, size=100, nrcpt=" + std::to_string(nrcpt) + " (queue active)";
}
std::string delivery(int t, const std::string& qid, const std::string& status) {
    return at(t) + " mail postfix/smtp[3]: " + qid +
           ": to=<r@remote>, relay=none, delay=1, delays=0/0/0/0, dsn=4.4.1, "
           "status=" +
           status + " (whatever)";
}
std::string removed(int t, const std::string& qid) {
    return at(t) + " mail postfix/qmgr[2]: " + qid + ": removed";
}
std::string failure(int t, const std::string& ip, const std::string& method = "LOGIN") {
    return at(t) + " mail postfix/smtpd[1]: warning: unknown[" + ip + "]: SASL " + method +
           " authentication failed: authentication failure";
}
const std::string kUser = "postfix_sasl_user_messages_total{sasl_username=\"";

}  // namespace

TEST_CASE("fixtures produce the metric values in their .expect files") {
    for (const auto& name : log_fixture_names()) {
        INFO(name);
        Harness h;
        for (const auto& l : log_fixture_lines(name)) h.metrics.process_line(l);
        std::string text = h.text();
        for (const auto& m : log_fixture_expectations(name).metrics) {
            INFO(m << "\n--- output ---\n" << text);
            CHECK(text.find("\n" + m + "\n") != std::string::npos);
        }
    }
}

TEST_CASE("a new user's series all exist at zero, deliveries for every status") {
    Harness h;
    h.lines({client(0, "AAAAA00001", "u@x")});
    CHECK(h.value(kUser + "u@x\"}") == 1);
    CHECK(h.value("postfix_sasl_user_recipients_total{sasl_username=\"u@x\"}") == 0);
    for (const char* s : {"sent", "deferred", "bounced", "expired"})
        CHECK(h.value(std::string(
                          "postfix_sasl_user_deliveries_total{sasl_username=\"u@x\",status=\"") +
                      s + "\"}") == 0);
    CHECK(h.value("postfix_smtpd_sasl_authentication_failures_total{sasl_method=\"PLAIN\"}") == 0);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"__other__\"}") == 0);
}

TEST_CASE("recipients count once per message although qmgr repeats from= on every retry") {
    Harness h;
    h.lines({client(0, "AAAAA00001", "u@x"), qmgr_from(1, "AAAAA00001", 3),
             delivery(2, "AAAAA00001", "deferred"), qmgr_from(60, "AAAAA00001", 3),
             delivery(61, "AAAAA00001", "sent"), removed(62, "AAAAA00001"),
             // After removal the queue id is forgotten: a later line is not attributed.
             delivery(63, "AAAAA00001", "sent")});
    CHECK(h.value("postfix_sasl_user_recipients_total{sasl_username=\"u@x\"}") == 3);
    CHECK(
        h.value("postfix_sasl_user_deliveries_total{sasl_username=\"u@x\",status=\"deferred\"}") ==
        1);
    CHECK(h.value("postfix_sasl_user_deliveries_total{sasl_username=\"u@x\",status=\"sent\"}") ==
          1);
    CHECK(h.value("postfix_smtp_messages_processed_total{status=\"sent\"}") == 2);
    CHECK(h.metrics.tracked_queue_ids() == 0);
}

TEST_CASE("messages without SASL are not attributed to anyone") {
    Harness h;
    h.lines({at(0) + " mail postfix/smtpd[1]: AAAAA00002: client=mx.example[192.0.2.9]",
             qmgr_from(1, "AAAAA00002", 5), delivery(2, "AAAAA00002", "sent")});
    CHECK(h.text().find("{sasl_username=") == std::string::npos);
    CHECK(h.metrics.tracked_users() == 0);
}

TEST_CASE(
    "beyond --max-users the idlest user is evicted and counted, and its queue ids go with it") {
    LogMetricsConfig c = Harness::oneshot();
    c.max_users = 2;
    Harness h(c);
    h.lines({client(0, "AAAAA00001", "old@x"), client(10, "AAAAA00002", "busy@x"),
             client(20, "AAAAA00003", "busy@x"), client(30, "AAAAA00004", "new@x"),
             // old@x was evicted: its message's later lines must not land on new@x (same slot).
             qmgr_from(31, "AAAAA00001", 7)});
    CHECK(h.value(kUser + "old@x\"}") == -1);
    CHECK(h.value(kUser + "busy@x\"}") == 2);
    CHECK(h.value(kUser + "new@x\"}") == 1);
    CHECK(h.value("postfix_sasl_user_recipients_total{sasl_username=\"new@x\"}") == 0);
    CHECK(h.value("saslguard_exporter_users_evicted_total") == 1);
    CHECK(h.value("saslguard_exporter_tracked_users") == 2);
}

TEST_CASE("distinct client IPs per user count only the sliding window") {
    LogMetricsConfig c = Harness::oneshot();
    c.window_s = 60;
    Harness h(c);
    h.lines({client(0, "AAAAA00001", "u@x", "192.0.2.1"),
             client(10, "AAAAA00002", "u@x", "192.0.2.2"),
             client(20, "AAAAA00003", "u@x", "2001:db8::1"),
             client(30, "AAAAA00004", "u@x", "192.0.2.2")});
    CHECK(h.value("postfix_sasl_user_client_ips{sasl_username=\"u@x\"}") == 3);
    h.lines({client(65, "AAAAA00005", "v@x")});  // window is now (5s, 65s]: 192.0.2.1 (0s) left it
    CHECK(h.value("postfix_sasl_user_client_ips{sasl_username=\"u@x\"}") == 2);
    h.lines({client(200, "AAAAA00006", "v@x")});
    CHECK(h.value("postfix_sasl_user_client_ips{sasl_username=\"u@x\"}") == 0);
}

TEST_CASE("failing client IPs: top-K by count, the rest summed in __other__") {
    LogMetricsConfig c = Harness::oneshot();
    c.top_k = 2;
    Harness h(c);
    for (int i = 0; i < 5; ++i) h.metrics.process_line(failure(i, "203.0.113.1"));
    for (int i = 0; i < 3; ++i) h.metrics.process_line(failure(i, "2001:db8::bad", "PLAIN"));
    for (int i = 0; i < 2; ++i) h.metrics.process_line(failure(i, "198.51.100.1", "XYZZY"));
    h.metrics.process_line(failure(3, "198.51.100.2"));
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"203.0.113.1\"}") == 5);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"2001:db8::bad\"}") == 3);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"198.51.100.1\"}") == -1);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"__other__\"}") == 3);
    CHECK(h.value("postfix_smtpd_sasl_authentication_failures_total{sasl_method=\"LOGIN\"}") == 6);
    CHECK(h.value("postfix_smtpd_sasl_authentication_failures_total{sasl_method=\"PLAIN\"}") == 3);
    // A mechanism name chosen by the client does not become a label value.
    CHECK(h.value("postfix_smtpd_sasl_authentication_failures_total{sasl_method=\"__other__\"}") ==
          2);
    // Failures leave the window.
    h.lines({failure(60 * 30, "192.0.2.200")});
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"203.0.113.1\"}") == -1);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"192.0.2.200\"}") == 1);
}

TEST_CASE("failing IPs beyond --max-failure-ips are counted in __other__") {
    LogMetricsConfig c = Harness::oneshot();
    c.max_failure_ips = 3;
    c.top_k = 10;
    Harness h(c);
    for (int i = 0; i < 10; ++i) h.metrics.process_line(failure(1, "192.0.2." + std::to_string(i)));
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"__other__\"}") == 7);
    CHECK(h.value("postfix_sasl_failures_by_client_ip{client_ip=\"192.0.2.0\"}") == 1);
}

TEST_CASE("usernames with invalid UTF-8 become valid label values") {
    CHECK(sanitize_label_value("al\xffice") == "al\xEF\xBF\xBDice");
    CHECK(sanitize_label_value("caf\xC3\xA9") == "caf\xC3\xA9");
    CHECK(sanitize_label_value("a\nb") ==
          "a\xEF\xBF\xBD"
          "b");
    CHECK(sanitize_label_value("\xED\xA0\x80") ==
          "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    CHECK(sanitize_label_value(std::string(1000, 'a')).size() == 256);
    CHECK(is_clean_label_value("alice@example.com"));
    CHECK_FALSE(is_clean_label_value("\xC0\xAF"));  // overlong '/'
    Harness h;
    h.lines({client(0, "AAAAA00001", "x\xff\"y")});
    CHECK(h.value(kUser + "x\xEF\xBF\xBD\\\"y\"}") == 1);
}

TEST_CASE("the correlator stays bounded: expired entries go first, then the oldest") {
    Correlator c(16, 100);
    for (int i = 0; i < 16; ++i) c.put("QID" + std::to_string(1000 + i), 1, 0, i);
    CHECK(c.size() == 16);
    c.put("QIDNEW0001", 2, 0, 200);  // everything older than 100s expired
    CHECK(c.size() == 1);
    CHECK(c.expired() == 16);
    for (int i = 0; i < 40; ++i) c.put("QIDX" + std::to_string(1000 + i), 1, 0, 200 + i);
    CHECK(c.size() <= 16);
    CHECK(c.evicted() > 0);
    CHECK(c.find("QIDX1039") != nullptr);  // the newest survive
    c.erase("QIDX1039");
    CHECK(c.find("QIDX1039") == nullptr);
}

TEST_CASE("correlator erase keeps every other key reachable") {
    Correlator c(1024, 1000000);
    for (int i = 0; i < 1000; ++i)
        c.put("Q" + std::to_string(100000 + i), static_cast<std::uint32_t>(i), 0, 1);
    for (int i = 0; i < 1000; i += 2) c.erase("Q" + std::to_string(100000 + i));
    for (int i = 0; i < 1000; ++i) {
        auto* e = c.find("Q" + std::to_string(100000 + i));
        if (i % 2) {
            REQUIRE(e != nullptr);
            CHECK(e->user == static_cast<std::uint32_t>(i));
        } else {
            CHECK(e == nullptr);
        }
    }
    CHECK(c.size() == 500);
}

TEST_CASE("eviction follows activity: a user who sends again is not the idlest any more") {
    LogMetricsConfig c = Harness::oneshot();
    c.max_users = 3;
    Harness h(c);
    h.lines({client(0, "AAAAA00001", "a@x"), client(1, "AAAAA00002", "b@x"),
             client(2, "AAAAA00003", "c@x"), client(3, "AAAAA00004", "a@x"),
             client(4, "AAAAA00005", "d@x"),    // evicts b
             client(5, "AAAAA00006", "e@x")});  // evicts c
    CHECK(h.value(kUser + "a@x\"}") == 2);
    CHECK(h.value(kUser + "b@x\"}") == -1);
    CHECK(h.value(kUser + "c@x\"}") == -1);
    CHECK(h.value(kUser + "d@x\"}") == 1);
    CHECK(h.value(kUser + "e@x\"}") == 1);
    CHECK(h.value("saslguard_exporter_users_evicted_total") == 2);
    // A returning user starts from zero in a reused slot, with all its series.
    h.lines({client(6, "AAAAA00007", "b@x")});
    CHECK(h.value(kUser + "b@x\"}") == 1);
    CHECK(h.value("postfix_sasl_user_deliveries_total{sasl_username=\"b@x\",status=\"sent\"}") ==
          0);
    CHECK(h.value("saslguard_exporter_tracked_users") == 3);
}

TEST_CASE("submissions from a network new for the user are counted once learning is over") {
    LogMetricsConfig c = Harness::oneshot();
    c.sources_learning_s = 60;
    c.sources_new_for_s = 5;
    Harness h(c);
    const std::string series = "postfix_sasl_user_new_source_messages_total{sasl_username=\"u@x\"}";
    h.lines({client(0, "AAAAA00001", "u@x", "192.0.2.1"),      // learning
             client(30, "AAAAA00002", "u@x", "198.51.100.1"),  // learning
             client(70, "AAAAA00003", "u@x", "192.0.2.50")});  // known /24
    CHECK(h.value(series) == -1);                              // absent: no new-source message yet
    CHECK(h.value("saslguard_exporter_source_learning") == 0);
    h.lines({client(80, "AAAAA00004", "u@x", "203.0.113.7"),    // new
             client(81, "AAAAA00005", "u@x", "203.0.113.8"),    // same /24, still new (5s)
             client(82, "AAAAA00006", "u@x", "2001:db8::1"),    // new
             client(83, "AAAAA00007", "v@x", "192.0.2.1"),      // new for v@x
             client(90, "AAAAA00008", "u@x", "203.0.113.9")});  // known after 5s
    CHECK(h.value(series) == 3);
    CHECK(h.value("postfix_sasl_user_new_source_messages_total{sasl_username=\"v@x\"}") == 1);
    CHECK(h.value("saslguard_exporter_source_networks") == 5);
    CHECK(h.value("saslguard_exporter_source_users") == 2);
}

TEST_CASE(
    "a new-source counter is published from its first message until an hour after its latest") {
    LogMetricsConfig c = Harness::oneshot();
    c.sources_learning_s = 0;
    c.sources_new_for_s = 5;
    c.new_source_published_for_s = 3600;
    Harness h(c);
    const std::string series = "postfix_sasl_user_new_source_messages_total{sasl_username=\"u@x\"}";
    h.lines({client(0, "AAAAA00001", "u@x", "192.0.2.1"),       // a user never seen: new
             client(1, "AAAAA00002", "u@x", "192.0.2.2"),       // same /24, within 5 s
             client(3000, "AAAAA00003", "u@x", "192.0.2.3")});  // known by now
    CHECK(h.value(series) == 2);
    h.lines({client(3601, "AAAAA00004", "w@x", "198.51.100.1")});  // log time moves on
    CHECK(h.value(series) == 2);                                   // its latest was 3600 s ago
    h.lines({client(3602, "AAAAA00005", "w@x", "198.51.100.1")});
    CHECK(h.value(series) == -1);           // withdrawn
    CHECK(h.value(kUser + "u@x\"}") == 3);  // the user itself stays
    // The next one starts a new series from 0 (Prometheus: a counter reset).
    h.lines({client(4000, "AAAAA00006", "u@x", "203.0.113.1")});
    CHECK(h.value(series) == 1);

    c.new_source_published_for_s = 0;  // the oneshot report: the whole log's count
    Harness all(c);
    all.lines({client(0, "AAAAA00001", "u@x", "192.0.2.1"),
               client(9000, "AAAAA00002", "u@x", "203.0.113.1")});
    CHECK(all.value(series) == 2);
}

TEST_CASE("unknown-recipient bounces are counted apart from other permanent failures") {
    Harness h;
    auto bounce = [](int t, const std::string& qid, const std::string& dsn,
                     const std::string& why) {
        return at(t) + " mail postfix/smtp[3]: " + qid +
               ": to=<r@remote>, relay=mx[192.0.2.9]:25, delay=1, delays=0/0/0/0, dsn=" + dsn +
               ", status=bounced (host mx[192.0.2.9] said: " + why + ")";
    };
    h.lines({client(0, "AAAAA00001", "u@x"), qmgr_from(1, "AAAAA00001", 3),
             bounce(2, "AAAAA00001", "5.1.1", "550 5.1.1 User unknown"),
             bounce(2, "AAAAA00001", "5.7.1", "554 5.7.1 blocked using zen.spamhaus.org"),
             delivery(3, "AAAAA00001", "deferred")});
    CHECK(h.value("postfix_sasl_user_unknown_recipients_total{sasl_username=\"u@x\"}") == 1);
    CHECK(h.value("postfix_sasl_user_deliveries_total{sasl_username=\"u@x\",status=\"bounced\"}") ==
          2);
}

TEST_CASE("a user submitting from an IP that failed SASL logins shows that IP's failures") {
    Harness h;
    for (int i = 0; i < 30; ++i) h.metrics.process_line(failure(i, "203.0.113.66"));
    h.metrics.process_line(failure(31, "192.0.2.1"));
    h.lines({client(40, "AAAAA00001", "victim@x", "203.0.113.66"),
             client(41, "AAAAA00002", "victim@x", "192.0.2.1"),
             client(42, "AAAAA00003", "clean@x", "198.51.100.1")});
    CHECK(h.value("postfix_sasl_user_client_ip_auth_failures{sasl_username=\"victim@x\"}") == 30);
    CHECK(h.value("postfix_sasl_user_client_ip_auth_failures{sasl_username=\"clean@x\"}") == -1);
}

TEST_CASE("the source memory is saved with mode 0600 and loaded by the next run") {
    namespace fs = std::filesystem;
    fs::path dir = fs::temp_directory_path() / ("saslguard-state-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::string path = (dir / "sources.state").string();
    LogMetricsConfig c = Harness::oneshot();
    c.sources_learning_s = 0;
    c.sources_new_for_s = 1;
    {
        Harness h(c);
        auto none = h.metrics.load_sources(path);  // first start: no file yet
        REQUIRE(none);
        h.lines({client(0, "AAAAA00001", "u@x", "192.0.2.1")});
        REQUIRE(h.metrics.save_sources(path));
    }
    CHECK((fs::status(path).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    {
        Harness h(c);
        REQUIRE(h.metrics.load_sources(path));
        h.lines({client(10, "AAAAA00002", "u@x", "192.0.2.77"),
                 client(11, "AAAAA00003", "u@x", "198.51.100.1")});
        CHECK(h.value("postfix_sasl_user_new_source_messages_total{sasl_username=\"u@x\"}") == 1);
    }
    {
        std::ofstream(path) << "not a state file\n";
        Harness h(c);
        auto bad = h.metrics.load_sources(path);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().message.find(path + ":1:") == 0);
    }
    fs::remove_all(dir);
}
