#include <catch2/catch.hpp>

#include "telegram_test_support.hpp"

using namespace saslguard::receiver::telegram;
using tgtest::TempDir;
using tgtest::TestStore;

TEST_CASE("the outbox hands out due rows oldest first and records their fate") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    auto a = st.enqueue(10, "sendMessage", R"({"text":"a"})", 5, 1000);
    auto b = st.enqueue(11, "sendMessage", R"({"text":"b"})", 0, 1001);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(*st.count_outbox("pending") == 2);

    auto due = st.next_due(1000);
    REQUIRE(due);
    REQUIRE(*due);
    CHECK((*due)->id == *a);
    CHECK((*due)->incident_id == 5);
    CHECK((*due)->payload_json == R"({"text":"a"})");

    REQUIRE(st.mark_retry(*a, 5000, "HTTP 500"));
    due = st.next_due(2000);
    REQUIRE(*due);
    CHECK((*due)->id == *b);
    REQUIRE(st.mark_failed(*b, "HTTP 401: Unauthorized"));
    CHECK_FALSE(*st.next_due(2000));
    CHECK(**st.next_due_at() == 5000);

    due = st.next_due(5000);
    REQUIRE(*due);
    CHECK((*due)->attempts == 1);
    REQUIRE(st.mark_sent(*a, 5001, 77));
    CHECK(*st.count_outbox("pending") == 0);
    CHECK(*st.count_outbox("sent") == 1);
    CHECK(*st.count_outbox("failed") == 1);
    CHECK_FALSE(*st.next_due_at());
}

TEST_CASE("a callback token is single use") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    REQUIRE(st.add_callback(
        {"tok", 3, "block_login", R"({"username":"a"})", "offer", 100, 200, std::nullopt, ""}));
    auto cb = st.callback("tok");
    REQUIRE(cb);
    REQUIRE(*cb);
    CHECK((*cb)->action == "block_login");
    CHECK_FALSE((*cb)->used_at);
    CHECK(*st.use_callback("tok", 150, "telegram:1"));
    CHECK_FALSE(*st.use_callback("tok", 151, "telegram:2"));
    cb = st.callback("tok");
    CHECK((*cb)->used_at == std::optional<std::int64_t>(150));
    CHECK((*cb)->used_by == "telegram:1");
    auto none = st.callback("nope");
    REQUIRE(none);
    CHECK_FALSE(*none);
}

TEST_CASE("expiring an incident's callbacks leaves used ones alone") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    REQUIRE(st.add_callback({"a", 3, "hold_mail", "{}", "offer", 100, 9000, std::nullopt, ""}));
    REQUIRE(st.add_callback({"b", 3, "block_login", "{}", "offer", 100, 9000, std::nullopt, ""}));
    REQUIRE(st.add_callback({"c", 4, "block_login", "{}", "offer", 100, 9000, std::nullopt, ""}));
    REQUIRE(*st.use_callback("a", 150, "x"));
    REQUIRE(st.expire_callbacks(3, 200));
    CHECK((*st.callback("a"))->expires_at == 9000);
    CHECK((*st.callback("b"))->expires_at == 200);
    CHECK((*st.callback("c"))->expires_at == 9000);
}

TEST_CASE("the update offset persists across connections and only moves forward") {
    TempDir t;
    {
        TestStore s(t.path("state.db"));
        CHECK(*s->offset() == 0);
        REQUIRE(s->record_update(41, 1));
        REQUIRE(s->record_update(40, 2));
        CHECK(*s->offset() == 42);
    }
    TestStore s(t.path("state.db"));
    CHECK(*s->offset() == 42);
    CHECK(*s->update_handled(40));
    CHECK(*s->update_handled(41));
    CHECK_FALSE(*s->update_handled(42));
}

TEST_CASE("incident views and their messages are kept per chat") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    REQUIRE(st.save_incident(9, R"({"a":1})", 1));
    REQUIRE(st.save_incident(9, R"({"a":2})", 2));
    CHECK(**st.load_incident(9) == R"({"a":2})");
    CHECK_FALSE(*st.load_incident(8));
    REQUIRE(st.set_message(9, -100, 5));
    REQUIRE(st.set_message(9, 200, 6));
    REQUIRE(st.set_message(9, 200, 7));
    auto m = st.messages(9);
    REQUIRE(m);
    REQUIRE(m->size() == 2);
    CHECK((*m)[0].chat_id == -100);
    CHECK((*m)[1].message_id == 7);
    REQUIRE(st.record_refusal(666, "mallory", "callback block_login", "not an admin", 3));
    CHECK(*st.count_refusals() == 1);
}

TEST_CASE("incident messages go before replies queued earlier") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    for (int i = 0; i < 50; ++i)
        REQUIRE(st.enqueue(666, "sendMessage", R"({"text":"not authorised"})", 0, 1000 + i));
    auto incident = st.enqueue(10, "sendMessage", R"({"text":"incident"})", 7, 2000);
    REQUIRE(incident);
    auto due = st.next_due(3000);
    REQUIRE(due);
    REQUIRE(*due);
    CHECK((*due)->id == *incident);
    REQUIRE(st.mark_sent(*incident, 3000, 1));
    due = st.next_due(3000);
    REQUIRE(*due);
    CHECK((*due)->payload_json == R"({"text":"not authorised"})");
    CHECK((*due)->created_at == 1000);  // then the others, oldest first
}

TEST_CASE("old outbox rows and refusals are pruned, pending rows never") {
    TempDir t;
    TestStore s(t.path("state.db"));
    auto& st = *s;
    auto old_sent = st.enqueue(10, "sendMessage", "{}", 0, 1000);
    auto old_failed = st.enqueue(10, "sendMessage", "{}", 0, 1000);
    auto old_pending = st.enqueue(10, "sendMessage", "{}", 0, 1000);
    auto new_sent = st.enqueue(10, "sendMessage", "{}", 0, 9000);
    REQUIRE(st.mark_sent(*old_sent, 1500, 1));
    REQUIRE(st.mark_failed(*old_failed, "HTTP 400"));
    REQUIRE(st.mark_sent(*new_sent, 9500, 2));
    for (int i = 0; i < 5; ++i) REQUIRE(st.record_refusal(666, "@x", "command /status", "no", i));
    for (int i = 0; i < 5; ++i)
        REQUIRE(st.record_refusal(667, "@y", "command /status", "no", 9000 + i));
    CHECK(**st.last_refusal_at(666) == 4);
    CHECK_FALSE(*st.last_refusal_at(1));

    auto n = st.prune(5000, 5000, 3);
    REQUIRE(n);
    CHECK(*n == 2 + 5 + 2);  // two old outbox rows; refusals: 5 old, then 2 over the cap
    CHECK(*st.count_outbox("pending") == 1);
    CHECK(*st.count_outbox("sent") == 1);
    CHECK(*st.count_outbox("failed") == 0);
    CHECK(*st.count_refusals() == 3);
    CHECK(**st.last_refusal_at(667) == 9004);  // the newest kept
    CHECK_FALSE(*st.last_refusal_at(666));
    (void)old_pending;
}
