#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include "saslguard/common/files.hpp"
#include "saslguard/common/subprocess.hpp"
#include "test_support.hpp"

using namespace saslguard;

TEST_CASE("a command's exit status, stdout and stderr are captured") {
    auto r = run_process({"sh", "-c", "echo out; echo err >&2; exit 3"});
    REQUIRE(r.started);
    CHECK(r.exit_code == 3);
    CHECK(r.out == "out\n");
    CHECK(r.err == "err\n");
    CHECK_FALSE(r.success());
    CHECK(r.describe() == "exit 3: err");
}

TEST_CASE("arguments reach the child verbatim, never through a shell") {
    std::string hostile = "a; touch /tmp/saslguard-pwned $(id) `id` 'q\" \n-x";
    auto r = run_process({"printf", "%s", hostile});
    REQUIRE(r.success());
    CHECK(r.out == hostile);
}

TEST_CASE("stdin data is fed to the child") {
    ProcessOptions o;
    o.stdin_data = std::string(300000, 'x');  // larger than a pipe buffer
    auto r = run_process({"wc", "-c"}, o);
    REQUIRE(r.success());
    CHECK(r.out.find("300000") != std::string::npos);
}

TEST_CASE("a command that runs past its timeout is killed") {
    ProcessOptions o;
    o.timeout = std::chrono::milliseconds(200);
    auto t0 = std::chrono::steady_clock::now();
    auto r = run_process({"sleep", "10"}, o);
    auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.timed_out);
    CHECK_FALSE(r.success());
    CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("a missing program is a spawn failure, not a crash") {
    auto r = run_process({"/nonexistent/saslguard-no-such-program"});
    CHECK_FALSE(r.started);
    CHECK_FALSE(r.error.empty());
    CHECK_FALSE(run_process({}).started);
}

TEST_CASE("output beyond the cap is dropped and flagged") {
    ProcessOptions o;
    o.max_output = 1000;
    auto r = run_process({"head", "-c", "100000", "/dev/zero"}, o);
    CHECK(r.out.size() == 1000);
    CHECK(r.output_truncated);
}

TEST_CASE("a long-running child's output is read from a pipe and stop() ends its process group") {
    auto child = ChildProcess::spawn({"sh", "-c", "echo ready; sleep 30 & wait"},
                                     {ChildOptions::Output::Pipe, "", true, {}});
    REQUIRE(child.ok());
    char buf[16] = {};
    auto n = ::read(child->stdout_fd(), buf, sizeof buf - 1);
    CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0) == "ready\n");
    CHECK(child->running());
    int status = child->stop();
    CHECK(WIFSIGNALED(status));
    CHECK_FALSE(child->running());
}

TEST_CASE("a child's output can go to a file, and a missing program is an error") {
    saslguard::test::TempDir dir;
    {
        auto child = ChildProcess::spawn({"sh", "-c", "echo to-file; echo err >&2"},
                                         {ChildOptions::Output::File, dir.path("log"), true, {}});
        REQUIRE(child.ok());
        CHECK(saslguard::test::wait_until([&] { return !child->running(); }));
    }
    auto text = saslguard::files::read_all(dir.path("log"));
    REQUIRE(text.ok());
    CHECK(*text == "to-file\nerr\n");
    CHECK_FALSE(ChildProcess::spawn({"/nonexistent/saslguard-no-such-program"}).ok());
}
