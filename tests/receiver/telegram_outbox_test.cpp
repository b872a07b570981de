// The outbox and the poller against a STUB Bot API (tests/stubs/telegram_stub.hpp)
// for what the emulator cannot do: 429 retry_after, 500, 401, a hanging
// connection, an update delivered again. The clock is injected, so delays are
// asserted exactly and nothing sleeps.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../stubs/telegram_stub.hpp"
#include "saslguard/receiver/telegram/outbox.hpp"
#include "telegram_test_support.hpp"

using namespace tgtest;
using tgstub::Answer;
using tgstub::TelegramStub;

namespace {

struct OutboxRig {
    TempDir dir;
    TelegramStub stub;
    std::int64_t clock = 1'000'000;
    TelegramStats stats;
    std::unique_ptr<TestStore> state;
    TelegramRepository* store = nullptr;
    std::unique_ptr<BotApi> api;
    std::unique_ptr<OutboxSender> sender;

    explicit OutboxRig(OutboxOptions o = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
        state = std::make_unique<TestStore>(dir.path("state.db"));
        store = &**state;
        api = std::make_unique<BotApi>(stub.url(), "42:SECRET", timeout);
        sender = std::make_unique<OutboxSender>(*store, *api, stats, o, [this] { return clock; });
    }
    std::int64_t enqueue(const std::string& text, std::int64_t incident = 0) {
        auto id = store->enqueue(1001, "sendMessage", R"({"chat_id":1001,"text":")" + text + "\"}",
                                 incident, clock);
        REQUIRE(id);
        return *id;
    }
    bool step() {
        auto r = sender->send_one();
        REQUIRE(r);
        return *r;
    }
    std::int64_t next_due() {
        auto n = store->next_due_at();
        REQUIRE(n);
        return n->value_or(-1);
    }
};

OutboxOptions fast_options() {
    OutboxOptions o;
    o.base_backoff = std::chrono::milliseconds(1000);
    o.max_backoff = std::chrono::milliseconds(8000);
    o.max_attempts = 4;
    return o;
}

}  // namespace

TEST_CASE("429 waits parameters.retry_after, pauses the whole outbox, then sends") {
    OutboxRig rig(fast_options());
    rig.stub.script(
        "sendMessage",
        {{429, TelegramStub::error_json(429, "Too Many Requests: retry after 30", 30)}});
    rig.enqueue("first");
    rig.enqueue("second");

    CHECK(rig.step());
    CHECK(rig.stats.retried == 1);
    CHECK(rig.next_due() == rig.clock);  // "second" is due, but flood control pauses everything
    CHECK_FALSE(rig.step());
    rig.clock += 29'999;
    CHECK_FALSE(rig.step());
    rig.clock += 1;
    CHECK(rig.step());
    CHECK(rig.step());
    CHECK(rig.stub.calls("sendMessage").size() == 3);
    CHECK(rig.stats.sent == 2);
    CHECK(*rig.store->count_outbox("sent") == 2);
    // The retried row went out after the one that was never refused: order by due time.
    CHECK(rig.stub.calls("sendMessage")[1].body.find("second") != std::string::npos);
}

TEST_CASE("500 is retried with growing backoff until it succeeds") {
    OutboxRig rig(fast_options());
    rig.stub.script("sendMessage",
                    {{500, "Internal Server Error"}, {502, "<html>Bad Gateway</html>"}});
    rig.enqueue("hello", 9);

    CHECK(rig.step());
    std::int64_t first_delay = rig.next_due() - rig.clock;
    CHECK(first_delay >= 800);
    CHECK(first_delay <= 1200);
    rig.clock += first_delay;
    CHECK(rig.step());
    std::int64_t second_delay = rig.next_due() - rig.clock;
    CHECK(second_delay >= 1600);
    CHECK(second_delay <= 2400);
    rig.clock += second_delay;
    CHECK(rig.step());
    CHECK(rig.stats.retried == 2);
    CHECK(rig.stats.sent == 1);
    CHECK(*rig.store->count_outbox("pending") == 0);
    // The message id of an incident message is remembered for later edits.
    auto msgs = rig.store->messages(9);
    REQUIRE(msgs);
    REQUIRE(msgs->size() == 1);
    CHECK((*msgs)[0].message_id == 101);
}

TEST_CASE("401 is not retried: the row fails at once with the reason") {
    OutboxRig rig(fast_options());
    rig.stub.set_default("sendMessage", {401, TelegramStub::error_json(401, "Unauthorized")});
    rig.enqueue("x");
    CHECK(rig.step());
    CHECK_FALSE(rig.step());
    CHECK(rig.stub.calls("sendMessage").size() == 1);
    CHECK(rig.stats.failed == 1);
    CHECK(rig.stats.retried == 0);
    CHECK(*rig.store->count_outbox("failed") == 1);
    CHECK(rig.next_due() == -1);
}

TEST_CASE("a hanging connection times out and the message is sent on the next attempt") {
    OutboxRig rig(fast_options(), std::chrono::milliseconds(300));
    rig.stub.script("sendMessage", {{200, "", std::chrono::milliseconds(5000)}});
    rig.enqueue("slow");
    auto t0 = std::chrono::steady_clock::now();
    CHECK(rig.step());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
    CHECK(rig.stats.retried == 1);
    CHECK(*rig.store->count_outbox("pending") == 1);
    rig.clock = rig.next_due();
    CHECK(rig.step());
    CHECK(rig.stats.sent == 1);
    CHECK(*rig.store->count_outbox("sent") == 1);
}

TEST_CASE("after max_attempts the row is kept as failed, never dropped") {
    OutboxRig rig(fast_options());
    rig.stub.set_default("sendMessage", {503, "unavailable"});
    rig.enqueue("doomed");
    for (int i = 0; i < 4; ++i) {
        CHECK(rig.step());
        if (rig.next_due() > 0) rig.clock = rig.next_due();
    }
    CHECK_FALSE(rig.step());
    CHECK(rig.stub.calls("sendMessage").size() == 4);
    CHECK(rig.stats.retried == 3);
    CHECK(rig.stats.failed == 1);
    CHECK(*rig.store->count_outbox("failed") == 1);
}

TEST_CASE("an edit waits until its message has been sent") {
    OutboxRig rig(fast_options());
    rig.stub.script("sendMessage", {{500, "boom"}});
    rig.enqueue("original", 5);
    REQUIRE(rig.store->enqueue(1001, "editMessageText",
                               R"({"chat_id":1001,"message_id":0,"text":"edited"})", 5, rig.clock));
    CHECK(rig.step());  // sendMessage: 500
    CHECK(rig.step());  // the edit: no message yet, waits
    CHECK(rig.stub.calls("editMessageText").empty());
    for (int i = 0; i < 4 && rig.next_due() > 0; ++i) {
        rig.clock = rig.next_due();
        rig.step();
    }
    auto edits = rig.stub.calls("editMessageText");
    REQUIRE(edits.size() == 1);
    CHECK(nlohmann::json::parse(edits[0].body)["message_id"] == 101);
    CHECK(*rig.store->count_outbox("sent") == 2);
}

TEST_CASE("an update delivered again (or after a restart) is handled once") {
    TempDir dir;
    TelegramStub stub;
    const std::string update =
        R"({"ok":true,"result":[{"update_id":500,"message":{"message_id":1,"from":{"id":1001,"is_bot":false,"first_name":"A"},)"
        R"("chat":{"id":1001,"type":"private"},"date":1,"text":"/block eve@example.com"}}]})";
    // The stub ignores the offset and keeps returning the same update.
    stub.set_default("getUpdates", {200, update});
    RecordingExecutor executor;
    FixedBackend backend;
    TelegramConfig config = bot_config(stub.url());
    BotOptions options;

    for (int restart = 0; restart < 2; ++restart) {
        TestStore store(dir.path("state.db"));
        options.store = store.state.get();
        TelegramBot bot(config, options, executor, backend, nullptr);
        BotApi api(stub.url(), "42:SECRET");
        for (int i = 0; i < 3; ++i) REQUIRE(bot.poll_once(*store.session, api));
        CHECK(*store->offset() == 501);
    }
    CHECK(executor.count() == 1);
    auto polls = stub.calls("getUpdates");
    REQUIRE(polls.size() == 6);
    CHECK(nlohmann::json::parse(polls[0].body).contains("offset") == false);
    CHECK(nlohmann::json::parse(polls[3].body)["offset"] == 501);  // persisted across the restart
    TestStore store(dir.path("state.db"));
    CHECK(*store->count_outbox("pending") == 1);  // one reply, not three
}

// One bot polling a stub getUpdates that always answers `answer`.
struct PollRig {
    TempDir dir;
    TelegramStub stub;
    RecordingExecutor executor;
    FixedBackend backend;
    BotOptions options;
    std::unique_ptr<TelegramBot> bot;
    std::unique_ptr<TestStore> store;
    std::unique_ptr<BotApi> api;
    explicit PollRig(tgstub::Answer answer) {
        stub.set_default("getUpdates", std::move(answer));
        store = std::make_unique<TestStore>(dir.path("state.db"));
        options.store = store->state.get();
        bot = std::make_unique<TelegramBot>(bot_config(stub.url()), options, executor, backend,
                                            nullptr);
        api = std::make_unique<BotApi>(stub.url(), "42:SECRET");
    }
};

TEST_CASE("getUpdates failing with 401 handles nothing and is counted") {
    PollRig rig({401, TelegramStub::error_json(401, "Unauthorized")});
    auto r = rig.bot->poll_once(*rig.store->session, *rig.api);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "getUpdates: HTTP 401: Unauthorized");
    CHECK(rig.bot->stats().poll_errors == 1);
    CHECK(*(*rig.store)->offset() == 0);
}

// Stub: the emulator cannot send an update whose fields have the wrong types.
TEST_CASE("an update with fields of the wrong type is skipped, not fatal, and not fetched again") {
    // "from.id" is a string: nlohmann's value() throws type_error on it.
    const std::string bad =
        R"({"ok":true,"result":[{"update_id":700,"message":{"message_id":1,"from":{"id":"x"},)"
        R"("chat":{"id":1001,"type":"private"},"date":1,"text":"/block eve@example.com"}},)"
        R"({"update_id":701,"message":{"message_id":2,"from":{"id":1001,"is_bot":false,"first_name":"A"},)"
        R"("chat":{"id":1001,"type":"private"},"date":1,"text":"/block eve@example.com"}}]})";
    PollRig rig({200, bad});
    auto r = rig.bot->poll_once(*rig.store->session, *rig.api);
    REQUIRE(r);
    CHECK(*r == 2);
    CHECK(*(*rig.store)->offset() == 702);  // both past: the bad one is not fetched forever
    CHECK(rig.executor.count() == 1);       // only the well-formed /block acted
}

// Stub: the emulator always numbers its updates. An element without an integer
// update_id (from a broken or hostile api_url) cannot be confirmed by itself:
// the offset moves past it, else getUpdates returns it for ever.
TEST_CASE("an update without update_id moves the offset on instead of wedging the poller") {
    const std::string status =
        R"({"update_id":900,"message":{"message_id":1,"from":{"id":1001,"is_bot":false,"first_name":"A"},)"
        R"("chat":{"id":1001,"type":"private"},"date":1,"text":"/status"}})";
    PollRig rig({200, R"({"ok":true,"result":[)" + status +
                          R"(,{"update_id":"901","message":{"text":"/status"}}]})"});
    auto r = rig.bot->poll_once(*rig.store->session, *rig.api);
    REQUIRE(r);
    CHECK(*r == 2);
    CHECK(*(*rig.store)->offset() == 902);  // past the unreadable one (ids are sequential)
    auto polls = rig.stub.calls("getUpdates");
    REQUIRE(polls.size() == 1);
    CHECK(nlohmann::json::parse(polls[0].body)["limit"] == 20);
}

TEST_CASE("an answer of updates without ids and no offset yet drops the backlog") {
    PollRig rig({200, R"({"ok":true,"result":[{"message":{"text":"/status"}}]})"});
    REQUIRE(rig.bot->poll_once(*rig.store->session, *rig.api));
    REQUIRE(rig.bot->poll_once(*rig.store->session, *rig.api));
    auto polls = rig.stub.calls("getUpdates");
    REQUIRE(polls.size() == 2);
    CHECK(nlohmann::json::parse(polls[0].body).contains("offset") == false);
    CHECK(nlohmann::json::parse(polls[1].body)["offset"] == -1);  // Bot API: forget the rest
}

// Stub: the emulator cannot answer above the 4 MiB response cap, nor answer garbage.
TEST_CASE("a getUpdates answer that cannot be read is retried alone, then skipped") {
    const std::string huge = R"({"ok":true,"result":[{"update_id":500,"message":{"text":")" +
                             std::string(5 << 20, 'x') + R"("}}]})";
    for (const std::string& answer : {huge, std::string(R"({"ok":true,"result":"garbage"})")}) {
        DYNAMIC_SECTION("answer of " << answer.size() << " bytes") {
            PollRig rig({200, answer});
            REQUIRE((*rig.store)->record_update(499, 1));  // offset 500: the next update
            CHECK_FALSE(rig.bot->poll_once(*rig.store->session, *rig.api));
            CHECK_FALSE(rig.bot->poll_once(*rig.store->session, *rig.api));
            CHECK(*(*rig.store)->offset() == 501);  // moved past the unreadable update
            // A readable answer again: back to the normal limit.
            rig.stub.set_default("getUpdates", {200, R"({"ok":true,"result":[]})"});
            REQUIRE(rig.bot->poll_once(*rig.store->session, *rig.api));
            REQUIRE(rig.bot->poll_once(*rig.store->session, *rig.api));
            auto polls = rig.stub.calls("getUpdates");
            REQUIRE(polls.size() == 4);
            CHECK(nlohmann::json::parse(polls[0].body)["limit"] == 20);
            CHECK(nlohmann::json::parse(polls[1].body)["limit"] == 1);
            CHECK(nlohmann::json::parse(polls[2].body)["offset"] == 501);
            CHECK(nlohmann::json::parse(polls[3].body)["limit"] == 20);
            CHECK(rig.bot->stats().poll_errors == 2);
        }
    }
}
