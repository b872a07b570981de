// Tests for the log file tailer (exporter/src/file_tailer.cpp) and the line
// splitter. Each test drives the tailer with explicit poll() calls: no sleeps.
#include "file_tailer.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
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

void append(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::app | std::ios::binary);
    out << s;
}

using Lines = std::vector<std::string>;

// One tailer on DIR/mail.log. `initial` (when not null) creates the file first;
// the constructor polls once, so the tailer has opened what exists.
struct Tailing {
    saslguard::test::TempDir dir{"saslguard-tailer"};
    fs::path log = fs::path(dir.root()) / "mail.log";
    fs::path rotated = fs::path(dir.root()) / "mail.log.1";
    Collector c;
    FileTailer t;
    explicit Tailing(const char* initial = "", bool from_start = false, int grace = 0)
        : t(prepare(log, initial), from_start, c, grace) {
        t.poll();
    }
    static std::string prepare(const fs::path& log, const char* initial) {
        if (initial) append(log, initial);
        return log.string();
    }
    // Appends to the followed path, polls, returns the lines delivered.
    Lines write_and_poll(const std::string& s) {
        append(log, s);
        t.poll();
        return c.take();
    }
};

}  // namespace

TEST_CASE("by default the tailer starts at the end of an existing file") {
    Tailing f("old 1\nold 2\n");
    CHECK(f.c.take().empty());
    CHECK(f.write_and_poll("new 1\n") == Lines{"new 1"});
}

TEST_CASE("with --log.from-start the existing file is read from its beginning") {
    Tailing f("old 1\nold 2\n", /*from_start=*/true);
    CHECK(f.c.take() == Lines{"old 1", "old 2"});
}

TEST_CASE("a file that does not exist yet is waited for and read from its beginning") {
    Tailing f(nullptr);
    CHECK_FALSE(f.t.is_open());
    CHECK(f.write_and_poll("first\nsecond\n") == Lines{"first", "second"});
}

TEST_CASE("a partial last line is held until its newline arrives") {
    Tailing f;
    CHECK(f.write_and_poll("complete\nhalf") == Lines{"complete"});
    CHECK(f.write_and_poll(" and the rest\n") == Lines{"half and the rest"});
}

TEST_CASE("rename rotation: the old file is read to its end before the new one") {
    Tailing f;
    CHECK(f.write_and_poll("a1\n") == Lines{"a1"});
    // The writer still appends to the renamed file before it reopens, and leaves
    // a last line without its newline.
    fs::rename(f.log, f.rotated);
    append(f.rotated, "a2\na3-unterminated");
    CHECK(f.write_and_poll("b1\n") == Lines{"a2", "a3-unterminated", "b1"});
    CHECK(f.c.rotations == 1);
    CHECK(f.t.rotations() == 1);
    CHECK(f.write_and_poll("b2\n") == Lines{"b2"});
}

TEST_CASE("rename rotation with a grace period keeps draining the old file") {
    Tailing f("", false, /*grace=*/2);
    fs::rename(f.log, f.rotated);
    CHECK(f.write_and_poll("new1\n") == Lines{"new1"});
    append(f.rotated, "late-old\n");  // a writer that reopens late
    f.t.poll();
    CHECK(f.c.take() == Lines{"late-old"});
}

TEST_CASE("while the path names nothing after a rename, the old file keeps being read") {
    Tailing f;
    fs::rename(f.log, f.rotated);
    append(f.rotated, "still old\n");
    f.t.poll();
    CHECK(f.c.take() == Lines{"still old"});
    CHECK(f.write_and_poll("new\n") == Lines{"new"});
    CHECK(f.c.rotations == 1);
}

TEST_CASE("copytruncate: the truncated file is read again from offset 0, nothing twice") {
    Tailing f;
    CHECK(f.write_and_poll("x1\nx2\npartial") == Lines{"x1", "x2"});
    fs::copy_file(f.log, f.rotated);
    REQUIRE(truncate(f.log.c_str(), 0) == 0);
    CHECK(f.write_and_poll("y1\n") == Lines{"y1"});
    CHECK(f.c.rotations == 1);
    CHECK(f.write_and_poll("y2\n") == Lines{"y2"});
}

TEST_CASE("over-long lines are dropped whole and reported, the next line is intact") {
    Collector c;
    LineSplitter s(16);
    std::string input = "short\n" + std::string(40, 'x') + "\nafter\n";
    // Feed in small pieces so the long line spans several reads.
    for (std::size_t i = 0; i < input.size(); i += 7)
        s.feed(input.data() + i, std::min<std::size_t>(7, input.size() - i), c);
    CHECK(c.take() == Lines{"short", "after"});
    CHECK(c.dropped == 1);
    std::string one_read = std::string(1 << 20, 'y') + "\nok\n";
    s.feed(one_read.data(), one_read.size(), c);
    CHECK(c.take() == Lines{"ok"});
    CHECK(c.dropped == 2);
}
