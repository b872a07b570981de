// The journal source (exporter/src/journal_source.cpp) on real journal files:
// entries are written in journald's export format and turned into .journal
// files by systemd-journal-remote (the format carries the trusted fields such
// as _SYSTEMD_UNIT and _UID exactly as journald would have set them), then read
// through sd-journal. The forged entry is what `logger -t
// postfix/submission/smtpd` from a local user produces: the Postfix tag, but
// the user's session scope as its unit.
#include "journal_source.hpp"

#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <thread>

#include "saslguard/common/subprocess.hpp"
#include "test_support.hpp"

using namespace saslguard::exporter;
using saslguard::test::TempDir;

namespace {

const char* kJournalRemote = "/lib/systemd/systemd-journal-remote";

struct Entry {
    std::string unit, identifier, message;
    std::string uid = "0";
};

// Writes `entries` as one .journal file named `name` in dir (timestamps 1 s apart
// from `t0`, in microseconds).
void write_journal(const TempDir& dir, const std::string& name, const std::vector<Entry>& entries,
                   std::uint64_t t0 = 1764475200000000ULL) {
    std::string text;
    std::uint64_t t = t0;
    for (const auto& e : entries) {
        text += "__REALTIME_TIMESTAMP=" + std::to_string(t) + "\n";
        text += "__MONOTONIC_TIMESTAMP=" + std::to_string(t - t0 + 1) + "\n";
        text += "_BOOT_ID=5b1ef35e1f5d4fd6a1a6b5d2c6a8c0e1\n";
        text += "_SYSTEMD_UNIT=" + e.unit + "\n_PID=4242\n_UID=" + e.uid + "\n_HOSTNAME=mail\n";
        text += "SYSLOG_IDENTIFIER=" + e.identifier + "\nMESSAGE=" + e.message + "\n\n";
        t += 1000000;
    }
    auto export_file = dir.write(name + ".export", text);
    auto r =
        saslguard::run_process({kJournalRemote, "-o", dir.path(name + ".journal"), export_file});
    INFO(r.describe() << " " << r.err);
    REQUIRE(r.success());
}

struct Sink : LineConsumer {
    std::mutex mu;
    std::vector<std::string> lines;
    void line(std::string_view l) override {
        std::lock_guard lock(mu);
        lines.emplace_back(l);
    }
    void dropped_line() override {}
    void rotated() override {}
    bool has(const std::string& needle) {
        std::lock_guard lock(mu);
        for (const auto& l : lines)
            if (l.find(needle) != std::string::npos) return true;
        return false;
    }
    std::vector<std::string> copy() {
        std::lock_guard lock(mu);
        return lines;
    }
};

const std::string kReal =
    "4Xq1a2B3c4: client=unknown[203.0.113.5], sasl_method=PLAIN, sasl_username=alice@example.org";
const std::string kForged =
    "4Fk9Zz8Yy7: client=unknown[198.51.100.7], sasl_method=PLAIN, sasl_username=victim@example.org";

}  // namespace

TEST_CASE("a journal entry becomes the syslog-style line the parser reads") {
    JournalEntry e{1764475200123456ULL, "mail", "postfix/submission/smtpd", "4242", kReal};
    CHECK(journal_line(e) ==
          "2025-11-30T04:00:00.123456+00:00 mail postfix/submission/smtpd[4242]: " + kReal);
    e.message = "two\nlines";
    CHECK(journal_line(e)->find(": two lines") != std::string::npos);
    e.identifier = "systemd";
    CHECK_FALSE(journal_line(e));
    e.identifier = "postfix/qmgr";
    e.message.clear();
    CHECK_FALSE(journal_line(e));
    CHECK(split_units("postfix.service,,postfix@-.service") ==
          std::vector<std::string>{"postfix.service", "postfix@-.service"});
}

TEST_CASE("only Postfix's units are read: a local user's forged Postfix tag is not") {
    TempDir dir;
    std::vector<Entry> entries{
        {"postfix@-.service", "postfix/submission/smtpd", kReal},
        {"session-3.scope", "postfix/submission/smtpd", kForged, "1000"},  // logger -t ...
        {"user@1000.service", "postfix/submission/smtpd", kForged, "1000"},
        {"postfix@-.service", "postfix/qmgr",
         "4Xq1a2B3c4: from=<alice@example.org>, size=420, nrcpt=1 (queue active)"},
    };
    write_journal(dir, "system", entries);
    Sink sink;
    std::atomic<bool> stop{false};
    std::string error;
    std::thread t([&] {
        error = follow_journal({{"postfix.service", "postfix@-.service"}, dir.root(), true}, sink,
                               stop);
    });
    bool done = saslguard::test::wait_until([&] { return sink.has("(queue active)"); },
                                            std::chrono::seconds(60));
    stop = true;
    t.join();
    REQUIRE(error.empty());
    REQUIRE(done);
    auto lines = sink.copy();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].find("postfix/submission/smtpd[4242]: " + kReal) != std::string::npos);
    CHECK_FALSE(sink.has("victim@example.org"));
}

TEST_CASE("without --log.from-start only new entries are read, as they arrive") {
    TempDir dir;
    write_journal(dir, "old", {{"postfix@-.service", "postfix/submission/smtpd", kReal}});
    Sink sink;
    std::atomic<bool> stop{false};
    std::string error;
    std::thread t([&] {
        error = follow_journal({{"postfix@-.service"}, dir.root(), false}, sink, stop);
    });
    // A new journal file every second until one is seen: the reader may open the
    // journal after the first ones appeared (a loaded machine), never before.
    bool seen = false;
    for (int i = 0; i < 60 && !seen; ++i) {
        write_journal(dir, "new" + std::to_string(i),
                      {{"postfix@-.service", "postfix/smtpd",
                        "connect from live" + std::to_string(i) + "[192.0.2.1]"}},
                      1764475300000000ULL + i * 1000000ULL);
        seen = saslguard::test::wait_until([&] { return sink.has("connect from live"); },
                                           std::chrono::seconds(1));
    }
    stop = true;
    t.join();
    REQUIRE(error.empty());
    CHECK(seen);
    CHECK_FALSE(sink.has("alice@example.org"));  // the old entry is not replayed
}

TEST_CASE("a journal directory that cannot be opened is a clear error, not a hang") {
    Sink sink;
    std::atomic<bool> stop{false};
    auto error = follow_journal({{"postfix@-.service"}, "/nonexistent/journal", false}, sink, stop);
    CHECK(error.find("cannot open the journal in /nonexistent/journal") != std::string::npos);
}
