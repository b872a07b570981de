#pragma once
// The incident message as admins see it, kept in step across admin chats:
// building the view from a notifier's IncidentNotice, issuing fresh single-use
// button tokens for its keyboard, and queueing the send/edit calls in the outbox.
// Called by the notifier (worker thread) and by the callback handler (poller
// thread), each with its own store session; callers wrap the calls in a
// transaction (Session::begin).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/incident.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/store/telegram_repository.hpp"
#include "saslguard/receiver/telegram/format.hpp"

namespace saslguard::receiver::telegram {

using store::CallbackRow;
using store::IncidentMessage;
using store::OutboxRow;
using store::TelegramRepository;

// A random opaque callback token: 16 bytes from getrandom(2), base64url (22 chars ≤ 64 bytes).
std::string random_token();

// Maps the worker's notice to what the message shows and which buttons it offers:
// notify → silence/ignore only; confirm → every mitigation of the catalog that fits
// the evidence (a culprit for the by-login kinds, client IPs for the by-IP ones),
// silence, ignore; auto → the outcomes as history, silence, ignore.
IncidentView view_from_notice(const IncidentNotice& notice, const TelegramConfig& config);

// Issues fresh tokens for the view's buttons (expiring after `ttl`) and returns the
// keyboard. From the blocks in force (null: none): an offered mitigation whose
// block is in force for the incident's user (or IPs) shows as its Undo instead,
// and every such block gets an Undo button, also in auto mode. Rows: the
// mitigations without confirmation, those with (the irreversible last),
// silence, ignore, then the Undo buttons.
Result<Keyboard> issue_keyboard(TelegramRepository& store, const IncidentView& view,
                                const mitigation::ActiveBlocks* blocks, std::int64_t now_ms,
                                std::chrono::seconds ttl);

// Saves the view and queues the message for every chat: sendMessage when `initial`,
// else editMessageText of the known message (message_id resolved when sent).
// Unused tokens of the previous keyboard are expired first.
Result<void> publish_incident(TelegramRepository& store, const IncidentView& view,
                              const mitigation::ActiveBlocks* blocks,
                              const std::vector<std::int64_t>& chats, bool initial,
                              std::int64_t now_ms, std::chrono::seconds ttl);

// The Bot API payload of a sendMessage/editMessageText with HTML text and keyboard.
std::string message_payload(std::int64_t chat_id, std::int64_t message_id, const std::string& html,
                            const Keyboard& keyboard);

}  // namespace saslguard::receiver::telegram
