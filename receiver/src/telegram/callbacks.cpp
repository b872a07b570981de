// Button presses: only admins, each token once and only before it expires;
// what needs confirming asks with a second button first; the action runs
// through the same executor as everything else, and the incident message shows
// who did what.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "handler.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/fleet/coordination.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::telegram {
namespace {

using mitigation::ActionDescriptor;
using mitigation::catalog;
using nlohmann::json;

// The mitigation a button names, if it is one (silence, ignore, cancel are not).
const ActionDescriptor* mitigation_of(std::string_view action) {
    auto kind = action_kind_from_string(action);
    return kind ? catalog().find(*kind) : nullptr;
}

void erase(std::vector<std::string>& v, std::string_view s) {
    v.erase(std::remove(v.begin(), v.end(), s), v.end());
}
void add_unique(std::vector<std::string>& v, std::string_view s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.emplace_back(s);
}

// A string list of a stored button target; a wrong type is an empty list.
std::vector<std::string> strings(const json& target, const char* key) {
    std::vector<std::string> out;
    if (auto it = target.find(key); it != target.end() && it->is_array())
        for (const auto& v : *it)
            if (v.is_string()) out.push_back(v.get<std::string>());
    return out;
}
std::string text(const json& target, const char* key) {
    auto it = target.find(key);
    return it != target.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

void UpdateHandler::answer(const std::string& query_id, const std::string& text) {
    json p{{"callback_query_id", query_id}, {"text", clip_text(text, 190)}};
    auto r =
        m_api.call("answerCallbackQuery", p.dump(-1, ' ', false, json::error_handler_t::replace),
                   std::chrono::milliseconds(5000));
    if (!r.ok()) log::warn("telegram: answerCallbackQuery failed", {{"error", r.describe()}});
}

Result<void> UpdateHandler::on_press(std::int64_t update_id, const ButtonPress& pressed) {
    // In a fleet the data also names the host and incident (the poller routes
    // by them); the token alone is what this host issued.
    ButtonPress press = pressed;
    press.data = fleet::parse_callback_data(pressed.data).token;
    const std::string who = press.from.display();
    std::optional<CallbackRow> cb;
    std::string refusal;
    bool quiet = false;  // a stranger told recently: not answered again
    {
        auto tx = m_session.begin();
        if (!tx) return tx.error();
        if (auto r = claim(update_id); !r) return r;
        auto found = m_store.callback(press.data);
        if (!found) return found.error();
        if (!is_admin(press.from.id)) {
            auto reply = refuse(press.from,
                                "button " + (*found ? (*found)->action : std::string("unknown")));
            if (!reply) return reply.error();
            quiet = !*reply;
            refusal = "⛔ Not authorised: only configured admins can act.";
        } else if (!*found) {
            refusal = "Unknown button.";
        } else if ((*found)->used_at) {
            refusal = "Already used by " + (*found)->used_by + ".";
        } else if (now() >= (*found)->expires_at) {
            refusal = "This button has expired. Use /status or wait for a new message.";
        } else {
            auto used = m_store.use_callback(press.data, now(), who);
            if (!used) return used.error();
            if (!*used)
                refusal = "Already used.";
            else
                cb = *found;
        }
        // Destructive or hard to take back for a real user (the catalog says
        // which): a second, confirming press first.
        const auto* action = cb ? mitigation_of(cb->action) : nullptr;
        if (cb && cb->stage == "offer" && action && action->confirm) {
            if (auto r = ask_confirmation(*cb, press.chat_id, press.message_id); !r) return r;
            if (auto c = (*tx)->commit(); !c) return c;
            m_bot.stats.callbacks_handled++;
            m_bot.wake_outbox();
            answer(press.query_id, "Are you sure? Press the confirmation button.");
            return {};
        }
        if (auto c = (*tx)->commit(); !c) return c;
    }
    if (!refusal.empty()) {
        m_bot.stats.callbacks_refused++;
        if (!quiet) answer(press.query_id, refusal);
        return {};
    }
    m_bot.stats.callbacks_handled++;
    answer(press.query_id, perform(*cb, press.from));
    return {};
}

Result<void> UpdateHandler::ask_confirmation(const CallbackRow& cb, std::int64_t chat_id,
                                             std::int64_t message_id) {
    const std::int64_t t = now();
    CallbackRow yes = cb;
    yes.token = random_token();
    yes.stage = "confirm";
    yes.created_at = t;
    yes.expires_at = t + m_bot.options.confirm_ttl.count() * 1000;
    yes.used_at.reset();
    yes.used_by.clear();
    CallbackRow no = yes;
    no.token = random_token();
    no.action = "cancel";
    if (auto r = m_store.add_callback(yes); !r) return r;
    if (auto r = m_store.add_callback(no); !r) return r;
    auto target = json::parse(cb.target, nullptr, false);
    // What the press acts on: the addresses for Block IPs (every one), else the user.
    std::string what = target.is_object() ? text(target, "username") : "";
    if (auto ips = strings(target, "ips"); !ips.empty()) {
        what.clear();
        for (const auto& ip : ips) what += (what.empty() ? "" : ", ") + ip;
    }
    const std::string& host = m_bot.config.fleet_host;
    Keyboard kb{{{"⚠ Yes: " + action_label(cb.action) + " " + clip_text(what, 48),
                  fleet::callback_data(host, cb.incident_id, yes.token)},
                 {"✖ Cancel", fleet::callback_data(host, cb.incident_id, no.token)}}};
    json p{{"chat_id", chat_id},
           {"message_id", message_id},
           {"reply_markup", json::parse(keyboard_json(kb))}};
    auto r =
        m_store.enqueue(chat_id, "editMessageReplyMarkup",
                        p.dump(-1, ' ', false, json::error_handler_t::replace), cb.incident_id, t);
    if (!r) return r.error();
    return {};
}

// Runs the button's action, records it in the incident message; returns the answer text.
std::string UpdateHandler::perform(const CallbackRow& cb, const TelegramUser& from) {
    auto target = json::parse(cb.target, nullptr, false);
    if (!target.is_object()) target = json::object();
    const std::string who = from.display();
    LogLine line{who, "", true};
    std::string answer_text;
    std::function<void(IncidentView&)> update;

    if (const ActionDescriptor* action = mitigation_of(cb.action)) {
        ActionRequest req;
        req.kind = action->kind;
        req.username = text(target, "username");
        req.ips = strings(target, "ips");
        req.senders = strings(target, "senders");
        req.incident_id = cb.incident_id;
        req.actor = "telegram:" + std::to_string(from.id);
        req.reason = "Telegram button pressed by " + who;
        ActionOutcome out = m_bot.executor.execute(req);
        line.ok = out.ok;
        line.text =
            out.ok ? out.summary : std::string(to_string(action->kind)) + " failed: " + out.error;
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
        std::int64_t secs = 3600;
        if (auto it = target.find("duration_s"); it != target.end() && it->is_number_integer())
            secs = it->get<std::int64_t>();
        auto view = load(cb.incident_id);
        auto id = view ? m_bot.silencer(view->silence_matchers, std::chrono::seconds(secs), who,
                                        "saslguard incident #" + std::to_string(cb.incident_id))
                       : Result<std::string>(make_error("incident not found"));
        line.ok = id.ok();
        line.text = id ? "silenced for " + std::to_string(secs / 3600) + "h (silence " + *id + ")"
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

    auto r = record(cb.incident_id, line.text.empty() ? std::nullopt : std::optional<LogLine>(line),
                    update);
    if (!r)
        log::error("telegram: could not update the incident message",
                   {{"error", r.error().message}});
    m_bot.wake_outbox();
    return answer_text;
}

std::optional<IncidentView> UpdateHandler::load(std::int64_t incident_id) {
    auto j = m_store.load_incident(incident_id);
    if (!j || !*j) return std::nullopt;
    return incident_view_from_json(**j);
}

// Adds `line` and applies `update` to the incident's view, then re-renders it
// in every chat (from the blocks in force).
Result<void> UpdateHandler::record(std::int64_t incident_id, std::optional<LogLine> line,
                                   const std::function<void(IncidentView&)>& update) {
    auto tx = m_session.begin();
    if (!tx) return tx.error();
    auto view = load(incident_id);
    if (!view)
        return make_error("incident " + std::to_string(incident_id) + " has no Telegram message");
    if (line) view->log.push_back(*line);
    if (update) update(*view);
    auto msgs = m_store.messages(incident_id);
    if (!msgs) return msgs.error();
    // Every admin chat that got the message sees the change; chats whose message
    // is still in the outbox get it through the pending edit as well.
    std::vector<std::int64_t> chats = m_bot.config.admin_chat_ids;
    for (const auto& m : *msgs)
        if (std::find(chats.begin(), chats.end(), m.chat_id) == chats.end())
            chats.push_back(m.chat_id);
    if (auto r = publish_incident(m_store, *view, m_bot.options.blocks, chats, false, now(),
                                  m_bot.config.button_ttl);
        !r)
        return r;
    return (*tx)->commit();
}

}  // namespace saslguard::receiver::telegram
