// Tests for the Postfix log-line parser (postfix/src/log_parser.cpp):
// single lines, the real and adapted fixtures against their .expect files, and
// a coverage check that fails when a parser rule is exercised by no fixture.
#include "saslguard/postfix/log_parser.hpp"

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include "log_fixtures.hpp"

using namespace saslguard::postfix;
using namespace saslguard::test;

TEST_CASE("an authenticated submission line yields queue id, client and SASL user") {
    auto ev = parse_line(
        "Nov 23 09:22:38 mail postfix/submission/smtpd[16594]: 455F2A7253E: "
        "client=localhost[127.0.0.1], "
        "sasl_method=PLAIN, sasl_username=alice@saslguard.test");
    REQUIRE(ev.kind == EventKind::SmtpdClient);
    CHECK(ev.timestamp.format == TimestampFormat::Rfc3164);
    CHECK(ev.timestamp.month == 11);
    CHECK(ev.timestamp.day == 23);
    CHECK(ev.host == "mail");
    CHECK(ev.syslog_name == "postfix/submission");
    CHECK(ev.program == "smtpd");
    CHECK(ev.queue_id == "455F2A7253E");
    CHECK(ev.client_host == "localhost");
    CHECK(ev.client_ip == "127.0.0.1");
    CHECK(ev.sasl_method == "PLAIN");
    CHECK(ev.sasl_username == "alice@saslguard.test");
}

TEST_CASE("a client line without SASL has no username") {
    auto ev = parse_line(
        "Nov 23 09:22:38 mail postfix/smtpd[1]: 455F2A7253E: client=mx.example[192.0.2.1]");
    REQUIRE(ev.kind == EventKind::SmtpdClient);
    CHECK(ev.sasl_username.empty());
    CHECK(ev.client_ip == "192.0.2.1");
}

TEST_CASE("sasl_sender after the username is not part of the username") {
    auto ev = parse_line(
        "Nov 23 09:22:42 mail postfix/smtpd[1]: 4bXyZ12abcdz1Ab: "
        "client=localhost[127.0.0.1]:41234, "
        "sasl_method=PLAIN, sasl_username=erin@x.test, sasl_sender=boss@x.test");
    REQUIRE(ev.kind == EventKind::SmtpdClient);
    CHECK(ev.queue_id == "4bXyZ12abcdz1Ab");
    CHECK(ev.client_ip == "127.0.0.1");
    CHECK(ev.sasl_username == "erin@x.test");
}

TEST_CASE("RFC 3339 timestamps: fraction, Z, +hh:mm and +hhmm give the same instant") {
    const char* lines[] = {
        "2026-11-23T09:22:38.5Z mail postfix/qmgr[1]: ABCDE12345: removed",
        "2026-11-23T10:22:38.500+01:00 mail postfix/qmgr[1]: ABCDE12345: removed",
        "2026-11-23T04:22:38.5-0500 mail postfix/qmgr[1]: ABCDE12345: removed",
    };
    for (const char* l : lines) {
        auto ev = parse_line(l);
        INFO(l);
        REQUIRE(ev.kind == EventKind::QmgrRemoved);
        CHECK(ev.timestamp.format == TimestampFormat::Rfc3339);
        CHECK(to_unix_seconds(ev.timestamp) == Approx(1795425758.5));
    }
}

TEST_CASE("RFC 3164 timestamps resolve in local time against the current year") {
    TimestampResolver r(1795425758);  // 2026-11-23
    auto ev = parse_line("Nov 23 09:22:38 mail postfix/qmgr[1]: ABCDE12345: removed");
    std::tm tm{};
    tm.tm_year = 126;
    tm.tm_mon = 10;
    tm.tm_mday = 23;
    tm.tm_hour = 9;
    tm.tm_min = 22;
    tm.tm_sec = 38;
    tm.tm_isdst = -1;
    CHECK(r.resolve(ev.timestamp) == Approx(static_cast<double>(std::mktime(&tm))));
    // A December line read in January belongs to last year.
    TimestampResolver jan(1798761600 + 86400 * 5);  // 2027-01-06
    auto dec = parse_line("Dec 31 23:59:59 mail postfix/qmgr[1]: ABCDE12345: removed");
    CHECK(jan.resolve(dec.timestamp) < 1798761600 + 86400);
}

TEST_CASE("lines without a hostname and with a syslog priority are understood") {
    CHECK(parse_line("Nov  3 09:22:41 postfix/qmgr[1]: ABCDE12345: removed").kind ==
          EventKind::QmgrRemoved);
    auto ev =
        parse_line("<38>Nov  3 09:22:42 mail postfix/smtpd[1]: connect from unknown[2001:db8::1]");
    CHECK(ev.kind == EventKind::Connect);
    CHECK(ev.timestamp.day == 3);
    CHECK(ev.client_ip == "2001:db8::1");
}

TEST_CASE("SASL failures with and without sasl_username") {
    auto with = parse_line(
        "Nov 23 09:22:38 mail postfix/submission/smtpd[1]: warning: localhost[127.0.0.1]: SASL "
        "PLAIN "
        "authentication failed: authentication failure, sasl_username=alice@saslguard.test");
    REQUIRE(with.kind == EventKind::SaslFailure);
    CHECK(with.sasl_method == "PLAIN");
    CHECK(with.client_ip == "127.0.0.1");
    CHECK(with.sasl_username == "alice@saslguard.test");
    auto without = parse_line(
        "Nov 23 09:22:38 mail postfix/smtpd[1]: warning: unknown[2001:db8::bad]: SASL LOGIN "
        "authentication failed: "
        "UGFzc3dvcmQ6");
    REQUIRE(without.kind == EventKind::SaslFailure);
    CHECK(without.sasl_username.empty());
    CHECK(without.client_ip == "2001:db8::bad");
    // The libsasl warning without a client is not a second failure.
    CHECK(
        parse_line(
            "Nov 23 09:22:38 mail postfix/smtpd[1]: warning: SASL authentication failure: Password "
            "verification failed")
            .kind == EventKind::Unsupported);
}

TEST_CASE("rejects carry the SMTP code, and a client port is not taken for the code") {
    auto ev = parse_line(
        "Nov 23 09:22:42 mail mail-in/smtpd[1]: NOQUEUE: reject: CONNECT from "
        "unknown[198.51.100.9]:54321: 554 5.7.1 "
        "<unknown[198.51.100.9]>: Client host rejected: Access denied; proto=SMTP");
    REQUIRE(ev.kind == EventKind::Reject);
    CHECK(ev.queue_id.empty());
    CHECK(ev.reject_stage == "CONNECT");
    CHECK(ev.reject_code == 554);
    CHECK(ev.client_ip == "198.51.100.9");
    CHECK(ev.syslog_name == "mail-in");
}

TEST_CASE("qmgr from= gives size and nrcpt, and expired and removed are recognised") {
    auto from = parse_line(
        "Nov 23 09:22:38 mail postfix/qmgr[1]: 455F2A7253E: from=<alice@saslguard.test>, size=439, "
        "nrcpt=12 (queue "
        "active)");
    REQUIRE(from.kind == EventKind::QmgrFrom);
    CHECK(from.address == "alice@saslguard.test");
    CHECK(from.size == 439);
    CHECK(from.nrcpt == 12);
    auto bounce = parse_line(
        "Nov 23 09:22:38 mail postfix/qmgr[1]: 455F2A7253E: from=<>, size=2298, nrcpt=1 (queue "
        "active)");
    REQUIRE(bounce.kind == EventKind::QmgrFrom);
    CHECK(bounce.address.empty());
    CHECK(parse_line("Nov 23 09:22:41 mail postfix/qmgr[1]: 3F1A2B3C4D: from=<d@x>, "
                     "status=force-expired, returned to "
                     "sender")
              .kind == EventKind::QmgrExpired);
}

TEST_CASE("delivery lines of every agent give status and relay") {
    auto ev = parse_line(
        "Nov 23 09:22:38 mail postfix-out/smtp[1]: 455F2A7253E: to=<r@remote.example>, "
        "orig_to=<o@x>, "
        "relay=mx[192.0.2.1]:25, delay=0.03, delays=0.01/0.02/0/0, dsn=4.4.1, status=deferred "
        "(status=sent in text)");
    REQUIRE(ev.kind == EventKind::Delivery);
    CHECK(ev.program == "smtp");
    CHECK(ev.syslog_name == "postfix-out");
    CHECK(ev.address == "r@remote.example");
    CHECK(ev.relay == "mx[192.0.2.1]:25");
    CHECK(ev.status == DeliveryStatus::Deferred);
    for (const char* agent : {"lmtp", "local", "virtual", "pipe", "error", "discard"}) {
        std::string line = std::string("Nov 23 09:22:38 mail postfix/") + agent +
                           "[1]: 455F2A7253E: to=<r@x>, relay=none, delay=0, delays=0/0/0/0, "
                           "dsn=2.0.0, status=sent (ok)";
        INFO(line);
        auto d = parse_line(line);
        CHECK(d.kind == EventKind::Delivery);
        CHECK(d.status == DeliveryStatus::Sent);
    }
}

TEST_CASE(
    "delivery lines give dsn and reason, and unknown recipients are told from other failures") {
    // Real shapes: Gmail/Postfix 550 5.1.1, Exchange 550 5.5.0 without an enhanced
    // class Postfix keeps (dsn=5.0.0), a blocklisting (5.7.1), a deferral, mailbox full.
    auto unknown = parse_line(
        "Nov 23 09:22:39 mail postfix/smtp[1]: 3F1A2B3C4D: to=<b@remote.example>, "
        "relay=mx.remote.example[192.0.2.10]:25, delay=0.4, delays=0.01/0.01/0.2/0.2, dsn=5.1.1, "
        "status=bounced (host mx.remote.example[192.0.2.10] said: 550 5.1.1 <b@remote.example>: "
        "User unknown (in reply to RCPT TO command))");
    REQUIRE(unknown.kind == EventKind::Delivery);
    CHECK(unknown.dsn == "5.1.1");
    CHECK(unknown.reason.substr(0, 8) == "host mx.");
    CHECK(unknown.reason.back() == ')');  // the inner parenthesis stays, the outer goes
    CHECK(is_unknown_recipient(unknown));

    auto exchange = parse_line(
        "Nov 23 09:22:39 mail postfix/smtp[1]: 3F1A2B3C4E: to=<c@remote.example>, "
        "relay=mx[192.0.2.11]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.0.0, status=bounced (host "
        "mx[192.0.2.11] said: 550 Requested action not taken: mailbox unavailable (in reply to "
        "RCPT TO command))");
    CHECK(exchange.dsn == "5.0.0");
    CHECK(is_unknown_recipient(exchange));

    auto blocked = parse_line(
        "Nov 23 09:22:39 mail postfix/smtp[1]: 3F1A2B3C4F: to=<d@remote.example>, "
        "relay=mx[192.0.2.12]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.7.1, status=bounced (host "
        "mx[192.0.2.12] said: 554 5.7.1 Service unavailable; Client host blocked using "
        "zen.spamhaus.org; user unknown to us (in reply to RCPT TO command))");
    CHECK(blocked.dsn == "5.7.1");
    CHECK_FALSE(is_unknown_recipient(blocked));  // a policy class says why, whatever the text

    auto deferred = parse_line(
        "Nov 23 09:22:39 mail postfix/smtp[1]: 3F1A2B3C50: to=<e@remote.example>, "
        "relay=mx[192.0.2.13]:25, delay=1, delays=0/0/0.5/0.5, dsn=4.1.1, status=deferred (host "
        "mx[192.0.2.13] said: 450 4.1.1 <e@remote.example>: Recipient address rejected: User "
        "unknown in local recipient table (in reply to RCPT TO command))");
    CHECK(deferred.dsn == "4.1.1");
    CHECK_FALSE(is_unknown_recipient(deferred));  // not permanent: it will be retried

    auto full = parse_line(
        "Nov 23 09:22:43 mail postfix/virtual[17003]: 9A0B1C2D3E: to=<frank@saslguard.test>, "
        "relay=virtual, delay=0.01, delays=0/0/0/0, dsn=5.2.2, status=bounced (mailbox full)");
    CHECK(full.reason == "mailbox full");
    CHECK_FALSE(is_unknown_recipient(full));

    auto no_dsn = parse_line(
        "Nov 23 09:22:43 mail postfix/local[1]: 9A0B1C2D3F: to=<x@y>, relay=local, delay=0, "
        "status=bounced (unknown user: \"x\")");
    CHECK(no_dsn.dsn.empty());
    CHECK(is_unknown_recipient(no_dsn));
}

TEST_CASE("garbage, truncated, binary and over-long lines are unsupported, never a crash") {
    CHECK(parse_line("").kind == EventKind::Unsupported);
    CHECK(parse_line("Nov 23 09:22").kind == EventKind::Unsupported);
    CHECK(parse_line(std::string("\0\xff\xfe garbage", 12)).kind == EventKind::Unsupported);
    std::string huge =
        "Nov 23 09:22:38 mail postfix/smtpd[1]: connect from unknown[" + std::string(1 << 20, '1');
    CHECK(parse_line(huge).kind == EventKind::Unsupported);
    std::string long_user =
        "Nov 23 09:22:38 mail postfix/smtpd[1]: ABCDE12345: client=a[1.2.3.4], sasl_method=PLAIN, "
        "sasl_username=" +
        std::string(1 << 20, 'u');
    CHECK(parse_line(long_user).sasl_username.size() == (1u << 20));
    // Every prefix of a real line parses without reading past its end.
    std::string real =
        "2026-11-23T10:22:38.5+01:00 mail postfix/smtps/smtpd[16594]: 3F1A2B3C4D: "
        "client=unknown[2001:db8::25], sasl_method=LOGIN, sasl_username=dave@saslguard.test";
    for (std::size_t n = 0; n <= real.size(); ++n) {
        std::string prefix = real.substr(0, n);  // own allocation: ASan sees overreads
        (void)parse_line(prefix);
    }
}

TEST_CASE("fixtures parse to the event counts in their .expect files") {
    for (const auto& name : log_fixture_names()) {
        INFO(name);
        auto expect = log_fixture_expectations(name);
        auto lines = log_fixture_lines(name);
        REQUIRE(lines.size() == expect.lines);
        std::map<std::string, std::size_t> got;
        for (const auto& l : lines) ++got[std::string(to_string(parse_line(l).kind))];
        for (auto& [kind, n] : expect.events) {
            INFO(kind);
            CHECK(got[kind] == n);
        }
        for (auto& [kind, n] : got) {
            INFO("kind not in .expect: " << kind);
            CHECK(expect.events.count(kind) == 1);
        }
    }
}

TEST_CASE("every parser rule is exercised by the fixtures") {
    // A rule: an event kind, a timestamp format, a line shape, an agent, a status.
    std::set<std::string> seen;
    for (const auto& name : log_fixture_names())
        for (const auto& l : log_fixture_lines(name)) {
            auto ev = parse_line(l);
            if (ev.kind == EventKind::Unsupported) continue;
            seen.insert("kind:" + std::string(to_string(ev.kind)));
            seen.insert("timestamp:" + std::string(to_string(ev.timestamp.format)));
            seen.insert(ev.host.empty() ? "host:absent" : "host:present");
            if (ev.client_ip.find(':') != std::string_view::npos) seen.insert("client:ipv6");
            if (!ev.client_ip.empty() && ev.client_ip.find(':') == std::string_view::npos)
                seen.insert("client:ipv4");
            if (ev.kind == EventKind::Delivery) {
                seen.insert("agent:" + std::string(ev.program));
                seen.insert("status:" + std::string(to_string(ev.status)));
            }
            if (ev.kind == EventKind::SaslFailure)
                seen.insert(ev.sasl_username.empty() ? "failure:no-user" : "failure:user");
            if (ev.kind == EventKind::Reject)
                seen.insert(ev.queue_id.empty() ? "reject:noqueue" : "reject:queue-id");
            if (l[0] == '<') seen.insert("syslog:pri");
            if (ev.syslog_name.find('/') != std::string_view::npos)
                seen.insert("syslog_name:service");
            if (ev.syslog_name != "postfix" && ev.syslog_name.find('/') == std::string_view::npos)
                seen.insert("syslog_name:custom");
        }
    std::vector<std::string> rules = {
        "timestamp:rfc3164", "timestamp:rfc3339",   "host:absent",       "host:present",
        "client:ipv4",       "client:ipv6",         "agent:smtp",        "agent:lmtp",
        "agent:local",       "agent:virtual",       "agent:pipe",        "agent:error",
        "agent:discard",     "status:sent",         "status:deferred",   "status:bounced",
        "failure:no-user",   "failure:user",        "reject:noqueue",    "reject:queue-id",
        "syslog:pri",        "syslog_name:service", "syslog_name:custom"};
    for (int k = 1; k < static_cast<int>(EventKind::Count_); ++k)
        rules.push_back("kind:" + std::string(to_string(static_cast<EventKind>(k))));
    for (const auto& r : rules) {
        INFO("no fixture line exercises parser rule " << r);
        CHECK(seen.count(r) == 1);
    }
}
