#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "../stubs/telegram_stub.hpp"
#include "saslguard/receiver/telegram/incident_ui.hpp"
#include "telegram_test_support.hpp"

using namespace tgtest;
using tgstub::TelegramStub;

TEST_CASE("callback tokens are random, opaque and fit in 64 bytes") {
    std::string a = random_token(), b = random_token();
    CHECK(a.size() == 22);
    CHECK(a != b);
    CHECK(a.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
}

TEST_CASE("notify mode offers only silence and ignore") {
    TelegramConfig cfg;
    auto n = sample_notice(3, "alice@example.com");
    n.decision.mode = Mode::Notify;
    auto v = view_from_notice(n, cfg);
    CHECK(v.offered == std::vector<std::string>{"silence", "ignore"});
    CHECK(v.mode == "notify");
}

TEST_CASE("auto mode shows what was done and offers Undo for what succeeded") {
    TelegramConfig cfg;
    auto n = sample_notice(4, "alice@example.com");
    n.decision.mode = Mode::Auto;
    ActionResult ok;
    ok.request.kind = ActionKind::BlockLogin;
    ok.outcome.ok = true;
    ok.outcome.summary = "blocked login alice@example.com";
    ActionResult bad;
    bad.request.kind = ActionKind::HoldMail;
    bad.outcome.ok = false;
    bad.outcome.error = "postsuper: exit 1";
    n.results = {ok, bad};
    auto v = view_from_notice(n, cfg);
    REQUIRE(v.log.size() == 2);
    CHECK(v.log[0].text == "blocked login alice@example.com");
    CHECK(v.log[1].text == "hold_mail: postsuper: exit 1");
    CHECK_FALSE(v.log[1].ok);
    // Undo renders from what is in force: alice's login block (the hold failed).
    mitigation::ActiveBlocks blocks;
    mitigation::BlockChange change;
    change.added.push_back({"login", "alice@example.com", 1, 900, std::nullopt});
    blocks.apply(change);

    TempDir dir;
    TestStore store(dir.path("state.db"));
    auto kb = issue_keyboard(*store, v, &blocks, 1000, std::chrono::seconds(60));
    REQUIRE(kb);
    REQUIRE_FALSE(kb->empty());
    const Button& undo = kb->back().back();
    CHECK(undo.text == "↩ Undo block login");
    auto row = store->callback(undo.callback_data);
    REQUIRE(row);
    REQUIRE(*row);
    CHECK((*row)->action == "unblock_login");
    CHECK((*row)->expires_at == 61000);
    CHECK(nlohmann::json::parse((*row)->target)["username"] == "alice@example.com");
    std::string text = format_incident(v);
    CHECK(text.find(
              "✅ auto: blocked login alice@example.com\n❌ auto: hold_mail: postsuper: exit 1") !=
          std::string::npos);
}

TEST_CASE("an offered mitigation in force shows as its Undo, and comes back when lifted") {
    TelegramConfig cfg;
    auto v = view_from_notice(sample_notice(6, "alice@example.com"), cfg);
    TempDir dir;
    TestStore store(dir.path("state.db"));
    auto labels = [&](const mitigation::ActiveBlocks* blocks) {
        auto kb = issue_keyboard(*store, v, blocks, 1000, std::chrono::seconds(60));
        REQUIRE(kb);
        std::vector<std::string> out;
        for (const auto& row : *kb)
            for (const auto& b : row) out.push_back(b.text);
        return out;
    };
    CHECK(labels(nullptr) == std::vector<std::string>{"🚫 Block login", "⏸ Hold mail",
                                                      "🔒 Lock account", "🗑 Delete queued mail",
                                                      "🔕 Silence 1h", "🔕 Silence 4h",
                                                      "🔕 Silence 24h", "🙈 Ignore"});
    mitigation::ActiveBlocks blocks;
    mitigation::BlockChange put;
    put.added.push_back({"login", "alice@example.com", 7, 900, std::nullopt});
    put.added.push_back({"hold", "bob@example.com", 8, 900, std::nullopt});  // someone else's
    blocks.apply(put);
    CHECK(labels(&blocks) == std::vector<std::string>{"⏸ Hold mail", "🔒 Lock account",
                                                      "🗑 Delete queued mail", "🔕 Silence 1h",
                                                      "🔕 Silence 4h", "🔕 Silence 24h", "🙈 Ignore",
                                                      "↩ Undo block login"});
    mitigation::BlockChange lift;
    lift.removed.push_back({"login", "alice@example.com", 7, 900, std::nullopt});
    blocks.apply(lift);
    CHECK(labels(&blocks) == labels(nullptr));
}

TEST_CASE("block IPs is offered only when the alert names a client IP") {
    TelegramConfig cfg;
    auto n = sample_notice(5, "alice@example.com");
    auto v = view_from_notice(n, cfg);
    CHECK(std::find(v.offered.begin(), v.offered.end(), "block_ips") == v.offered.end());
    n.alert.labels["client_ip"] = "203.0.113.9";
    n.evidence.client_ips = {"203.0.113.9"};  // the resolver's canonical form of the label
    v = view_from_notice(n, cfg);
    CHECK(std::find(v.offered.begin(), v.offered.end(), "block_ips") != v.offered.end());
    REQUIRE(v.top_ips.size() == 1);
    CHECK(v.top_ips[0].ip == "203.0.113.9");
}

TEST_CASE("a never-block address is shown with its reason and never offered as Block IPs") {
    // Issue #15: the worker set ::ffff:127.0.0.1 (canonical 127.0.0.1) aside.
    TelegramConfig cfg;
    auto n = sample_notice(6, "alice@example.com");
    n.alert.labels["client_ip"] = "::ffff:127.0.0.1";
    n.evidence.protected_ips = {{"127.0.0.1", "a loopback address"}};
    auto v = view_from_notice(n, cfg);
    CHECK(v.top_ips.empty());
    CHECK(std::find(v.offered.begin(), v.offered.end(), "block_ips") == v.offered.end());
    auto back = incident_view_from_json(to_json(v));
    REQUIRE(back);
    REQUIRE(back->protected_ips.size() == 1);
    const std::string text = format_incident(*back);
    CHECK(text.find("<b>Never blocked:</b> <code>127.0.0.1</code> (a loopback address)") !=
          std::string::npos);
}

namespace {
// One callback_query update from `user` for `token`, as Telegram sends it.
std::string press_update(std::int64_t update_id, std::int64_t user, const std::string& token) {
    nlohmann::json u{
        {"update_id", update_id},
        {"callback_query",
         {{"id", "cq" + std::to_string(update_id)},
          {"from", {{"id", user}, {"is_bot", false}, {"first_name", "A"}}},
          {"message", {{"message_id", 50}, {"chat", {{"id", 1001}, {"type", "private"}}}}},
          {"data", token}}}};
    return nlohmann::json{{"ok", true}, {"result", nlohmann::json::array({u})}}.dump();
}
}  // namespace

TEST_CASE("an expired button is refused, answered, and runs nothing") {
    TempDir dir;
    TelegramStub stub;
    RecordingExecutor executor;
    FixedBackend backend;
    TelegramConfig config = bot_config(stub.url());
    BotOptions options;
    TestStore store(dir.path("state.db"));
    options.store = store.state.get();
    std::int64_t now = 5'000'000;
    options.now = [&] { return now; };
    REQUIRE(store->add_callback({"old", 1, "block_login", R"({"username":"a@example.com"})",
                                 "offer", 1000, 4'000'000, std::nullopt, ""}));
    REQUIRE(store->add_callback({"fresh", 1, "block_login", R"({"username":"a@example.com"})",
                                 "offer", 1000, 6'000'000, std::nullopt, ""}));
    stub.script("getUpdates",
                {{200, press_update(10, 1001, "old")}, {200, press_update(11, 1001, "nonsense")}});
    TelegramBot bot(config, options, executor, backend, nullptr);
    BotApi api(stub.url(), "42:SECRET");
    REQUIRE(bot.poll_once(*store.session, api));
    REQUIRE(bot.poll_once(*store.session, api));
    CHECK(executor.count() == 0);
    CHECK(bot.stats().callbacks_refused == 2);
    auto answers = stub.calls("answerCallbackQuery");
    REQUIRE(answers.size() == 2);
    auto a0 = nlohmann::json::parse(answers[0].body);
    CHECK(a0["callback_query_id"] == "cq10");
    CHECK(a0["text"].get<std::string>().rfind("This button has expired", 0) == 0);
    CHECK(nlohmann::json::parse(answers[1].body)["text"] == "Unknown button.");
    // The expired press did not consume the token of another button.
    CHECK_FALSE((*store->callback("fresh"))->used_at);
}
