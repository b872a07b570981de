#include <catch2/catch.hpp>

#include "saslguard/common/subprocess.hpp"

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
