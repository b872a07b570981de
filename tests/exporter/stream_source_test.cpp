// Tests for the stream sources (exporter/src/stream_source.cpp): the journal
// reader runs journalctl (here a stand-in script first in PATH) and restarts it
// when it exits.
#include "stream_source.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace saslguard::exporter;
namespace fs = std::filesystem;

TEST_CASE("the journal is read with journalctl in RFC 3339 format, one --unit per unit") {
    auto argv = journalctl_argv("postfix.service,postfix@-.service");
    CHECK(argv == std::vector<std::string>{"journalctl", "--follow", "--no-pager", "--lines=0",
                                           "--output=short-iso-precise", "--unit=postfix.service",
                                           "--unit=postfix@-.service"});
}

TEST_CASE("journalctl is restarted when it exits, and its lines reach the consumer") {
    char tmpl[] = "/tmp/saslguard-journal-XXXXXX";
    fs::path dir = mkdtemp(tmpl);
    {
        std::ofstream script(dir / "journalctl");
        script << "#!/bin/sh\nprintf '2026-11-23T09:00:00.000001+0000 mail postfix/smtpd[1]: "
                  "connect from a[192.0.2.1]\\n'\n"
                  "printf 'unterminated'\n";
    }
    fs::permissions(dir / "journalctl", fs::perms::owner_all);
    std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", (dir.string() + ":" + old_path).c_str(), 1);

    struct Sink : LineConsumer {
        std::vector<std::string> lines;
        std::atomic<bool>* stop = nullptr;
        void line(std::string_view l) override {
            lines.emplace_back(l);
            if (lines.size() == 4) *stop = true;  // two runs of the child
        }
        void dropped_line() override {}
        void rotated() override {}
    } sink;
    std::atomic<bool> stop{false};
    sink.stop = &stop;
    std::thread t([&] { follow_journal("postfix.service", sink, stop); });
    t.join();
    setenv("PATH", old_path.c_str(), 1);
    fs::remove_all(dir);
    REQUIRE(sink.lines.size() == 4);
    CHECK(sink.lines[0].find("connect from a[192.0.2.1]") != std::string::npos);
    CHECK(sink.lines[1] == "unterminated");
    CHECK(sink.lines[2] == sink.lines[0]);
}
