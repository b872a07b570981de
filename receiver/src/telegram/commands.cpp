// Commands: the read-only ones (/status /top /queue /blocked /help) rendered
// from the CommandBackend, and the mitigations the catalog gives a command
// (/block /unblock /hold /release), run through the executor. Only admins.
#include <nlohmann/json.hpp>

#include "handler.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::telegram {
namespace {

using mitigation::catalog;

std::string code(std::string_view s) {
    return "<code>" + html_escape(s) + "</code>";
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

std::string render_status(const StatusInfo& s) {
    std::string r = "<b>Open incidents:</b> " + std::to_string(s.open_incidents.size()) + "\n";
    std::size_t shown = 0;
    for (const auto& i : s.open_incidents) {
        if (shown++ == 15) {
            r += "…\n";
            break;
        }
        r += "• #" + std::to_string(i.id) + " " + html_escape(i.alertname);
        if (!i.username.empty()) r += " " + code(i.username);
        r += " since " + format::utc_minutes(i.opened_at_ms) + "\n";
    }
    r += "<b>Active blocks:</b> " + std::to_string(s.active_blocks) + "\n";
    r += "<b>Queue depth:</b> " +
         (s.queue_depth ? std::to_string(*s.queue_depth) : std::string("unknown"));
    return r;
}

std::string render_top(const std::vector<UserCount>& top) {
    if (top.empty()) return "No authenticated senders in the recent window.";
    std::string r = "<b>Top SASL users (messages, recent window):</b>\n";
    int i = 0;
    for (const auto& u : top)
        r += std::to_string(++i) + ". " + code(u.name) + " — " + format::compact(u.count) + "\n";
    return r;
}

std::string render_queue(const QueueInfo& q) {
    std::string r = "<b>Queue depth:</b> " +
                    (q.depth ? std::to_string(*q.depth) : std::string("unknown")) + "\n";
    if (!q.top_senders.empty()) r += "<b>Top senders:</b>\n";
    for (const auto& s : q.top_senders)
        r += "• " + code(s.name) + " — " + format::compact(s.count) + "\n";
    return r;
}

std::string render_blocked(const std::vector<BlockInfo>& blocks) {
    if (blocks.empty()) return "No active blocks.";
    std::string r = "<b>Active blocks:</b> " + std::to_string(blocks.size()) + "\n";
    for (const auto& x : blocks) {
        r += "• " + html_escape(x.kind) + " " + code(x.target) + " by " + html_escape(x.actor);
        if (x.expires_at_ms) r += ", expires " + format::utc_minutes(*x.expires_at_ms);
        r += "\n";
    }
    return r;
}

}  // namespace

std::string reply_payload(std::int64_t chat_id, const std::string& html) {
    nlohmann::json p{{"chat_id", chat_id},
                     {"text", truncate_html(html)},
                     {"parse_mode", "HTML"},
                     {"disable_web_page_preview", true}};
    return p.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<void> UpdateHandler::on_command(std::int64_t update_id, const Command& c) {
    {
        auto tx = m_session.begin();
        if (!tx) return tx.error();
        if (auto r = claim(update_id); !r) return r;
        if (!is_admin(c.from.id)) {
            auto reply = refuse(c.from, "command " + clip_text(c.name, 32));
            if (!reply) return reply.error();
            if (*reply) {
                auto q = m_store.enqueue(
                    c.chat_id, "sendMessage",
                    reply_payload(c.chat_id,
                                  "⛔ Not authorised: only configured admins can use this bot."),
                    0, now());
                if (!q) return q.error();
            }
            if (auto r = (*tx)->commit(); !r) return r;
            m_bot.stats.commands_refused++;
            m_bot.wake_outbox();
            return {};
        }
        if (auto r = (*tx)->commit(); !r) return r;
    }
    m_bot.stats.commands_handled++;
    std::string reply = run_command(c);
    auto tx = m_session.begin();
    if (!tx) return tx.error();
    auto q = m_store.enqueue(c.chat_id, "sendMessage", reply_payload(c.chat_id, reply), 0, now());
    if (!q) return q.error();
    if (auto r = (*tx)->commit(); !r) return r;
    m_bot.wake_outbox();
    return {};
}

std::string UpdateHandler::run_command(const Command& c) {
    auto& be = m_bot.backend;
    const std::string& cmd = c.name;
    if (cmd == "/help" || cmd == "/start") return help_text();
    if (cmd == "/status") {
        auto s = be.status();
        return s ? render_status(*s) : "❌ status unavailable: " + html_escape(s.error().message);
    }
    if (cmd == "/top") {
        auto t = be.top_users(10);
        return t ? render_top(*t) : "❌ top users unavailable: " + html_escape(t.error().message);
    }
    if (cmd == "/queue") {
        auto q = be.queue();
        return q ? render_queue(*q) : "❌ queue unavailable: " + html_escape(q.error().message);
    }
    if (cmd == "/blocked") {
        auto b = be.blocked();
        return b ? render_blocked(*b) : "❌ blocks unavailable: " + html_escape(b.error().message);
    }
    const auto* action = catalog().find_bot_command(cmd);
    if (!action) return "Unknown command. /help lists what I understand.";
    if (c.words.size() != 2) return "Usage: " + html_escape(cmd) + " &lt;sasl username&gt;";
    const std::string& user = c.words[1];
    if (!validate::sasl_username(user))
        return "❌ Not a valid SASL username: " + code(clip_text(user, 64));
    ActionRequest req;
    req.kind = action->kind;
    req.username = user;
    req.actor = "telegram:" + std::to_string(c.from.id);
    req.reason = "Telegram command " + cmd + " by " + c.from.display();
    ActionOutcome out = m_bot.executor.execute(req);
    return out.ok ? "✅ " + html_escape(out.summary)
                  : "❌ " + html_escape(std::string(to_string(action->kind))) +
                        " failed: " + html_escape(out.error);
}

}  // namespace saslguard::receiver::telegram
