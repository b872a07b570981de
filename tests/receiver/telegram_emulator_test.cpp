// Live tests of the Telegram bot against the real Bot API emulator
// (telegram-test-api, pinned in package.json, started on 127.0.0.1 by the test).
// A recording ActionExecutor stands in for Postfix here; the end-to-end script
// drives the real mitigation.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "saslguard/common/http_client.hpp"
#include "telegram_test_support.hpp"

using namespace tgtest;
using nlohmann::json;

namespace {

constexpr std::int64_t kAdmin = 1001;
constexpr std::int64_t kStranger = 666;
const std::string kToken = "123456:TEST-token";

// The emulator, and its client routes for acting as a Telegram user.
class Emulator {
public:
    explicit Emulator(const TempDir& dir)
        : m_port(free_port()),
          m_child({"node", std::string(SASLGUARD_SOURCE_DIR) + "/tests/lib/telegram-emulator.js",
                   std::to_string(m_port)},
                  dir.path("emulator.log")) {
        m_base = "http://127.0.0.1:" + std::to_string(m_port);
        REQUIRE(m_child.started());
        REQUIRE(wait_until([&] {
            return post("/getUpdatesHistory", {{"token", kToken}}).is_object();
        }));
    }
    std::string url() const { return m_base; }

    json post(const std::string& path, const json& body) {
        HttpRequest r;
        r.method = "POST";
        r.url = m_base + path;
        r.headers = {"Content-Type: application/json"};
        r.body = body.dump();
        auto resp = m_http.perform(r);
        if (!resp.ok()) return nullptr;
        return json::parse(resp.body, nullptr, false);
    }

    static json user(std::int64_t id) {
        return {{"id", id},
                {"is_bot", false},
                {"first_name", "U" + std::to_string(id)},
                {"username", "user" + std::to_string(id)}};
    }

    void command(std::int64_t from, std::int64_t chat, const std::string& text) {
        auto sp = text.find(' ');
        json m{{"botToken", kToken},
               {"from", user(from)},
               {"chat", {{"id", chat}, {"type", "private"}}},
               {"date", 1795400000},
               {"text", text},
               {"entities",
                {{{"offset", 0},
                  {"length", sp == std::string::npos ? text.size() : sp},
                  {"type", "bot_command"}}}}};
        REQUIRE(post("/sendCommand", m).is_object());
    }

    void press(std::int64_t from, std::int64_t chat, std::int64_t message_id,
               const std::string& data) {
        json c{{"botToken", kToken},
               {"from", user(from)},
               {"message",
                {{"message_id", message_id}, {"chat", {{"id", chat}, {"type", "private"}}}}},
               {"date", 1795400000},
               {"data", data}};
        REQUIRE(post("/sendCallback", c).is_object());
    }

    struct BotMessage {
        std::int64_t message_id = 0;
        std::string text;
        json keyboard = json::array();
        std::string button(const std::string& label_part) const {
            for (const auto& row : keyboard)
                for (const auto& b : row)
                    if (b.value("text", "").find(label_part) != std::string::npos)
                        return b.value("callback_data", "");
            return "";
        }
        std::vector<std::string> labels() const {
            std::vector<std::string> out;
            for (const auto& row : keyboard)
                for (const auto& b : row) out.push_back(b.value("text", ""));
            return out;
        }
    };

    // What the bot sent to `chat`, oldest first, with edits applied by the emulator.
    std::vector<BotMessage> messages(std::int64_t chat) {
        std::vector<BotMessage> out;
        auto h = post("/getUpdatesHistory", {{"token", kToken}});
        if (!h.is_object() || !h["result"].is_array()) return out;
        for (const auto& item : h["result"]) {
            const json& m = item.value("message", json::object());
            if (!m.contains("chat_id") ||
                std::to_string(chat) != (m["chat_id"].is_string() ? m["chat_id"].get<std::string>()
                                                                  : m["chat_id"].dump()))
                continue;
            BotMessage b;
            b.message_id = item.value("messageId", std::int64_t{0});
            b.text = m.value("text", "");
            if (m.contains("reply_markup") && m["reply_markup"].is_object())
                b.keyboard = m["reply_markup"].value("inline_keyboard", json::array());
            out.push_back(std::move(b));
        }
        return out;
    }

    // The first message to `chat` whose text contains `needle` (waits for it).
    std::optional<BotMessage> wait_message(std::int64_t chat, const std::string& needle) {
        std::optional<BotMessage> found;
        wait_until([&] {
            for (auto& m : messages(chat))
                if (m.text.find(needle) != std::string::npos) {
                    found = m;
                    return true;
                }
            return false;
        });
        return found;
    }

    std::size_t count_messages(std::int64_t chat, const std::string& needle) {
        std::size_t n = 0;
        for (auto& m : messages(chat))
            if (m.text.find(needle) != std::string::npos) ++n;
        return n;
    }

private:
    int m_port;
    Child m_child;
    std::string m_base;
    HttpClient m_http;
};

struct Rig {
    TempDir dir;
    Emulator emu{dir};
    RecordingExecutor executor;
    FixedBackend backend;
    std::vector<std::string> silences;
    TelegramConfig config;
    TestStore state{dir.path("state.db")};
    mitigation::ActiveBlocks blocks;
    BotOptions options;

    Rig() {
        config = bot_config(emu.url(), kToken);
        config.button_ttl = std::chrono::seconds(3600);
        config.alertmanager_url = "http://127.0.0.1:9093";
        options.store = state.state.get();
        options.blocks = &blocks;
        executor.blocks = &blocks;
        options.idle_poll = std::chrono::milliseconds(50);
        options.outbox.base_backoff = std::chrono::milliseconds(100);
    }
    std::unique_ptr<TelegramBot> bot() {
        auto b = std::make_unique<TelegramBot>(
            config, options, executor, backend,
            [this](const std::vector<std::pair<std::string, std::string>>&, std::chrono::seconds d,
                   const std::string&, const std::string&) -> Result<std::string> {
                silences.push_back(std::to_string(d.count()));
                return std::string("sil-1");
            });
        REQUIRE(b->start());
        return b;
    }
    std::unique_ptr<TelegramNotifier> notifier(TelegramBot* b) {
        auto s = state.state->session();
        REQUIRE(s);
        return std::make_unique<TelegramNotifier>(config, std::move(*s), b);
    }
};

}  // namespace

TEST_CASE("Block IPs asks first, and the confirming button names every address (issue #15)") {
    Rig rig;
    auto bot = rig.bot();
    auto notifier = rig.notifier(bot.get());
    auto n = sample_notice(1, "alice@example.com");
    n.alert.labels["client_ip"] = "203.0.113.9";
    n.evidence.client_ips = {"203.0.113.9", "198.51.100.7"};
    REQUIRE(notifier->incident_opened(n));
    auto msg = rig.emu.wait_message(kAdmin, "incident #1");
    REQUIRE(msg);
    rig.emu.press(kAdmin, kAdmin, msg->message_id, msg->button("Block IPs"));
    REQUIRE(wait_until([&] { return !rig.emu.messages(kAdmin).at(0).button("Yes").empty(); }));
    CHECK(rig.executor.count() == 0);  // one press blocks nothing
    auto confirm = rig.emu.messages(kAdmin).at(0);
    CHECK(confirm.labels() ==
          std::vector<std::string>{"⚠ Yes: ⛔ Block IPs 203.0.113.9, 198.51.100.7", "✖ Cancel"});
    rig.emu.press(kAdmin, kAdmin, confirm.message_id, confirm.button("Yes"));
    REQUIRE(wait_until([&] { return rig.executor.count() == 1; }));
    CHECK(rig.executor.requests().at(0).kind == ActionKind::BlockIps);
    CHECK(rig.executor.requests().at(0).ips ==
          std::vector<std::string>{"203.0.113.9", "198.51.100.7"});
}

TEST_CASE(
    "an incident reaches the admin chat with buttons, and an admin blocks the login through them") {
    Rig rig;
    auto bot = rig.bot();
    auto notifier = rig.notifier(bot.get());
    REQUIRE(notifier->incident_opened(sample_notice(1, "alice<x>@example.com")));

    auto msg = rig.emu.wait_message(kAdmin, "incident #1");
    REQUIRE(msg);
    CHECK(msg->text.find("<b>User:</b> <code>alice&lt;x&gt;@example.com</code>") !=
          std::string::npos);
    CHECK(msg->text.find("<b>Why:</b> 1234 messages in the last 10 minutes") != std::string::npos);
    CHECK(msg->text.find("90% of all authenticated mail") != std::string::npos);
    CHECK(msg->labels() == std::vector<std::string>{"🚫 Block login", "⏸ Hold mail",
                                                    "🔒 Lock account", "🗑 Delete queued mail",
                                                    "🔕 Silence 1h", "🔕 Silence 4h", "🔕 Silence 24h",
                                                    "🙈 Ignore"});
    const std::string block = msg->button("Block login");
    CHECK(block.size() <= 64);
    CHECK(block.find("block") == std::string::npos);  // opaque, not the action

    // A stranger presses it: refused, audited, nothing executed.
    rig.emu.press(kStranger, kAdmin, msg->message_id, block);
    REQUIRE(wait_until([&] { return bot->stats().callbacks_refused == 1; }));
    CHECK(rig.executor.count() == 0);

    // The admin presses it: executed once, and the message shows who did what, with Undo.
    rig.emu.press(kAdmin, kAdmin, msg->message_id, block);
    REQUIRE(wait_until([&] { return rig.executor.count() == 1; }));
    auto req = rig.executor.requests().at(0);
    CHECK(req.kind == ActionKind::BlockLogin);
    CHECK(req.username == "alice<x>@example.com");
    CHECK(req.actor == "telegram:1001");
    CHECK(req.incident_id == 1);
    auto edited =
        rig.emu.wait_message(kAdmin, "@user1001 (1001): block login alice&lt;x&gt;@example.com");
    REQUIRE(edited);
    REQUIRE(wait_until([&] {
        auto m = rig.emu.messages(kAdmin).at(0);
        return !m.button("Undo block login").empty() && m.button("Block login").empty();
    }));

    // The same (now used) button again: refused, not executed twice.
    rig.emu.press(kAdmin, kAdmin, msg->message_id, block);
    REQUIRE(wait_until([&] { return bot->stats().callbacks_refused == 2; }));
    CHECK(rig.executor.count() == 1);

    // Delete queued mail is destructive: a second, confirming press is needed.
    auto current = rig.emu.messages(kAdmin).at(0);
    rig.emu.press(kAdmin, kAdmin, current.message_id, current.button("Delete queued mail"));
    REQUIRE(wait_until([&] { return !rig.emu.messages(kAdmin).at(0).button("Yes").empty(); }));
    CHECK(rig.executor.count() == 1);
    auto confirm = rig.emu.messages(kAdmin).at(0);
    CHECK(confirm.labels() ==
          std::vector<std::string>{"⚠ Yes: 🗑 Delete queued mail alice<x>@example.com",
                                   "✖ Cancel"});
    rig.emu.press(kAdmin, kAdmin, confirm.message_id, confirm.button("Yes"));
    REQUIRE(wait_until([&] { return rig.executor.count() == 2; }));
    CHECK(rig.executor.requests().at(1).kind == ActionKind::DeleteMail);
    REQUIRE(rig.emu.wait_message(kAdmin, "delete mail alice&lt;x&gt;@example.com"));

    // Silence through Alertmanager for a chosen time.
    REQUIRE(
        wait_until([&] { return !rig.emu.messages(kAdmin).at(0).button("Silence 4h").empty(); }));
    current = rig.emu.messages(kAdmin).at(0);
    rig.emu.press(kAdmin, kAdmin, current.message_id, current.button("Silence 4h"));
    REQUIRE(rig.emu.wait_message(kAdmin, "silenced for 4h (silence sil-1)"));
    CHECK(rig.silences == std::vector<std::string>{"14400"});

    // The alert resolves: the same message is edited.
    REQUIRE(notifier->incident_resolved(sample_notice(1, "alice<x>@example.com")));
    auto resolved = rig.emu.wait_message(kAdmin, "RESOLVED");
    REQUIRE(resolved);
    CHECK(resolved->text.rfind("✅ <b>RESOLVED</b> <b>SaslUserSendingSurge</b>", 0) == 0);
    CHECK(rig.emu.messages(kAdmin).size() == 1);  // edited in place, never a second message

    REQUIRE(wait_until([&] { return bot->stats().outbox_pending == 0; }));
    CHECK(bot->stats().failed == 0);
    CHECK(bot->stats().callbacks_handled == 4);
    CHECK(*rig.state->count_refusals() == 1);
}

TEST_CASE("an alert joining the incident edits its message, never a second one (issue #16)") {
    Rig rig;
    auto bot = rig.bot();
    auto notifier = rig.notifier(bot.get());
    // The sending guard's alert opens the incident: it knows the user, proposes
    // Hold mail, and has no Prometheus evidence.
    auto guard = sample_notice(4, "alice@example.com");
    guard.alertname = "SaslguardSendingGuard";
    guard.summary = "alice@example.com held after 30 messages in a minute";
    guard.alert.labels["alertname"] = guard.alertname;
    guard.evidence.top_users.clear();
    guard.decision.actions = {ActionKind::HoldMail};
    REQUIRE(notifier->incident_opened(guard));
    auto first = rig.emu.wait_message(kAdmin, "incident #4");
    REQUIRE(first);
    CHECK(first->text.find("1234 messages") == std::string::npos);

    // The Prometheus alert joins it: the same message now says so and shows the
    // evidence it brought.
    auto surge = sample_notice(4, "alice@example.com");
    REQUIRE(notifier->incident_joined(surge));
    auto joined = rig.emu.wait_message(kAdmin, "SaslUserSendingSurge: joined this incident");
    REQUIRE(joined);
    CHECK(joined->message_id == first->message_id);
    CHECK(joined->text.find("1234 messages in the last 10 minutes") != std::string::npos);
    REQUIRE(
        wait_until([&] { return !rig.emu.messages(kAdmin).at(0).button("Block login").empty(); }));
    CHECK(!rig.emu.messages(kAdmin).at(0).button("Hold mail").empty());

    // Delivered twice (the worker retries): told once.
    REQUIRE(notifier->incident_joined(surge));
    REQUIRE(wait_until([&] { return bot->stats().outbox_pending == 0; }));
    CHECK(rig.emu.messages(kAdmin).size() == 1);
    CHECK(rig.emu.count_messages(kAdmin, "joined this incident") == 1);
    const auto& text = rig.emu.messages(kAdmin).at(0).text;
    std::size_t n = 0;
    for (auto p = text.find("joined this incident"); p != std::string::npos;
         p = text.find("joined this incident", p + 1))
        ++n;
    CHECK(n == 1);
}

TEST_CASE("commands answer admins with the right content and refuse everyone else") {
    Rig rig;
    auto bot = rig.bot();

    rig.emu.command(kAdmin, kAdmin, "/status");
    auto status = rig.emu.wait_message(kAdmin, "Open incidents");
    REQUIRE(status);
    CHECK(
        status->text.find(
            "<b>Open incidents:</b> 1\n• #1 SaslUserSendingSurge <code>alice@example.com</code>") !=
        std::string::npos);
    CHECK(status->text.find("<b>Blocks in force:</b> 2 (/blocked lists them)\n<b>Queue:</b> 5321 "
                            "messages") != std::string::npos);

    rig.emu.command(kAdmin, kAdmin, "/top");
    auto top = rig.emu.wait_message(kAdmin, "Top senders");
    REQUIRE(top);
    CHECK(top->text.find("1. <code>alice@example.com</code> — 1234 (") != std::string::npos);
    CHECK(top->text.find("2. <code>bob&lt;b&gt;@example.com</code> — 7 (") != std::string::npos);

    rig.emu.command(kAdmin, kAdmin, "/queue@saslguard_bot");
    auto queue = rig.emu.wait_message(kAdmin, "Most queued");
    REQUIRE(queue);
    CHECK(queue->text.find("📬 <b>Queue:</b> 5321 messages") == 0);

    rig.emu.command(kAdmin, kAdmin, "/blocked");
    REQUIRE(rig.emu.wait_message(
        kAdmin, "• login blocked: <code>alice@example.com</code>, by Telegram user 1001"));

    rig.emu.command(kAdmin, kAdmin, "/block bad;user");
    REQUIRE(rig.emu.wait_message(kAdmin, "Not a valid SASL username: <code>bad;user</code>"));
    rig.emu.command(kAdmin, kAdmin, "/hold");
    REQUIRE(rig.emu.wait_message(kAdmin, "Usage: /hold &lt;sasl username&gt;"));
    CHECK(rig.executor.count() == 0);

    rig.emu.command(kAdmin, kAdmin, "/block bob@example.com");
    REQUIRE(rig.emu.wait_message(kAdmin, "✅ block login bob@example.com"));
    rig.emu.command(kAdmin, kAdmin, "/release bob@example.com");
    REQUIRE(rig.emu.wait_message(kAdmin, "✅ release mail bob@example.com"));
    REQUIRE(rig.executor.count() == 2);
    CHECK(rig.executor.requests()[0].kind == ActionKind::BlockLogin);
    CHECK(rig.executor.requests()[0].actor == "telegram:1001");
    CHECK(rig.executor.requests()[1].kind == ActionKind::ReleaseMail);

    rig.emu.command(kAdmin, kAdmin, "/help");
    REQUIRE(rig.emu.wait_message(kAdmin, "/unblock &lt;user&gt;"));

    rig.emu.command(kStranger, kStranger, "/block alice@example.com");
    REQUIRE(rig.emu.wait_message(kStranger, "Not authorised"));
    CHECK(bot->stats().commands_refused == 1);
    CHECK(rig.executor.count() == 2);
}

TEST_CASE("a restart in the middle of a confirmation handles every update exactly once") {
    Rig rig;
    auto bot = rig.bot();
    auto notifier = rig.notifier(bot.get());
    REQUIRE(notifier->incident_opened(sample_notice(7, "mallory@example.com")));
    auto msg = rig.emu.wait_message(kAdmin, "incident #7");
    REQUIRE(msg);
    rig.emu.press(kAdmin, kAdmin, msg->message_id, msg->button("Delete queued mail"));
    REQUIRE(wait_until([&] { return !rig.emu.messages(kAdmin).at(0).button("Yes").empty(); }));
    auto confirm = rig.emu.messages(kAdmin).at(0);

    bot->stop();
    bot.reset();
    // While the bot is down: the admin confirms and asks for /status.
    rig.emu.press(kAdmin, kAdmin, confirm.message_id, confirm.button("Yes"));
    rig.emu.command(kAdmin, kAdmin, "/status");

    bot = rig.bot();
    REQUIRE(wait_until([&] { return rig.executor.count() == 1; }));
    CHECK(rig.executor.requests()[0].kind == ActionKind::DeleteMail);
    CHECK(rig.executor.requests()[0].username == "mallory@example.com");
    REQUIRE(rig.emu.wait_message(kAdmin, "Open incidents"));
    REQUIRE(rig.emu.wait_message(kAdmin, "delete mail mallory@example.com"));

    // Restart once more: nothing is handled again, nothing is sent twice.
    bot->stop();
    bot = rig.bot();
    rig.emu.command(kAdmin, kAdmin, "/help");
    REQUIRE(rig.emu.wait_message(kAdmin, "saslguard bot"));
    CHECK(rig.executor.count() == 1);
    CHECK(rig.emu.count_messages(kAdmin, "Open incidents") == 1);
    CHECK(*rig.state->offset() > 0);
    CHECK(*rig.state->count_outbox("failed") == 0);
}

TEST_CASE("a flood from a stranger gets one reply and does not hold back an incident") {
    Rig rig;
    constexpr int kFlood = 300;
    constexpr std::int64_t kOther = 667;
    for (int i = 0; i < kFlood; ++i) rig.emu.command(kStranger, kStranger, "/status");
    rig.emu.command(kOther, kOther, "/status");
    auto bot = rig.bot();
    auto notifier = rig.notifier(bot.get());
    // The incident arrives while the flood is being read.
    REQUIRE(wait_until([&] { return bot->stats().commands_refused >= 20; }));
    REQUIRE(notifier->incident_opened(sample_notice(3, "alice@example.com")));
    REQUIRE(rig.emu.wait_message(kAdmin, "incident #3"));
    REQUIRE(wait_until([&] { return bot->stats().commands_refused == kFlood + 1; },
                       std::chrono::seconds(120)));
    REQUIRE(wait_until([&] { return bot->stats().outbox_pending == 0; }));
    // Every refusal is kept for the audit; each stranger is told once.
    CHECK(*rig.state->count_refusals() == kFlood + 1);
    CHECK(rig.emu.count_messages(kStranger, "Not authorised") == 1);
    CHECK(rig.emu.count_messages(kOther, "Not authorised") == 1);
    CHECK(*rig.state->count_outbox("sent") == 3);  // the incident and two replies, no more
}
