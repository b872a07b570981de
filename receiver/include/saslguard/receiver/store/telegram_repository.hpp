#pragma once
// The Telegram bot's state:
//   telegram_outbox     every outgoing Bot API call (sendMessage, editMessageText, …)
//                       until it is sent or definitively failed — nothing is lost
//                       when Telegram is down or the receiver restarts
//   telegram_callbacks  inline buttons: an opaque random token (the callback_data)
//                       → incident, action, target, stage, expiry, single use
//   telegram_incidents  what each incident message shows (re-rendered on changes)
//   telegram_messages   which Telegram message shows an incident in which chat
//   telegram_updates    update_ids already handled (no update handled twice)
//   telegram_kv         getUpdates offset
//   telegram_refusals   presses/commands from users who are not admins (audit)
// Times are unix milliseconds. Several calls in one transaction: Session::begin().
// Owned by this repository: nobody else writes SQL against these tables.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::store {

struct OutboxRow {
    std::int64_t id = 0;
    std::int64_t chat_id = 0;
    std::string method;
    std::string payload_json;
    std::int64_t attempts = 0;
    std::int64_t incident_id = 0;  // 0: none
    std::int64_t created_at = 0;
};

struct CallbackRow {
    std::string token;
    std::int64_t incident_id = 0;
    std::string action;  // block_login, …, silence, ignore, cancel
    std::string target;  // JSON: {"username":…, "ips":[…], "senders":[…], "duration_s":…}
    std::string stage;   // offer | confirm
    std::int64_t created_at = 0;
    std::int64_t expires_at = 0;
    std::optional<std::int64_t> used_at;
    std::string used_by;
};

struct IncidentMessage {
    std::int64_t chat_id = 0;
    std::int64_t message_id = 0;
};

class TelegramRepository {
public:
    virtual ~TelegramRepository() = default;

    // Outbox.
    virtual Result<std::int64_t> enqueue(std::int64_t chat_id, std::string_view method,
                                         std::string_view payload_json, std::int64_t incident_id,
                                         std::int64_t now_ms) = 0;
    // The pending row to send next at `now_ms`, if any: incident messages (rows
    // with an incident_id) before every other row, then the oldest due first.
    virtual Result<std::optional<OutboxRow>> next_due(std::int64_t now_ms) = 0;
    // When the next pending row becomes due (nullopt: nothing pending).
    virtual Result<std::optional<std::int64_t>> next_due_at() = 0;
    virtual Result<void> mark_sent(std::int64_t id, std::int64_t now_ms,
                                   std::int64_t telegram_message_id) = 0;
    virtual Result<void> mark_retry(std::int64_t id, std::int64_t next_attempt_at_ms,
                                    std::string_view error) = 0;
    virtual Result<void> mark_failed(std::int64_t id, std::string_view error) = 0;
    virtual Result<std::int64_t> count_outbox(std::string_view state) = 0;

    // Incident messages and their rendered state.
    virtual Result<void> save_incident(std::int64_t incident_id, std::string_view view_json,
                                       std::int64_t now_ms) = 0;
    virtual Result<std::optional<std::string>> load_incident(std::int64_t incident_id) = 0;
    virtual Result<void> set_message(std::int64_t incident_id, std::int64_t chat_id,
                                     std::int64_t message_id) = 0;
    virtual Result<std::vector<IncidentMessage>> messages(std::int64_t incident_id) = 0;

    // Callbacks.
    virtual Result<void> add_callback(const CallbackRow& row) = 0;
    virtual Result<std::optional<CallbackRow>> callback(std::string_view token) = 0;
    // Marks the token used; false when it was already used (single use, race-free).
    virtual Result<bool> use_callback(std::string_view token, std::int64_t now_ms,
                                      std::string_view used_by) = 0;
    // Expires every unused token of an incident (its keyboard was replaced).
    virtual Result<void> expire_callbacks(std::int64_t incident_id, std::int64_t now_ms) = 0;

    // Updates and offset.
    virtual Result<bool> update_handled(std::int64_t update_id) = 0;
    // Records update_id as handled and advances the stored offset past it.
    virtual Result<void> record_update(std::int64_t update_id, std::int64_t now_ms) = 0;
    virtual Result<std::int64_t> offset() = 0;
    // Moves the stored offset forward to `next` (never back) without recording an
    // update as handled: past updates that cannot be read (no update_id).
    virtual Result<void> advance_offset(std::int64_t next) = 0;

    virtual Result<void> record_refusal(std::int64_t user_id, std::string_view username,
                                        std::string_view what, std::string_view reason,
                                        std::int64_t now_ms) = 0;
    virtual Result<std::int64_t> count_refusals() = 0;
    // When this user was last refused (nullopt: never, or pruned).
    virtual Result<std::optional<std::int64_t>> last_refusal_at(std::int64_t user_id) = 0;

    // Deletes outbox rows sent or failed before `outbox_before_ms` and refusals
    // before `refusals_before_ms`, and keeps at most `max_refusals` refusals (the
    // newest). Returns how many rows went.
    virtual Result<std::int64_t> prune(std::int64_t outbox_before_ms,
                                       std::int64_t refusals_before_ms,
                                       std::int64_t max_refusals) = 0;
};

}  // namespace saslguard::receiver::store
