// Tests for the log file tailer (exporter/src/file_tailer.cpp) and the line
// splitter. Each test drives the tailer with explicit poll() calls: no sleeps.
#include "file_tailer.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace saslguard::exporter;
namespace fs = std::filesystem;

namespace {

struct Collector : LineConsumer {
    std::vector<std::string> lines;
    int dropped = 0;
    int rotations = 0;
    void line(std::string_view l) override { lines.emplace_back(l); }
    void dropped_line() override { ++dropped; }
    void rotated() override { ++rotations; }
    std::vector<std::string> take() { return std::exchange(lines, {}); }
};

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/saslguard-tailer-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { fs::remove_all(path); }
};

void append(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::app | std::ios::binary);
    out << s;
}

using Lines = std::vector<std::string>;

}  // namespace

TEST_CASE("by default the tailer starts at the end of an existing file") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "old 1\nold 2\n");
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    CHECK(c.take().empty());
    append(log, "new 1\n");
    t.poll();
    CHECK(c.take() == Lines{"new 1"});
}

TEST_CASE("--log.from-start reads the existing file from its beginning") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "old 1\nold 2\n");
    Collector c;
    FileTailer t(log.string(), true, c);
    t.poll();
    CHECK(c.take() == Lines{"old 1", "old 2"});
}

TEST_CASE("a file that does not exist yet is waited for and read from its beginning") {
    TempDir d;
    auto log = d.path / "mail.log";
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    CHECK_FALSE(t.is_open());
    append(log, "first\nsecond\n");
    t.poll();
    CHECK(c.take() == Lines{"first", "second"});
}

TEST_CASE("a partial last line is held until its newline arrives") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "");
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    append(log, "complete\nhalf");
    t.poll();
    CHECK(c.take() == Lines{"complete"});
    append(log, " and the rest\n");
    t.poll();
    CHECK(c.take() == Lines{"half and the rest"});
}

TEST_CASE("rename rotation: the old file is read to its end before the new one") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "");
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    append(log, "a1\n");
    t.poll();
    // The writer still appends to the renamed file before it reopens, and leaves
    // a last line without its newline.
    fs::rename(log, d.path / "mail.log.1");
    append(d.path / "mail.log.1", "a2\na3-unterminated");
    append(log, "b1\n");
    t.poll();
    CHECK(c.take() == Lines{"a1", "a2", "a3-unterminated", "b1"});
    CHECK(c.rotations == 1);
    CHECK(t.rotations() == 1);
    append(log, "b2\n");
    t.poll();
    CHECK(c.take() == Lines{"b2"});
}

TEST_CASE("rename rotation with a grace period keeps draining the old file") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "");
    Collector c;
    FileTailer t(log.string(), false, c, /*rotate_grace_polls=*/2);
    t.poll();
    fs::rename(log, d.path / "mail.log.1");
    append(log, "new1\n");
    t.poll();
    append(d.path / "mail.log.1", "late-old\n");  // a writer that reopens late
    t.poll();
    CHECK(c.take() == Lines{"new1", "late-old"});
}

TEST_CASE("while the path names nothing after a rename, the old file keeps being read") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "");
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    fs::rename(log, d.path / "mail.log.1");
    append(d.path / "mail.log.1", "still old\n");
    t.poll();
    CHECK(c.take() == Lines{"still old"});
    append(log, "new\n");
    t.poll();
    CHECK(c.take() == Lines{"new"});
    CHECK(c.rotations == 1);
}

TEST_CASE("copytruncate: the truncated file is read again from offset 0, nothing twice") {
    TempDir d;
    auto log = d.path / "mail.log";
    append(log, "");
    Collector c;
    FileTailer t(log.string(), false, c);
    t.poll();
    append(log, "x1\nx2\npartial");
    t.poll();
    CHECK(c.take() == Lines{"x1", "x2"});
    fs::copy_file(log, d.path / "mail.log.1");
    REQUIRE(truncate(log.c_str(), 0) == 0);
    append(log, "y1\n");
    t.poll();
    CHECK(c.take() == Lines{"y1"});
    CHECK(c.rotations == 1);
    append(log, "y2\n");
    t.poll();
    CHECK(c.take() == Lines{"y2"});
}

TEST_CASE("over-long lines are dropped whole and reported, the next line is intact") {
    Collector c;
    LineSplitter s(16);
    std::string input = "short\n" + std::string(40, 'x') + "\nafter\n";
    // Feed in small pieces so the long line spans several reads.
    for (std::size_t i = 0; i < input.size(); i += 7) s.feed(input.data() + i, std::min<std::size_t>(7, input.size() - i), c);
    CHECK(c.take() == Lines{"short", "after"});
    CHECK(c.dropped == 1);
    std::string one_read = std::string(1 << 20, 'y') + "\nok\n";
    s.feed(one_read.data(), one_read.size(), c);
    CHECK(c.take() == Lines{"ok"});
    CHECK(c.dropped == 2);
}
