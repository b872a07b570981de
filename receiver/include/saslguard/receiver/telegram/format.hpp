#pragma once
// Telegram message text in parse_mode=HTML, built from data that attackers control
// (SASL usernames, client IPs, alert annotations). Every value goes through
// html_escape(); links only accept http(s) URLs; the result always fits Telegram's
// 4096-character limit (truncate_html cuts between characters, never inside an
// entity such as "&amp;" or a tag, and closes the tags left open).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saslguard::receiver::telegram {

// Telegram's limit on a message text, in UTF-16 code units after entity parsing.
inline constexpr std::size_t kMaxMessageChars = 4096;

// Escapes &, <, > and " (the set Telegram's HTML mode requires, plus quotes for attributes).
// Invalid UTF-8 bytes become U+FFFD so the Bot API never rejects the text as malformed.
std::string html_escape(std::string_view text);
// The text escaped and set in <code> (usernames, IPs, commands).
std::string html_code(std::string_view text);

// Length as Telegram counts it: UTF-16 code units of the visible text (tags count 0,
// an entity counts 1).
std::size_t visible_length(std::string_view html);

// Returns `html` unchanged when it fits `max_chars`; otherwise the longest prefix that
// fits with a trailing "…", cut between whole characters/entities, with every open tag
// closed. Expects well-formed HTML as produced by this module.
std::string truncate_html(std::string_view html, std::size_t max_chars = kMaxMessageChars);

// Shortens plain text (before escaping) to at most `max_chars` code points, adding "…".
std::string clip_text(std::string_view text, std::size_t max_chars);

// One inline button: `callback_data` is an opaque token (≤ 64 bytes), never the action itself.
struct Button {
    std::string text;
    std::string callback_data;
};
using Keyboard = std::vector<std::vector<Button>>;

// {"inline_keyboard":[[{"text":…,"callback_data":…},…],…]}
std::string keyboard_json(const Keyboard& keyboard);

struct IpCount {
    std::string ip;
    std::int64_t count = 0;
    std::string country{};  // "US" (geoip-database); "" when unknown or private
    // Whether the address is new for the account: "new", "known", or "" when
    // it cannot be told (docs/telegram.md, "New addresses").
    std::string novelty{};
};

// A line in the incident's history: what was done automatically or by whom.
struct LogLine {
    std::string actor;  // "auto" or "@name (id)"
    std::string text;   // "blocked login alice@example.com"
    bool ok = true;
};

// Everything the incident message shows. Persisted (as JSON) so the message can be
// re-rendered when an admin acts or the alert resolves.
struct IncidentView {
    std::int64_t incident_id = 0;
    // The fleet host that runs this incident's presses (fleet.coordinate;
    // "" on a single host): named in callback_data, not shown.
    std::string fleet_host;
    std::string alertname;
    std::string severity;
    std::string summary;
    std::string host;                   // the mail host: telegram.host_name (docs/telegram.md)
    std::string instance;               // the alert's instance label, when it names something else
    std::string username;               // the culprit; empty when none was found
    std::string window = "15m";         // evidence window, as the resolver used it
    std::optional<double> messages;     // messages from the user in the window
    std::optional<double> surge_share;  // 0..1: the user's share of the surge
    std::optional<std::int64_t> distinct_ips;
    std::vector<IpCount> top_ips;  // the addresses Block IPs acts on (never-block ones left out)
    // Addresses the alert named that are never blocked, and why (shown, never offered).
    std::vector<std::pair<std::string, std::string>> protected_ips;
    std::optional<double> bounce_ratio;  // 0..1
    std::optional<std::int64_t> queue_depth;
    // The account's usual volume (the rules' hourly history) and messages from
    // networks new for it in the window (the exporter's memory).
    std::optional<double> usual_per_hour;
    std::optional<double> busiest_hour;
    std::optional<double> new_source_messages;
    // The account's queued mail, sampled: client addresses (with country and
    // novelty), distinct recipient domains, subjects (only with the privacy
    // switch on). `sampled` unset: the queue was not read (`sample_note` says why).
    std::optional<std::int64_t> sampled;
    std::int64_t recipient_domains = 0;
    std::vector<IpCount> sources;
    std::vector<std::string> subjects;
    std::string sample_note;
    // The mitigations the policy proposed (confirm) or ran (auto), and when an
    // automatic policy asked instead, why (plain words).
    std::vector<std::string> proposed;
    bool acted = false;
    std::string not_automatic_because;
    // Alertmanager links: the alert in its UI, and its new-silence form
    // prefilled with the incident's matchers ("" when no Alertmanager URL).
    std::string alert_url;
    std::string silence_url;
    std::vector<std::string> senders;  // queued envelope senders the mail actions act on
    std::string grafana_url;
    std::string alertmanager_url;
    std::string mode;    // notify|confirm|auto
    std::string reason;  // the policy's one-line reason for the mode
    // Action names offered as buttons (the policy's, then what admins did: a
    // kind that cannot be undone goes once done; an undone kind comes back).
    // Whether a kind shows as itself or as its Undo is not stored here: it is
    // read from the blocks in force whenever the message is rendered.
    std::vector<std::string> offered;
    std::vector<std::pair<std::string, std::string>>
        silence_matchers;  // label=value for /api/v2/silences
    std::vector<LogLine> log;
    bool resolved = false;
    bool closed = false;  // ignored: no more buttons
};

std::string to_json(const IncidentView& view);
std::optional<IncidentView> incident_view_from_json(std::string_view json);

// The whole message text (HTML, within the limit).
std::string format_incident(const IncidentView& view);

// Human label of a button action: the catalog's for a mitigation ("block_login" →
// "🚫 Block login", "unblock_login" → "↩ Undo block login"), else silence/ignore.
std::string action_label(std::string_view action);

// Only http(s) URLs without quotes/angle brackets become links; anything else is dropped.
bool safe_link(std::string_view url);

// A count as people write it: whole, rounded ("238.6" → "239").
std::string whole(double value);

// What a mitigation does, in plain words: "block the login" (proposal) or
// "blocked the login" (done); unknown names are shown with spaces.
std::string action_words(std::string_view action, bool done);
// A header value as people read it: RFC 2047 encoded words in UTF-8 or
// US-ASCII (B and Q) decoded, others left as they are. The result still needs
// html_escape (which also replaces invalid UTF-8).
std::string decode_header_words(std::string_view value);

// "a", "a and b", "a, b and c".
std::string join_words(const std::vector<std::string>& words);

}  // namespace saslguard::receiver::telegram
