// The bot's two threads: the outbox (sending, and re-rendering incident
// messages when the blocks in force change) and the poller (getUpdates, each
// update handled by an UpdateHandler: callbacks.cpp, commands.cpp).
#include "saslguard/receiver/telegram/bot.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "handler.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::telegram {

using nlohmann::json;

TelegramBot::TelegramBot(TelegramConfig config, BotOptions options, ActionExecutor& executor,
                         CommandBackend& backend, SilenceFn silencer)
    : m_config(std::move(config)),
      m_options(std::move(options)),
      m_executor(executor),
      m_backend(backend),
      m_silencer(std::move(silencer)),
      m_context(new BotContext{m_config, m_options, m_executor, m_backend, m_silencer, m_stats,
                               [this] { wake_outbox(); }}),
      m_poll_limit(std::max(1, m_options.poll_limit)) {}

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
    if (m_options.front) {
        auto c = m_options.store->session();
        if (!c) return make_error("telegram: " + c.error().message);
        m_inbox_session = std::move(*c);
    }
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
    if (m_options.front) m_inbox_thread = std::thread([this] { inbox_loop(); });
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
    if (m_inbox_thread.joinable()) m_inbox_thread.join();
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
                const auto* applier = mitigation::catalog().applier_of_block(b.kind);
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
            auto stored = store.load_incident(id);
            if (!stored) return stored.error();
            if (!*stored) return {};  // no message for it (before Telegram was enabled)
            auto view = incident_view_from_json(**stored);
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

namespace {

// A press as the Bot API sends it (one update), for the host that handles it.
std::string press_update_json(std::int64_t update_id, const ButtonPress& p) {
    json from{{"id", p.from.id}, {"first_name", p.from.first_name}};
    if (!p.from.username.empty()) from["username"] = p.from.username;
    json u{{"update_id", update_id},
           {"callback_query",
            {{"id", p.query_id},
             {"from", from},
             {"message", {{"message_id", p.message_id}, {"chat", {{"id", p.chat_id}}}}},
             {"data", p.data}}}};
    return u.dump(-1, ' ', false, json::error_handler_t::replace);
}

// The chat is told, once, that a press waits for a host that does not answer
// (or names no host of the fleet). Plain text (no parse_mode): the host name
// comes from callback_data, which a modified client can forge.
void tell_late_request(BotApi& api, const fleet::LateRequest& q) {
    json u = json::parse(q.payload_json, nullptr, false);
    const json* m = nullptr;
    if (u.is_object() && u.contains("callback_query") && u["callback_query"].is_object() &&
        u["callback_query"].contains("message") && u["callback_query"]["message"].is_object())
        m = &u["callback_query"]["message"];
    if (!m || !m->contains("chat") || !(*m)["chat"].is_object() ||
        !(*m)["chat"].value("id", json()).is_number_integer()) {
        log::warn("telegram: a late fleet request names no chat",
                  {{"request", std::to_string(q.id)}});
        return;
    }
    std::string host = q.host.substr(0, 64);
    std::string text;
    if (q.host_silent_for)
        text =
            "⏳ " + host + " has not taken this action (its receiver is not answering: last seen " +
            std::to_string(*q.host_silent_for) + " s ago); it will run when " + host + " is back.";
    else
        text = "⚠️ " + host + " is no receiver of this fleet: the action was not taken.";
    json req{{"chat_id", (*m)["chat"]["id"]}, {"text", text}};
    if ((*m).value("message_id", json()).is_number_integer())
        req["reply_parameters"] = {{"message_id", (*m)["message_id"]},
                                   {"allow_sending_without_reply", true}};
    auto r = api.call("sendMessage", req.dump(-1, ' ', false, json::error_handler_t::replace),
                      std::chrono::seconds(10));
    if (!r.ok())
        log::warn("telegram: could not tell the chat about a late fleet request",
                  {{"request", std::to_string(q.id)}, {"error", r.describe()}});
    else
        log::info("telegram: a press waits for a host that does not answer",
                  {{"request", std::to_string(q.id)}, {"host", host}});
}

}  // namespace

// Fleet: the update is claimed in PostgreSQL before anything acts on it; a
// press goes to the host its callback_data names (this one included) as a
// request row, in the same transaction as the claim.
Result<void> TelegramBot::route(UpdateHandler& handler, const Update& u) {
    fleet::TelegramFront& front = *m_options.front;
    if (const auto* press = std::get_if<ButtonPress>(&u.what)) {
        auto address = fleet::parse_callback_data(press->data);
        // A button without a host is from before the fleet: this host's.
        const std::string host = address.host.empty() ? front.host() : address.host;
        auto r = front.forward_press(u.update_id, host, address.incident_id, press->from.display(),
                                     press_update_json(u.update_id, *press));
        if (!r) return r.error();
        if (*r && host != front.host())
            log::info("telegram: press forwarded to its host",
                      {{"host", host},
                       {"incident", std::to_string(address.incident_id)},
                       {"update_id", std::to_string(u.update_id)}});
        return {};
    }
    auto claimed = front.claim_update(
        u.update_id, std::holds_alternative<Command>(u.what) ? "command" : "ignored");
    if (!claimed) return claimed.error();
    if (!*claimed) return {};
    // Handled here once: a failure now is logged, not retried (at most once).
    if (auto r = handler.handle(u); !r)
        log::error("telegram: update claimed but not handled", {{"error", r.error().message}});
    return {};
}

void TelegramBot::inbox_loop() {
    BotApi api(m_config.api_url, m_config.bot_token);
    fleet::TelegramFront& front = *m_options.front;
    UpdateHandler handler(*m_context, *m_inbox_session, api);
    bool down = false;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stop) return;
        }
        auto req = front.take_request();
        if (!req && !down)  // once per outage
            log::warn("telegram: fleet requests not readable (PostgreSQL)",
                      {{"error", req.error().message}});
        down = !req;
        if (!req || !*req) {
            front.wait_for_request(std::chrono::seconds(1));
            continue;
        }
        const auto& q = **req;
        auto parsed = parse_update(q.payload_json);
        Result<void> done =
            parsed.update ? handler.handle(*parsed.update) : Result<void>(parsed.update.error());
        if (!done)
            log::error("telegram: fleet request failed",
                       {{"request", std::to_string(q.id)}, {"error", done.error().message}});
        else
            log::info("telegram: fleet request handled",
                      {{"request", std::to_string(q.id)},
                       {"update_id", std::to_string(q.update_id)},
                       {"polled_by", q.forwarded_by}});
        if (auto f = front.finish_request(q.id, done.ok(), done ? "handled" : done.error().message);
            !f)
            log::warn("telegram: fleet request result not recorded",
                      {{"error", f.error().message}});
    }
}

Result<int> TelegramBot::poll_once(store::Session& session, BotApi& api) {
    fleet::TelegramFront* front = m_options.front;
    auto offset = front ? front->offset() : session.telegram().offset();
    if (!offset) return offset.error();
    json req{{"timeout", m_config.poll_timeout.count()},
             {"allowed_updates", {"message", "callback_query"}},
             {"limit", m_poll_limit}};
    if (m_drop_backlog)
        req["offset"] = -1;  // Bot API: only the newest update, all before it forgotten
    else if (*offset > 0)
        req["offset"] = *offset;
    auto r = api.call("getUpdates", req.dump(),
                      std::chrono::milliseconds(m_config.poll_timeout) + std::chrono::seconds(10));
    if (!r.ok() && !r.too_large) {
        m_stats.poll_errors++;
        return make_error("getUpdates: " + r.describe());
    }
    auto updates = r.too_large ? Result<std::vector<ParsedUpdate>>(make_error(r.describe()))
                               : parse_updates(r.result_json);
    if (!updates) return unreadable_answer(session, *offset, updates.error().message);
    m_poll_limit = std::max(1, m_options.poll_limit);
    m_drop_backlog = false;
    UpdateHandler handler(*m_context, session, api);
    int n = 0;
    // Where the next getUpdates starts as far as this answer tells: update ids are
    // sequential, so an element without one stands for the id after the previous.
    std::optional<std::int64_t> next;
    if (*offset > 0) next = *offset;
    bool without_id = false;
    for (const auto& u : *updates) {
        if (u.update_id)
            next = std::max(next.value_or(0), *u.update_id + 1);
        else if (next)
            ++*next;
        // A malformed update (a field of the wrong type, from a hostile or broken
        // api_url) is logged, marked handled and skipped: never acted on, never
        // fetched again, never the end of the bot.
        if (!u.update) {
            log::warn("telegram: malformed update skipped", {{"error", u.update.error().message}});
            if (u.update_id) {
                if (front) {
                    if (auto s = front->claim_update(*u.update_id, "malformed"); !s)
                        return s.error();
                } else if (auto s = handler.skip(*u.update_id); !s) {
                    return s.error();
                }
            } else {
                without_id = true;
            }
            ++n;
            continue;
        }
        if (auto e = front ? route(handler, *u.update) : handler.handle(*u.update); !e) {
            log::error("telegram: update not handled", {{"error", e.error().message}});
            return e.error();  // retried on the next round: nothing was committed for it
        }
        ++n;
    }
    // Updates without an update_id cannot be confirmed one by one: the offset moves
    // past them (else getUpdates would return them for ever).
    if (without_id) {
        if (next) {
            if (auto a =
                    front ? front->advance_offset(*next) : session.telegram().advance_offset(*next);
                !a)
                return a.error();
        } else {
            m_drop_backlog = true;
        }
    }
    return n;
}

Result<int> TelegramBot::unreadable_answer(store::Session& session, std::int64_t offset,
                                           const std::string& why) {
    m_stats.poll_errors++;
    if (m_poll_limit > 1) {
        m_poll_limit = 1;
        log::warn("telegram: getUpdates answer unreadable, asking for one update at a time",
                  {{"error", why}});
        return make_error("getUpdates: " + why);
    }
    if (offset > 0 && !m_drop_backlog) {
        // Sequential ids: the update that cannot be read is `offset`.
        log::error("telegram: an update that cannot be read was skipped",
                   {{"update_id", std::to_string(offset)}, {"error", why}});
        if (auto a = m_options.front ? m_options.front->advance_offset(offset + 1)
                                     : session.telegram().advance_offset(offset + 1);
            !a)
            return a.error();
    } else {
        log::error("telegram: getUpdates unreadable with no offset yet, dropping the backlog",
                   {{"error", why}});
        m_drop_backlog = true;
    }
    return make_error("getUpdates: " + why);
}

void TelegramBot::prune(store::Session& session) {
    using std::chrono::milliseconds;
    const std::int64_t now = m_options.now();
    if (m_pruned_at != 0 && now - m_pruned_at < milliseconds(m_options.prune_every).count()) return;
    m_pruned_at = now;
    auto n = session.telegram().prune(now - milliseconds(m_options.outbox_retention).count(),
                                      now - milliseconds(m_options.refusal_retention).count(),
                                      m_options.max_refusals);
    if (!n)
        log::warn("telegram: pruning old rows failed", {{"error", n.error().message}});
    else if (*n > 0)
        log::info("telegram: pruned old outbox rows and refusals", {{"rows", std::to_string(*n)}});
}

void TelegramBot::fleet_housekeeping(BotApi& api) {
    fleet::TelegramFront& front = *m_options.front;
    const std::int64_t now = m_options.now();
    if (now - m_late_checked_at >= 5000) {
        m_late_checked_at = now;
        auto late = front.report_late_requests();
        if (!late)
            log::warn("telegram: late fleet requests not readable",
                      {{"error", late.error().message}});
        else
            for (const auto& q : *late) tell_late_request(api, q);
    }
    using std::chrono::milliseconds;
    if (m_fleet_pruned_at != 0 &&
        now - m_fleet_pruned_at < milliseconds(m_options.prune_every).count())
        return;
    m_fleet_pruned_at = now;
    auto n = front.prune();
    if (!n)
        log::warn("telegram: pruning the fleet's tables failed", {{"error", n.error().message}});
    else if (*n > 0)
        log::info("telegram: pruned old fleet rows", {{"rows", std::to_string(*n)}});
}

void TelegramBot::poll_loop() {
    BotApi api(m_config.api_url, m_config.bot_token);
    int failures = 0;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(m_mutex);
            if (m_stop) return;
        }
        // In a fleet only the holder of the poller lock polls (Telegram allows
        // one getUpdates consumer per bot).
        if (m_options.front && !m_options.front->leading()) {
            if (!wait_for(std::chrono::seconds(1), false)) return;
            continue;
        }
        const std::int64_t t0 = m_options.now();
        prune(*m_poll_session);
        if (m_options.front) fleet_housekeeping(api);
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

}  // namespace saslguard::receiver::telegram
