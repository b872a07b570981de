// Tests for the showq reader (postfix/src/showq.cpp) on real captures
// from a private Postfix 3.7 (tests/fixtures/showq/README.md says how each was
// made and what it holds).
#include "saslguard/postfix/showq.hpp"

#include "fake_showq.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>
#include <map>

using saslguard::postfix::QueuedMessage;
using saslguard::postfix::read_showq;
using saslguard::postfix::ShowqOptions;
using saslguard::postfix::ShowqParser;
using saslguard::test::showq_fixture;
using namespace std::chrono_literals;

namespace {

struct Parsed {
    std::vector<QueuedMessage> messages;
    std::string feed_error;    // empty when every feed() succeeded
    std::string finish_error;  // empty when finish() succeeded
};

Parsed parse(const std::string& bytes, std::size_t chunk = 4096, ShowqOptions options = {}) {
    Parsed out;
    ShowqParser parser([&](const QueuedMessage& m) { out.messages.push_back(m); }, options);
    for (std::size_t i = 0; i < bytes.size(); i += chunk) {
        auto r = parser.feed(std::string_view(bytes).substr(i, chunk));
        if (!r) {
            out.feed_error = r.error().message;
            break;
        }
    }
    if (auto r = parser.finish(); !r) out.finish_error = r.error().message;
    return out;
}

std::map<std::string, int> by_queue(const std::vector<QueuedMessage>& messages) {
    std::map<std::string, int> n;
    for (const auto& m : messages) ++n[m.queue_name];
    return n;
}

const QueuedMessage& find_id(const std::vector<QueuedMessage>& messages, const std::string& id) {
    for (const auto& m : messages)
        if (m.queue_id == id) return m;
    FAIL("no message " << id);
    throw;
}

// The greeting and end marker as Postfix 3.7 sends them, to build small inputs.
const std::string kGreeting("protocol\0mail_queue_list_protocol\0\0", 35);
std::string attr(const std::string& name, const std::string& value) {
    return name + '\0' + value + '\0';
}
std::string message(const std::string& id, const std::string& sender,
                    const std::string& time = "1700000000") {
    return attr("queue_name", "deferred") + attr("queue_id", id) + attr("time", time) +
           attr("size", "100") + attr("forced_expire", "0") + attr("sender", sender) +
           attr("recipient", "r@example.org") + attr("reason", "") + std::string(1, '\0');
}
const std::string kEnd(1, '\0');

}  // namespace

TEST_CASE("an empty queue is a greeting and an end marker") {
    auto p = parse(showq_fixture("empty.showq"));
    CHECK(p.feed_error.empty());
    CHECK(p.finish_error.empty());
    CHECK(p.messages.empty());
}

TEST_CASE("a real listing yields every message with its queue, sender, size and recipients") {
    auto p = parse(showq_fixture("mixed.showq"));
    REQUIRE(p.feed_error.empty());
    REQUIRE(p.finish_error.empty());
    REQUIRE(p.messages.size() == 11);
    CHECK(by_queue(p.messages) ==
          std::map<std::string, int>{{"deferred", 8}, {"hold", 1}, {"maildrop", 2}});

    const auto& bob = find_id(p.messages, "4BB38A72244");
    CHECK(bob.queue_name == "deferred");
    CHECK(bob.sender == "bob@saslguard.test");
    CHECK(bob.size == 3408);
    CHECK(bob.arrival_time == 1795425488);
    CHECK(bob.recipients == std::vector<std::string>{"r2@other.example", "r1@remote.example"});
    CHECK_FALSE(bob.forced_expire);

    CHECK(find_id(p.messages, "3EBFFA721DF").queue_name == "hold");
    CHECK(find_id(p.messages, "3360CA721DB").forced_expire);
    CHECK(find_id(p.messages, "69272A7226F").sender == "MAILER-DAEMON");  // null sender <>
    CHECK(find_id(p.messages, "62A47A72251").sender ==
          "\"caf????\"@saslguard.test");  // 8-bit bytes, as showq prints them
    CHECK(find_id(p.messages, "805FCA72272").queue_name == "maildrop");
}

TEST_CASE("the result does not depend on how the stream is split into chunks") {
    const auto bytes = showq_fixture("mixed.showq");
    auto whole = parse(bytes, bytes.size());
    for (std::size_t chunk : {1, 2, 3, 7, 35, 36, 1000}) {
        auto p = parse(bytes, chunk);
        INFO("chunk " << chunk);
        REQUIRE(p.finish_error.empty());
        REQUIRE(p.messages.size() == whole.messages.size());
        for (std::size_t i = 0; i < p.messages.size(); ++i) {
            CHECK(p.messages[i].queue_id == whole.messages[i].queue_id);
            CHECK(p.messages[i].sender == whole.messages[i].sender);
            CHECK(p.messages[i].recipients == whole.messages[i].recipients);
        }
    }
}

TEST_CASE("an answer cut mid-record is an error after the complete messages") {
    auto p = parse(showq_fixture("truncated.showq"));
    CHECK(p.feed_error.empty());
    CHECK(p.messages.size() == 5);
    CHECK_THAT(p.finish_error,
               Catch::Contains("cut after 5 messages") && Catch::Contains("mid-record"));
}

TEST_CASE("an answer cut between records or before the greeting is an error") {
    CHECK_THAT(parse(kGreeting + message("A1", "a@x")).finish_error,
               Catch::Contains("between records"));
    CHECK_THAT(parse(kGreeting.substr(0, 10)).finish_error, Catch::Contains("before the greeting"));
    CHECK_THAT(parse("").finish_error, Catch::Contains("before the greeting"));
}

TEST_CASE("recipients are skipped when the caller does not keep them") {
    ShowqOptions options;
    options.keep_recipients = false;
    auto p = parse(showq_fixture("mixed.showq"), 4096, options);
    REQUIRE(p.messages.size() == 11);
    for (const auto& m : p.messages) CHECK(m.recipients.empty());
}

TEST_CASE("a listing without the greeting (Postfix before 3.4) is read") {
    auto p = parse(message("A1", "a@x") + message("A2", "b@x") + kEnd);
    CHECK(p.finish_error.empty());
    CHECK(p.messages.size() == 2);
}

TEST_CASE("protocol violations are errors, and the parser stays failed") {
    CHECK_THAT(parse(attr("protocol", "something_else") + kEnd).feed_error,
               Catch::Contains("not the showq service"));
    CHECK_THAT(parse(kGreeting + message("A1", "a@x", "12x") + kEnd).feed_error,
               Catch::Contains("not a number"));
    CHECK_THAT(parse(kGreeting + message("A1", "a@x", "") + kEnd).feed_error,
               Catch::Contains("not a number"));
    CHECK_THAT(parse(kGreeting + message("A1", "a@x", "-5") + kEnd).feed_error,
               Catch::Contains("not a number"));
    CHECK_THAT(parse(kGreeting + attr("queue_id", "A1") + kEnd).feed_error,
               Catch::Contains("not queue_name"));
    CHECK_THAT(
        parse(kGreeting + attr("queue_name", "hold") + attr("recipient", "r@x") + kEnd).feed_error,
        Catch::Contains("recipient before sender"));
    CHECK_THAT(parse(kGreeting + attr("queue_name", "hold") + attr("sender", "a@x") + kEnd + kEnd)
                   .feed_error,
               Catch::Contains("without queue_name, queue_id"));
    CHECK_THAT(parse(kGreeting + kEnd + "x").feed_error, Catch::Contains("after the end"));
    CHECK_THAT(
        parse(kGreeting + attr("queue_name", "hold") + attr("queue_name", "hold")).feed_error,
        Catch::Contains("duplicate"));

    // Postfix 2.x speaks text: no NUL for a long while.
    ShowqOptions small;
    small.max_field_bytes = 100;
    CHECK_THAT(parse(std::string(200, 'x'), 4096, small).feed_error,
               Catch::Contains("longer than 100 bytes"));

    ShowqParser parser(nullptr);
    CHECK_FALSE(parser.feed(attr("protocol", "nope")));
    CHECK_FALSE(parser.feed(kEnd));
    CHECK_FALSE(parser.finish());
}

TEST_CASE("unknown attributes inside a message are skipped") {
    auto p =
        parse(kGreeting + attr("queue_name", "hold") + attr("queue_id", "B1") + attr("time", "1") +
              attr("size", "2") + attr("sender", "s@x") + attr("future_field", "?") + kEnd + kEnd);
    REQUIRE(p.finish_error.empty());
    REQUIRE(p.messages.size() == 1);
    CHECK(p.messages[0].queue_id == "B1");
}

TEST_CASE("too many recipients are dropped, not an error") {
    ShowqOptions options;
    options.max_recipients = 2;
    std::string m = attr("queue_name", "active") + attr("queue_id", "C1") + attr("time", "1") +
                    attr("size", "2") + attr("sender", "s@x");
    for (int i = 0; i < 5; ++i)
        m += attr("recipient", "r" + std::to_string(i) + "@x") + attr("reason", "");
    auto p = parse(kGreeting + m + kEnd + kEnd, 4096, options);
    REQUIRE(p.messages.size() == 1);
    CHECK(p.messages[0].recipients == std::vector<std::string>{"r0@x", "r1@x"});
}

// ---- read_showq against a socket ----

TEST_CASE("read_showq streams every message from the socket") {
    saslguard::test::FakeShowq server(showq_fixture("mixed.showq"), false);
    std::vector<std::string> ids;
    auto n = read_showq(
        server.path(), [&](const QueuedMessage& m) { ids.push_back(m.queue_id); }, 2000ms);
    REQUIRE(n.ok());
    CHECK(*n == 11);
    CHECK(ids.size() == 11);
}

TEST_CASE("read_showq stops at the end marker even if the peer keeps the socket open") {
    saslguard::test::FakeShowq server(showq_fixture("mixed.showq"), true);
    auto n = read_showq(server.path(), nullptr, 2000ms);
    REQUIRE(n.ok());
    CHECK(*n == 11);
}

TEST_CASE("read_showq reports a missing socket, with its path") {
    auto n = read_showq("/nonexistent/public/showq", nullptr, 500ms);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message,
               Catch::Contains("/nonexistent/public/showq") && Catch::Contains("connect"));
}

TEST_CASE("read_showq reports a socket nobody listens on (Postfix stopped)") {
    char tmpl[] = "/tmp/saslguard-showq-test-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string path = dir + "/showq";
    ::close(
        saslguard::test::bind_unix_socket(path));  // the socket file stays, as after `postfix stop`
    auto n = read_showq(path, nullptr, 500ms);
    ::unlink(path.c_str());
    ::rmdir(dir.c_str());
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message, Catch::Contains("Connection refused"));
}

TEST_CASE("read_showq reports an answer cut mid-record") {
    saslguard::test::FakeShowq server(showq_fixture("truncated.showq"), false);
    int seen = 0;
    auto n = read_showq(
        server.path(), [&](const QueuedMessage&) { ++seen; }, 2000ms);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message, Catch::Contains("cut after 5 messages"));
    CHECK(seen == 5);
}

TEST_CASE("read_showq gives up at the deadline when showq stalls mid-answer") {
    saslguard::test::FakeShowq server(showq_fixture("truncated.showq"), true);
    const auto start = std::chrono::steady_clock::now();
    auto n = read_showq(server.path(), nullptr, 300ms);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message, Catch::Contains("timed out after 300 ms"));
    CHECK(took >= 250ms);
    CHECK(took < 2s);
}

TEST_CASE("read_showq gives up at the deadline when showq dribbles bytes without ever going idle") {
    saslguard::test::FakeShowq server(showq_fixture("mixed.showq"), false, 5ms);
    const auto start = std::chrono::steady_clock::now();
    auto n = read_showq(server.path(), nullptr, 300ms);
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message, Catch::Contains("timed out after 300 ms"));
    CHECK(took < 1s);
}

TEST_CASE("read_showq stops soon after its cancel flag is set, well before the deadline") {
    saslguard::test::FakeShowq server(showq_fixture("truncated.showq"), true);
    std::atomic<bool> cancel{false};
    ShowqOptions options;
    options.cancel = &cancel;
    std::thread canceller([&] {
        std::this_thread::sleep_for(100ms);
        cancel = true;
    });
    const auto start = std::chrono::steady_clock::now();
    auto n = read_showq(server.path(), nullptr, 10s, options);
    const auto took = std::chrono::steady_clock::now() - start;
    canceller.join();
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error().message, Catch::Contains("cancelled"));
    CHECK(took < 1s);
}

TEST_CASE(
    "every proper prefix of a real listing is reported as incomplete, never as a shorter queue") {
    const auto bytes = showq_fixture("mixed.showq");
    for (std::size_t len = 0; len < bytes.size(); ++len) {
        auto p = parse(bytes.substr(0, len), 97);
        INFO("prefix of " << len << " bytes");
        REQUIRE(p.feed_error.empty());
        REQUIRE_FALSE(p.finish_error.empty());
        REQUIRE(p.messages.size() <= 11);
    }
}

TEST_CASE("corrupted bytes give an error or a listing, never a crash") {
    const auto bytes = showq_fixture("mixed.showq");
    std::uint32_t seed = 12345;
    auto next = [&] { return seed = seed * 1664525u + 1013904223u; };
    int errors = 0;
    for (int i = 0; i < 2000; ++i) {
        std::string b = bytes;
        for (int k = 0; k < 3; ++k)
            b[next() % b.size()] = static_cast<char>(next() % 4 == 0 ? '\0' : next() & 0xff);
        auto p = parse(b, 1 + next() % 512);
        if (!p.feed_error.empty() || !p.finish_error.empty()) ++errors;
        CHECK(p.messages.size() <= 12);
    }
    CHECK(errors > 0);
}
