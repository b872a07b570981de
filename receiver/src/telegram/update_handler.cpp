#include <algorithm>

#include "handler.hpp"
#include "saslguard/common/log.hpp"

namespace saslguard::receiver::telegram {

bool UpdateHandler::is_admin(std::int64_t user_id) const {
    const auto& ids = m_bot.config.admin_user_ids;
    return std::find(ids.begin(), ids.end(), user_id) != ids.end();
}

// Records the update as handled (with the offset) in the caller's transaction.
Result<void> UpdateHandler::claim(std::int64_t update_id) {
    return m_store.record_update(update_id, now());
}

// Refused presses and commands are logged and kept in telegram_refusals (pruned
// after BotOptions::refusal_retention).
Result<bool> UpdateHandler::refuse(const TelegramUser& who, const std::string& what) {
    auto last = m_store.last_refusal_at(who.id);
    if (!last) return last.error();
    const bool reply =
        !*last ||
        now() - **last >= std::chrono::milliseconds(m_bot.options.refusal_reply_interval).count();
    log::warn("telegram: refused a non-admin",
              {{"user", who.display()}, {"what", what}, {"reply", reply ? "yes" : "no"}});
    if (auto r = m_store.record_refusal(who.id, who.display(), what, "not an admin", now()); !r)
        return r.error();
    return reply;
}

Result<void> UpdateHandler::skip(std::int64_t update_id) {
    auto tx = m_session.begin();
    if (!tx) return tx.error();
    if (auto r = claim(update_id); !r) return r;
    return (*tx)->commit();
}

Result<void> UpdateHandler::handle(const Update& u) {
    auto seen = m_store.update_handled(u.update_id);
    if (!seen) return seen.error();
    if (*seen) {
        log::debug("telegram: update already handled",
                   {{"update_id", std::to_string(u.update_id)}});
        return {};
    }
    if (const auto* press = std::get_if<ButtonPress>(&u.what)) return on_press(u.update_id, *press);
    if (const auto* command = std::get_if<Command>(&u.what))
        return on_command(u.update_id, *command);
    return skip(u.update_id);  // nothing the bot handles
}

}  // namespace saslguard::receiver::telegram
