#include "saslguard/receiver/telegram/bot.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <mutex>

#include "saslguard/common/alertmanager.hpp"
#include "saslguard/common/clock.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/http_client.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/telegram/incident_ui.hpp"

namespace saslguard::receiver::telegram {
namespace {

using nlohmann::json;

using mitigation::ActionDescriptor;
using mitigation::catalog;

// The mitigation a button or command names, if it is one.
const ActionDescriptor* mitigation_of(std::string_view action) {
    auto kind = action_kind_from_string(action);
    return kind ? catalog().find(*kind) : nullptr;
}

// Destructive or hard to take back for a real user (the catalog says which):
// asks "are you sure" first.
bool needs_confirmation(std::string_view action) {
    const auto* a = mitigation_of(action);
    return a && a->confirm;
}

void erase(std::vector<std::string>& v, std::string_view s) {
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
}
void add_unique(std::vector<std::string>& v, std::string_view s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.emplace_back(s);
}

std::string hhmm(std::int64_t unix_ms) {
    return format::utc_minutes(unix_ms);
}

std::string num(double v) {
    return format::compact(v);
}

std::string code(std::string_view s) {
    return "<code>" + html_escape(s) + "</code>";
}

std::string reply_payload(std::int64_t chat_id, const std::string& html) {
    json p{{"chat_id", chat_id},
           {"text", truncate_html(html)},
           {"parse_mode", "HTML"},
           {"disable_web_page_preview", true}};
    return p.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The /help text: the read-only commands, then every mitigation the catalog
// gives a bot command.
std::string help_text() {
    std::string t =
        "<b>saslguard bot</b>\n"
        "/status — open incidents, active blocks, queue depth\n"
        "/top — top SASL users right now\n"
        "/queue — queue depth and top senders\n"
        "/blocked — active blocks\n";
    for (const auto* a : catalog().actions())
        if (!a->bot_command.empty())
            t += std::string(a->bot_command) + " &lt;user&gt; — " + std::string(a->bot_help) + "\n";
    return t + "/help — this text\nOnly configured admins may use the bot.";
}

}  // namespace

SilenceFn alertmanager_silencer(std::string alertmanager_url) {
    auto client = std::make_shared<alertmanager::Client>(
        std::move(alertmanager_url), prom::fetch_with(std::make_shared<HttpClient>()));
    auto mutex = std::make_shared<std::mutex>();  // the HttpClient is one-thread-at-a-time
    return [client, mutex](const std::vector<std::pair<std::string, std::string>>& matchers,
                           std::chrono::seconds duration, const std::string& created_by,
                           const std::string& comment) -> Result<std::string> {
        alertmanager::Silence s;
        s.matchers = matchers;
        s.starts_at_ms = wall_clock_ms();
        s.ends_at_ms = s.starts_at_ms + duration.count() * 1000;
        s.created_by = created_by;
        s.comment = comment;
        std::lock_guard lock(*mutex);
        return client->create_silence(s);
    };
}

// Handles updates with one thread's store and API client.
struct TelegramBot::Handler {
    TelegramBot& bot;
    store::Session& session;
    TelegramRepository& store;
    BotApi& api;

    std::int64_t now() const { return bot.m_options.now(); }
    bool is_admin(std::int64_t user_id) const {
        const auto& ids = bot.m_config.admin_user_ids;
        return std::find(ids.begin(), ids.end(), user_id) != ids.end();
    }

    static std::string actor_name(const json& from) {
        std::string id = std::to_string(from.value("id", std::int64_t{0}));
        if (from.contains("username") && from["username"].is_string())
            return "@" + from["username"].get<std::string>() + " (" + id + ")";
        return from.value("first_name", std::string("user")) + " (" + id + ")";
    }

    void answer(const std::string& callback_id, const std::string& text) {
        json p{{"callback_query_id", callback_id}, {"text", clip_text(text, 190)}};
        auto r =
            api.call("answerCallbackQuery", p.dump(-1, ' ', false, json::error_handler_t::replace),
                     std::chrono::milliseconds(5000));
        if (!r.ok()) log::warn("telegram: answerCallbackQuery failed", {{"error", r.describe()}});
    }

    // Records the update as handled (with the offset) in the caller's transaction.
    Result<void> claim(std::int64_t update_id) { return store.record_update(update_id, now()); }

    Result<void> refuse(std::int64_t user_id, const std::string& who, const std::string& what) {
        log::warn("telegram: refused a non-admin", {{"user", who}, {"what", what}});
        return store.record_refusal(user_id, who, what, "not an admin", now());
    }

    Result<void> handle(const json& u) {
        if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer())
            return make_error("update without update_id");
        const std::int64_t id = u["update_id"].get<std::int64_t>();
        auto seen = store.update_handled(id);
        if (!seen) return seen.error();
        if (*seen) {
            log::debug("telegram: update already handled", {{"update_id", std::to_string(id)}});
            return {};
        }
        if (u.contains("callback_query") && u["callback_query"].is_object())
            return on_callback(id, u["callback_query"]);
        if (u.contains("message") && u["message"].is_object()) {
            const json& m = u["message"];
            if (m.contains("text") && m["text"].is_string() &&
                m["text"].get<std::string>().rfind('/', 0) == 0)
                return on_command(id, m);
        }
        auto tx = session.begin();
        if (!tx) return tx.error();
        if (auto r = claim(id); !r) return r;
        return (*tx)->commit();
    }

    // ---- buttons ---------------------------------------------------------------

    Result<void> on_callback(std::int64_t update_id, const json& cq) {
        const std::string cq_id = cq.value("id", std::string());
        const json from = cq.value("from", json::object());
        const std::int64_t user_id = from.value("id", std::int64_t{0});
        const std::string who = actor_name(from);
        const std::string token =
            cq.contains("data") && cq["data"].is_string() ? cq["data"].get<std::string>() : "";
        std::int64_t chat_id = 0, message_id = 0;
        if (cq.contains("message") && cq["message"].is_object()) {
            const json& m = cq["message"];
            message_id = m.value("message_id", std::int64_t{0});
            if (m.contains("chat") && m["chat"].is_object())
                chat_id = m["chat"].value("id", std::int64_t{0});
        }

        std::optional<CallbackRow> cb;
        std::string refusal;
        {
            auto tx = session.begin();
            if (!tx) return tx.error();
            if (auto r = claim(update_id); !r) return r;
            auto found = store.callback(token);
            if (!found) return found.error();
            if (!is_admin(user_id)) {
                if (auto r =
                        refuse(user_id, who,
                               "button " + (*found ? (*found)->action : std::string("unknown")));
                    !r)
                    return r;
                refusal = "⛔ Not authorised: only configured admins can act.";
            } else if (!*found) {
                refusal = "Unknown button.";
            } else if ((*found)->used_at) {
                refusal = "Already used by " + (*found)->used_by + ".";
            } else if (now() >= (*found)->expires_at) {
                refusal = "This button has expired. Use /status or wait for a new message.";
            } else {
                auto used = store.use_callback(token, now(), who);
                if (!used) return used.error();
                if (!*used)
                    refusal = "Already used.";
                else
                    cb = *found;
            }
            if (cb && cb->stage == "offer" && needs_confirmation(cb->action)) {
                if (auto r = ask_confirmation(*cb, chat_id, message_id); !r) return r;
                if (auto c = (*tx)->commit(); !c) return c;
                bot.m_stats.callbacks_handled++;
                bot.wake_outbox();
                answer(cq_id, "Are you sure? Press the confirmation button.");
                return {};
            }
            if (auto c = (*tx)->commit(); !c) return c;
        }
        if (!refusal.empty()) {
            bot.m_stats.callbacks_refused++;
            answer(cq_id, refusal);
            return {};
        }
        bot.m_stats.callbacks_handled++;
        std::string result = perform(*cb, user_id, who);
        answer(cq_id, result);
        return {};
    }

    Result<void> ask_confirmation(const CallbackRow& cb, std::int64_t chat_id,
                                  std::int64_t message_id) {
        const std::int64_t t = now();
        CallbackRow yes = cb;
        yes.token = random_token();
        yes.stage = "confirm";
        yes.created_at = t;
        yes.expires_at = t + bot.m_options.confirm_ttl.count() * 1000;
        yes.used_at.reset();
        yes.used_by.clear();
        CallbackRow no = yes;
        no.token = random_token();
        no.action = "cancel";
        if (auto r = store.add_callback(yes); !r) return r;
        if (auto r = store.add_callback(no); !r) return r;
        std::string target =
            json::parse(cb.target, nullptr, false).value("username", std::string());
        Keyboard kb{{{"⚠ Yes: " + action_label(cb.action) + " " + clip_text(target, 40), yes.token},
                     {"✖ Cancel", no.token}}};
        json p{{"chat_id", chat_id},
               {"message_id", message_id},
               {"reply_markup", json::parse(keyboard_json(kb))}};
        auto r = store.enqueue(chat_id, "editMessageReplyMarkup",
                               p.dump(-1, ' ', false, json::error_handler_t::replace),
                               cb.incident_id, t);
        if (!r) return r.error();
        return {};
    }

    // Runs the button's action, records it in the incident message; returns the answer text.
    std::string perform(const CallbackRow& cb, std::int64_t user_id, const std::string& who) {
        auto target = json::parse(cb.target, nullptr, false);
        if (!target.is_object()) target = json::object();
        LogLine line{who, "", true};
        std::string answer_text;
        std::function<void(IncidentView&)> update;

        if (const ActionDescriptor* action = mitigation_of(cb.action)) {
            ActionRequest req;
            req.kind = action->kind;
            req.username = target.value("username", std::string());
            req.ips = target.value("ips", std::vector<std::string>{});
            req.senders = target.value("senders", std::vector<std::string>{});
            req.incident_id = cb.incident_id;
            req.actor = "telegram:" + std::to_string(user_id);
            req.reason = "Telegram button pressed by " + who;
            ActionOutcome out = bot.m_executor.execute(req);
            line.ok = out.ok;
            line.text = out.ok ? out.summary
                               : std::string(to_string(action->kind)) + " failed: " + out.error;
            answer_text = (out.ok ? "✅ " : "❌ ") + line.text;
            // Whether a mitigation shows as itself or as its Undo is read from the
            // blocks in force at each render; the view only keeps what is offered:
            // what cannot be undone goes once done, an undone kind may be done again.
            update = [action, ok = out.ok](IncidentView& v) {
                if (!ok) return;
                if (action->destructive()) erase(v.offered, to_string(action->kind));
                if (!action->forward)
                    if (const auto* f = catalog().undone_by(action->kind))
                        add_unique(v.offered, to_string(f->kind));
            };
        } else if (cb.action == "silence") {
            std::int64_t secs = target.value("duration_s", std::int64_t{3600});
            auto view = load(cb.incident_id);
            auto id = view ? bot.m_silencer(view->silence_matchers, std::chrono::seconds(secs), who,
                                            "saslguard incident #" + std::to_string(cb.incident_id))
                           : Result<std::string>(make_error("incident not found"));
            line.ok = id.ok();
            line.text =
                id ? "silenced for " + std::to_string(secs / 3600) + "h (silence " + *id + ")"
                   : "silence failed: " + id.error().message;
            answer_text = (line.ok ? "🔕 " : "❌ ") + line.text;
            update = [ok = line.ok](IncidentView& v) {
                if (ok) erase(v.offered, "silence");
            };
        } else if (cb.action == "ignore") {
            line.text = "ignored this incident";
            answer_text = "🙈 Ignored.";
            update = [](IncidentView& v) { v.closed = true; };
        } else if (cb.action == "cancel") {
            answer_text = "Cancelled.";
        } else {
            answer_text = "Unknown action.";
        }

        auto r = record(cb.incident_id,
                        line.text.empty() ? std::nullopt : std::optional<LogLine>(line), update);
        if (!r)
            log::error("telegram: could not update the incident message",
                       {{"error", r.error().message}});
        bot.wake_outbox();
        return answer_text;
    }

    std::optional<IncidentView> load(std::int64_t incident_id) {
        auto j = store.load_incident(incident_id);
        if (!j || !*j) return std::nullopt;
        return incident_view_from_json(**j);
    }

    Result<void> record(std::int64_t incident_id, std::optional<LogLine> line,
                        const std::function<void(IncidentView&)>& update) {
        auto tx = session.begin();
        if (!tx) return tx.error();
        auto view = load(incident_id);
        if (!view)
            return make_error("incident " + std::to_string(incident_id) +
                              " has no Telegram message");
        if (line) view->log.push_back(*line);
        if (update) update(*view);
        auto msgs = store.messages(incident_id);
        if (!msgs) return msgs.error();
        // Every admin chat that got the message sees the change; chats whose message
        // is still in the outbox get it through the pending edit as well.
        std::vector<std::int64_t> chats = bot.m_config.admin_chat_ids;
        for (const auto& m : *msgs) add_chat(chats, m.chat_id);
        if (auto r = publish_incident(store, *view, bot.m_options.blocks, chats, false, now(),
                                      bot.m_config.button_ttl);
            !r)
            return r;
        return (*tx)->commit();
    }

    static void add_chat(std::vector<std::int64_t>& chats, std::int64_t c) {
        if (std::find(chats.begin(), chats.end(), c) == chats.end()) chats.push_back(c);
    }

    // ---- commands --------------------------------------------------------------

    Result<void> on_command(std::int64_t update_id, const json& m) {
        const json from = m.value("from", json::object());
        const std::int64_t user_id = from.value("id", std::int64_t{0});
        const std::string who = actor_name(from);
        std::int64_t chat_id = user_id;
        if (m.contains("chat") && m["chat"].is_object()) chat_id = m["chat"].value("id", user_id);
        const std::string text = m["text"].get<std::string>();

        std::vector<std::string> words;
        for (std::size_t i = 0; i < text.size();) {
            while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n')) ++i;
            std::size_t j = i;
            while (j < text.size() && text[j] != ' ' && text[j] != '\t' && text[j] != '\n') ++j;
            if (j > i) words.push_back(text.substr(i, j - i));
            i = j;
        }
        std::string cmd = words.empty() ? "" : words[0];
        if (auto at = cmd.find('@'); at != std::string::npos) cmd.resize(at);  // "/status@MyBot"

        {
            auto tx = session.begin();
            if (!tx) return tx.error();
            if (auto r = claim(update_id); !r) return r;
            if (!is_admin(user_id)) {
                if (auto r = refuse(user_id, who, "command " + clip_text(cmd, 32)); !r) return r;
                auto q = store.enqueue(
                    chat_id, "sendMessage",
                    reply_payload(chat_id,
                                  "⛔ Not authorised: only configured admins can use this bot."),
                    0, now());
                if (!q) return q.error();
                if (auto c = (*tx)->commit(); !c) return c;
                bot.m_stats.commands_refused++;
                bot.wake_outbox();
                return {};
            }
            if (auto c = (*tx)->commit(); !c) return c;
        }
        bot.m_stats.commands_handled++;
        std::string reply = run_command(cmd, words, user_id, who);
        auto tx = session.begin();
        if (!tx) return tx.error();
        auto q = store.enqueue(chat_id, "sendMessage", reply_payload(chat_id, reply), 0, now());
        if (!q) return q.error();
        if (auto c = (*tx)->commit(); !c) return c;
        bot.wake_outbox();
        return {};
    }

    std::string run_command(const std::string& cmd, const std::vector<std::string>& words,
                            std::int64_t user_id, const std::string& who) {
        auto& be = bot.m_backend;
        if (cmd == "/help" || cmd == "/start") return help_text();
        if (cmd == "/status") {
            auto s = be.status();
            if (!s) return "❌ status unavailable: " + html_escape(s.error().message);
            std::string r =
                "<b>Open incidents:</b> " + std::to_string(s->open_incidents.size()) + "\n";
            std::size_t shown = 0;
            for (const auto& i : s->open_incidents) {
                if (shown++ == 15) {
                    r += "…\n";
                    break;
                }
                r += "• #" + std::to_string(i.id) + " " + html_escape(i.alertname);
                if (!i.username.empty()) r += " " + code(i.username);
                r += " since " + hhmm(i.opened_at_ms) + "\n";
            }
            r += "<b>Active blocks:</b> " + std::to_string(s->active_blocks) + "\n";
            r += "<b>Queue depth:</b> " +
                 (s->queue_depth ? std::to_string(*s->queue_depth) : std::string("unknown"));
            return r;
        }
        if (cmd == "/top") {
            auto t = be.top_users(10);
            if (!t) return "❌ top users unavailable: " + html_escape(t.error().message);
            if (t->empty()) return "No authenticated senders in the recent window.";
            std::string r = "<b>Top SASL users (messages, recent window):</b>\n";
            int i = 0;
            for (const auto& u : *t)
                r += std::to_string(++i) + ". " + code(u.name) + " — " + num(u.count) + "\n";
            return r;
        }
        if (cmd == "/queue") {
            auto q = be.queue();
            if (!q) return "❌ queue unavailable: " + html_escape(q.error().message);
            std::string r = "<b>Queue depth:</b> " +
                            (q->depth ? std::to_string(*q->depth) : std::string("unknown")) + "\n";
            if (!q->top_senders.empty()) r += "<b>Top senders:</b>\n";
            for (const auto& s : q->top_senders)
                r += "• " + code(s.name) + " — " + num(s.count) + "\n";
            return r;
        }
        if (cmd == "/blocked") {
            auto b = be.blocked();
            if (!b) return "❌ blocks unavailable: " + html_escape(b.error().message);
            if (b->empty()) return "No active blocks.";
            std::string r = "<b>Active blocks:</b> " + std::to_string(b->size()) + "\n";
            for (const auto& x : *b) {
                r += "• " + html_escape(x.kind) + " " + code(x.target) + " by " +
                     html_escape(x.actor);
                if (x.expires_at_ms) r += ", expires " + hhmm(*x.expires_at_ms);
                r += "\n";
            }
            return r;
        }
        const ActionDescriptor* action = catalog().find_bot_command(cmd);
        if (!action) return "Unknown command. /help lists what I understand.";
        if (words.size() != 2) return "Usage: " + html_escape(cmd) + " &lt;sasl username&gt;";
        const std::string& user = words[1];
        if (!validate::sasl_username(user))
            return "❌ Not a valid SASL username: " + code(clip_text(user, 64));
        ActionRequest req;
        req.kind = action->kind;
        req.username = user;
        req.actor = "telegram:" + std::to_string(user_id);
        req.reason = "Telegram command " + cmd + " by " + who;
        ActionOutcome out = bot.m_executor.execute(req);
        return out.ok ? "✅ " + html_escape(out.summary)
                      : "❌ " + html_escape(std::string(to_string(action->kind))) +
                            " failed: " + html_escape(out.error);
    }
};

TelegramBot::TelegramBot(TelegramConfig config, BotOptions options, ActionExecutor& executor,
                         CommandBackend& backend, SilenceFn silencer)
    : m_config(std::move(config)),
      m_options(std::move(options)),
      m_executor(executor),
      m_backend(backend),
      m_silencer(std::move(silencer)) {}

TelegramBot::~TelegramBot() {
    stop();
}

Result<void> TelegramBot::start() {
    if (!m_options.store) return make_error("telegram: no state store");
    auto a = m_options.store->session();
    if (!a) return make_error("telegram: " + a.error().message);
    auto b = m_options.store->session();
    if (!b) return make_error("telegram: " + b.error().message);
    m_outbox_session = std::move(*a);
    m_poll_session = std::move(*b);
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = false;
    }
    if (m_options.blocks)
        m_blocks_subscription =
            m_options.blocks->subscribe([this](const mitigation::BlockChange& c) {
                {
                    std::lock_guard<std::mutex> lock(m_mutex);
                    m_block_changes.push_back(c);
                    m_outbox_wake = true;
                }
                m_cv.notify_all();
            });
    m_outbox_thread = std::thread([this] { outbox_loop(); });
    m_poll_thread = std::thread([this] { poll_loop(); });
    log::info("telegram: bot started",
              {{"api_url", m_config.api_url},
               {"admin_chats", std::to_string(m_config.admin_chat_ids.size())},
               {"admin_users", std::to_string(m_config.admin_user_ids.size())}});
    return {};
}

void TelegramBot::stop() {
    if (m_options.blocks && m_blocks_subscription) {
        m_options.blocks->unsubscribe(m_blocks_subscription);
        m_blocks_subscription = 0;
    }
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_poll_thread.joinable()) m_poll_thread.join();
    if (m_outbox_thread.joinable()) m_outbox_thread.join();
}

void TelegramBot::wake_outbox() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_outbox_wake = true;
    }
    m_cv.notify_all();
}

bool TelegramBot::wait_for(std::chrono::milliseconds d, bool outbox) {
    std::unique_lock<std::mutex> lock(m_mutex);
    m_cv.wait_for(lock, d, [&] { return m_stop || (outbox && m_outbox_wake); });
    if (outbox) m_outbox_wake = false;
    return !m_stop;
}

void TelegramBot::outbox_loop() {
    BotApi api(m_config.api_url, m_config.bot_token);
    OutboxSender sender(m_outbox_session->telegram(), api, m_stats, m_options.outbox,
                        m_options.now);
    sender.refresh_pending();
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stop) return;
        }
        refresh_for_block_changes(*m_outbox_session);
        auto r = sender.send_one();
        if (!r) {
            log::error("telegram: outbox store error", {{"error", r.error().message}});
            if (!wait_for(std::chrono::seconds(1), true)) return;
            continue;
        }
        sender.refresh_pending();
        if (*r) continue;
        // Nothing due: sleep until the next row is due, a wake-up, or 1s (rows queued
        // by other processes, e.g. saslguardctl, have nobody to wake us).
        std::chrono::milliseconds d(1000);
        if (auto next = sender.next_wakeup(); next && *next) {
            std::int64_t in = **next - m_options.now();
            d = std::chrono::milliseconds(std::clamp<std::int64_t>(in, 1, 1000));
        }
        if (!wait_for(d, true)) return;
    }
}

void TelegramBot::refresh_for_block_changes(store::Session& session) {
    std::vector<mitigation::BlockChange> changes;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        changes.swap(m_block_changes);
    }
    if (changes.empty()) return;
    std::vector<std::int64_t> incidents;
    auto add = [&](std::int64_t id) {
        if (id && std::find(incidents.begin(), incidents.end(), id) == incidents.end())
            incidents.push_back(id);
    };
    for (const auto& c : changes) {
        // The worker (auto) and the button handler (telegram:…) render the
        // incident they act for themselves; every other incident concerned —
        // the block's own, and those about the same user — is refreshed here.
        const bool rendered = c.actor == "auto" || c.actor.rfind("telegram:", 0) == 0;
        for (const auto* list : {&c.added, &c.removed})
            for (const auto& b : *list) {
                if (!(rendered && b.incident_id == c.incident_id)) add(b.incident_id);
                const auto* applier = catalog().applier_of_block(b.kind);
                if (!applier || applier->target != mitigation::TargetKind::Login) continue;
                if (auto ids = session.alerts().incidents_of_user(b.target, 20))
                    for (auto id : *ids)
                        if (!(rendered && id == c.incident_id)) add(id);
            }
    }
    for (auto id : incidents) {
        auto r = [&]() -> Result<void> {
            auto tx = session.begin();
            if (!tx) return tx.error();
            auto& store = session.telegram();
            auto json = store.load_incident(id);
            if (!json) return json.error();
            if (!*json) return {};  // no message for it (before Telegram was enabled)
            auto view = incident_view_from_json(**json);
            if (!view) return {};
            auto msgs = store.messages(id);
            if (!msgs) return msgs.error();
            std::vector<std::int64_t> chats = m_config.admin_chat_ids;
            for (const auto& m : *msgs)
                if (std::find(chats.begin(), chats.end(), m.chat_id) == chats.end())
                    chats.push_back(m.chat_id);
            if (auto p = publish_incident(store, *view, m_options.blocks, chats, false,
                                          m_options.now(), m_config.button_ttl);
                !p)
                return p;
            return (*tx)->commit();
        }();
        if (!r)
            log::warn("telegram: could not refresh an incident message after a block change",
                      {{"incident", std::to_string(id)}, {"error", r.error().message}});
    }
}

Result<int> TelegramBot::poll_once(store::Session& session, BotApi& api) {
    auto offset = session.telegram().offset();
    if (!offset) return offset.error();
    json req{{"timeout", m_config.poll_timeout.count()},
             {"allowed_updates", {"message", "callback_query"}}};
    if (*offset > 0) req["offset"] = *offset;
    auto r = api.call("getUpdates", req.dump(),
                      std::chrono::milliseconds(m_config.poll_timeout) + std::chrono::seconds(10));
    if (!r.ok()) {
        m_stats.poll_errors++;
        return make_error("getUpdates: " + r.describe());
    }
    auto updates = json::parse(r.result_json, nullptr, false);
    if (!updates.is_array()) return make_error("getUpdates: result is not an array");
    Handler h{*this, session, session.telegram(), api};
    // An update whose fields have the wrong JSON types (a hostile or broken api_url)
    // makes nlohmann's value() throw. Uncaught, that would end the receiver; returned
    // as an error, the same update would be fetched and fail forever. So it is logged,
    // recorded as handled (its own transaction; the failed one rolled back) and skipped.
    auto handle_guarded = [&h](const json& u) -> Result<void> {
        try {
            return h.handle(u);
        } catch (const std::exception& ex) {
            log::warn("telegram: malformed update skipped", {{"error", ex.what()}});
            if (!u.is_object() || !u.contains("update_id") || !u["update_id"].is_number_integer())
                return {};
            auto tx = h.session.begin();
            if (!tx) return tx.error();
            if (auto r = h.claim(u["update_id"].get<std::int64_t>()); !r) return r;
            return (*tx)->commit();
        }
    };
    int n = 0;
    for (const auto& u : updates) {
        if (auto e = handle_guarded(u); !e) {
            log::error("telegram: update not handled", {{"error", e.error().message}});
            return e.error();  // retried on the next round: nothing was committed for it
        }
        ++n;
    }
    return n;
}

void TelegramBot::poll_loop() {
    BotApi api(m_config.api_url, m_config.bot_token);
    int failures = 0;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stop) return;
        }
        const std::int64_t t0 = m_options.now();
        auto r = poll_once(*m_poll_session, api);
        if (!r) {
            ++failures;
            std::int64_t delay = std::min<std::int64_t>(60000, 1000LL << std::min(failures - 1, 6));
            log::warn("telegram: polling failed",
                      {{"error", r.error().message}, {"retry_in_ms", std::to_string(delay)}});
            if (!wait_for(std::chrono::milliseconds(delay), false)) return;
            continue;
        }
        failures = 0;
        // A server that answers an empty getUpdates at once (no long polling, e.g. an
        // emulator) would make this loop spin: pause briefly.
        if (*r == 0 && m_options.now() - t0 < m_options.idle_poll.count()) {
            if (!wait_for(m_options.idle_poll, false)) return;
        }
    }
}

TelegramNotifier::TelegramNotifier(TelegramConfig config, std::unique_ptr<store::Session> session,
                                   TelegramBot* bot, Clock now)
    : m_config(std::move(config)),
      m_session(std::move(session)),
      m_bot(bot),
      m_now(std::move(now)) {}

const mitigation::ActiveBlocks* TelegramNotifier::blocks() const {
    return m_bot ? m_bot->blocks() : nullptr;
}

Result<void> TelegramNotifier::incident_opened(const IncidentNotice& notice) {
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    auto existing = m_session->telegram().load_incident(notice.incident_id);
    if (!existing) return existing.error();
    if (*existing) return (*tx)->commit();  // notified before (at-least-once delivery)
    IncidentView view = view_from_notice(notice, m_config);
    if (auto r = publish_incident(m_session->telegram(), view, blocks(), m_config.admin_chat_ids,
                                  true, m_now(), m_config.button_ttl);
        !r)
        return make_error("telegram: " + r.error().message);
    if (auto c = (*tx)->commit(); !c) return c;
    if (m_bot) m_bot->wake_outbox();
    return {};
}

Result<void> TelegramNotifier::incident_resolved(const IncidentNotice& notice) {
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    auto existing = m_session->telegram().load_incident(notice.incident_id);
    if (!existing) return existing.error();
    std::optional<IncidentView> view;
    if (*existing) view = incident_view_from_json(**existing);
    const bool initial = !view;
    if (!view) view = view_from_notice(notice, m_config);
    if (view->resolved && !initial) return (*tx)->commit();
    view->resolved = true;
    erase(view->offered, "silence");  // nothing left to silence
    if (auto r = publish_incident(m_session->telegram(), *view, blocks(), m_config.admin_chat_ids,
                                  initial, m_now(), m_config.button_ttl);
        !r)
        return make_error("telegram: " + r.error().message);
    if (auto c = (*tx)->commit(); !c) return c;
    if (m_bot) m_bot->wake_outbox();
    return {};
}

}  // namespace saslguard::receiver::telegram
