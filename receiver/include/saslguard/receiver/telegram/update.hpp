#pragma once
// What the Bot API's getUpdates hands the bot, parsed into what the bot acts on:
// a button press (callback_query) or a command (a message whose text starts
// with '/'); anything else is an update to mark handled and ignore.
//
// Pure and total: never throws, whatever the bytes (a hostile or broken
// api_url can send anything; tests/fuzz/telegram_update_fuzz.cpp feeds it
// arbitrary input). A field that is absent takes its default; a field that is
// present with the wrong JSON type makes that update an error, which the bot
// logs, marks handled and skips, so it is neither acted on nor fetched again.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver::telegram {

struct TelegramUser {
    std::int64_t id = 0;
    std::string username;    // "" when the user has none
    std::string first_name;  // "user" when absent
    // "@name (id)", or "first_name (id)": how the audit and the message name them.
    std::string display() const;
};

// An inline button pressed (callback_query).
struct ButtonPress {
    std::string query_id;  // to answer (answerCallbackQuery)
    TelegramUser from;
    std::int64_t chat_id = 0;     // of the message the button is on
    std::int64_t message_id = 0;  // 0 when Telegram did not say
    std::string data;             // the opaque token
};

// A message whose text starts with '/'.
struct Command {
    TelegramUser from;
    std::int64_t chat_id = 0;        // the sender's id when the message names no chat
    std::string name;                // "/status" ("/status@MyBot" → "/status")
    std::vector<std::string> words;  // the text split on blanks; words[0] as typed
};

struct Update {
    std::int64_t update_id = 0;
    std::variant<std::monostate, ButtonPress, Command> what;  // monostate: nothing to do
};

// One element of getUpdates' result. `update_id` is known whenever the element
// had a well-formed one, also when the rest of it was malformed.
struct ParsedUpdate {
    std::optional<std::int64_t> update_id;
    Result<Update> update = make_error("not parsed");
};

// One update (a JSON object).
ParsedUpdate parse_update(std::string_view json);
// getUpdates' `result`: a JSON array of updates. Fails when it is not an array.
Result<std::vector<ParsedUpdate>> parse_updates(std::string_view result_json);

}  // namespace saslguard::receiver::telegram
