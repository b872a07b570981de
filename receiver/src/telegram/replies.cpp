#include <algorithm>

#include "saslguard/receiver/telegram/replies.hpp"

#include "saslguard/common/format.hpp"
#include "saslguard/receiver/telegram/format.hpp"

namespace saslguard::receiver::telegram {
namespace {

// "on mail.example.org" after a heading, when the host is known.
std::string on(const std::string& host) {
    return host.empty() ? std::string() : " on " + html_escape(host);
}

// What a block kind means, in plain words.
std::string block_words(const std::string& kind) {
    if (kind == "login") return "login blocked";
    if (kind == "hold") return "mail held";
    if (kind == "account") return "account locked";
    if (kind == "ip") return "address blocked";
    return html_escape(kind);
}

// "telegram:2222" → "Telegram user 2222"; "auto" → "saslguard (automatic)".
std::string actor_words(const std::string& actor) {
    if (actor == "auto") return "saslguard (automatic)";
    if (actor.rfind("telegram:", 0) == 0) return "Telegram user " + html_escape(actor.substr(9));
    return html_escape(actor);
}

}  // namespace

std::string render_status(const StatusInfo& s, const std::string& host) {
    std::string r = "📋 <b>saslguard" + on(host) + "</b>\n";
    r += "<b>Open incidents:</b> " + std::to_string(s.open_incidents.size()) + "\n";
    {
        std::size_t shown = 0;
        for (const auto& i : s.open_incidents) {
            if (shown++ == 15) {
                r += "… and " + std::to_string(s.open_incidents.size() - 15) + " more\n";
                break;
            }
            r += "• #" + std::to_string(i.id) + " " + html_escape(clip_text(i.alertname, 60));
            if (!i.username.empty()) r += " " + html_code(clip_text(i.username, 100));
            r += " since " + format::utc_minutes(i.opened_at_ms) + "\n";
        }
    }
    r += "<b>Blocks in force:</b> " + std::to_string(s.active_blocks) +
         (s.active_blocks ? " (/blocked lists them)" : "") + "\n";
    r += "<b>Queue:</b> " +
         (s.queue_depth ? std::to_string(*s.queue_depth) + " messages" : std::string("unknown"));
    if (s.fleet) {
        r += "\n<b>Fleet:</b> polled by " +
             (s.poller.empty() ? std::string("nobody") : html_escape(clip_text(s.poller, 64))) +
             "\n";
        for (const auto& [name, silent] : s.fleet_hosts)
            r += "• " + html_escape(clip_text(name, 64)) +
                 (silent <= 10 ? std::string(": answering")
                               : ": silent for " + std::to_string(silent) + " s") +
                 "\n";
    } else if (!s.fleet_error.empty()) {
        r += "\n<b>Fleet:</b> unknown (" + html_escape(clip_text(s.fleet_error, 200)) + ")";
    }
    return r;
}

std::string render_top(const std::vector<UserCount>& top, const std::string& host) {
    if (top.empty()) return "No authenticated senders" + on(host) + " in the recent window.";
    double total = 0;
    for (const auto& u : top) total += u.count;
    std::string r = "📈 <b>Top senders" + on(host) + "</b> (messages in the recent window)\n";
    int i = 0;
    for (const auto& u : top) {
        r +=
            std::to_string(++i) + ". " + html_code(clip_text(u.name, 100)) + " — " + whole(u.count);
        if (total > 0 && top.size() > 1) r += " (" + format::percent(u.count / total) + ")";
        r += "\n";
    }
    return r;
}

std::string render_queue(const QueueInfo& q, const std::string& host) {
    std::string r = "📬 <b>Queue" + on(host) + ":</b> " +
                    (q.depth ? std::to_string(*q.depth) + " messages" : std::string("unknown")) +
                    "\n";
    if (!q.top_senders.empty()) r += "<b>Most queued, by envelope sender:</b>\n";
    for (const auto& s : q.top_senders)
        r += "• " + html_code(clip_text(s.name.empty() ? "<>" : s.name, 100)) + " — " +
             whole(s.count) + "\n";
    return r;
}

std::string render_blocked(const std::vector<BlockInfo>& blocks, const std::string& host) {
    const bool fleet = std::any_of(blocks.begin(), blocks.end(),
                                   [](const BlockInfo& b) { return !b.host.empty(); });
    if (blocks.empty()) return "Nothing is blocked" + on(host) + ".";
    std::string r = "⛔ <b>In force" + (fleet ? std::string(" across the fleet") : on(host)) +
                    ":</b> " + std::to_string(blocks.size()) + "\n";
    for (const auto& x : blocks) {
        r += "• " + block_words(x.kind) + ": " + html_code(clip_text(x.target, 100));
        if (!x.host.empty()) r += " on <b>" + html_escape(clip_text(x.host, 64)) + "</b>";
        if (!x.actor.empty()) r += ", by " + actor_words(x.actor);
        if (x.expires_at_ms) r += ", until " + format::utc_minutes(*x.expires_at_ms);
        r += "\n";
    }
    return r;
}

}  // namespace saslguard::receiver::telegram
