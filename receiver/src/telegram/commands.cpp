// Commands: the read-only ones (/status /top /queue /blocked /help) rendered
// from the CommandBackend, and the mitigations the catalog gives a command
// (/block /unblock /hold /release), run through the executor. Only admins.
#include <nlohmann/json.hpp>

#include "handler.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/telegram/replies.hpp"

namespace saslguard::receiver::telegram {
namespace {

using mitigation::catalog;

// The /help text: the read-only commands, then every mitigation the catalog
// gives a bot command.
std::string help_text() {
    std::string t =
        "<b>saslguard bot</b>\n"
        "/status — open incidents, active blocks, queue depth\n"
        "/top — who sends the most right now\n"
        "/queue — queue size and the most queued senders\n"
        "/blocked — active blocks\n";
    for (const auto* a : catalog().actions())
        if (!a->bot_command.empty())
            t += std::string(a->bot_command) + " &lt;user&gt; — " + std::string(a->bot_help) + "\n";
    return t + "/help — this text\nOnly configured admins may use the bot.";
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
        return s ? render_status(*s, m_bot.config.host_name)
                 : "❌ status unavailable: " + html_escape(s.error().message);
    }
    if (cmd == "/top") {
        auto t = be.top_users(10);
        return t ? render_top(*t, m_bot.config.host_name)
                 : "❌ top users unavailable: " + html_escape(t.error().message);
    }
    if (cmd == "/queue") {
        auto q = be.queue();
        return q ? render_queue(*q, m_bot.config.host_name)
                 : "❌ queue unavailable: " + html_escape(q.error().message);
    }
    if (cmd == "/blocked") {
        auto b = be.blocked();
        return b ? render_blocked(*b, m_bot.config.host_name)
                 : "❌ blocks unavailable: " + html_escape(b.error().message);
    }
    const auto* action = catalog().find_bot_command(cmd);
    if (!action) return "Unknown command. /help lists what I understand.";
    if (c.words.size() != 2) return "Usage: " + html_escape(cmd) + " &lt;sasl username&gt;";
    const std::string& user = c.words[1];
    if (!validate::sasl_username(user))
        return "❌ Not a valid SASL username: " + html_code(clip_text(user, 64));
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
