#include "saslguard/receiver/telegram/format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>

#include "saslguard/common/duration.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::telegram {
namespace {

// Decodes one UTF-8 sequence at s[i]; returns its length in bytes (0: invalid) and the code point.
std::size_t utf8_seq(std::string_view s, std::size_t i, char32_t& cp) {
    auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = b(i);
    std::size_t n;
    if (c < 0x80) {
        cp = c;
        return 1;
    }
    if ((c & 0xE0) == 0xC0) {
        n = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        cp = c & 0x07;
    } else
        return 0;
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (b(i + k) & 0x3F);
    }
    // Overlong forms, surrogates and out-of-range values are invalid.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

std::string percent(double ratio) {
    return format::percent(ratio);
}

}  // namespace

std::string html_code(std::string_view text) {
    return "<code>" + html_escape(text) + "</code>";
}

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 16);
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        std::size_t n = utf8_seq(text, i, cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD
            ++i;
            continue;
        }
        if (n == 1) {
            char c = text[i];
            switch (c) {
                case '&':
                    out += "&amp;";
                    break;
                case '<':
                    out += "&lt;";
                    break;
                case '>':
                    out += "&gt;";
                    break;
                case '"':
                    out += "&quot;";
                    break;
                default:
                    // Control bytes other than newline/tab would make the message unreadable.
                    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
                        out += "\xEF\xBF\xBD";
                    else
                        out += c;
            }
        } else {
            out.append(text.substr(i, n));
        }
        i += n;
    }
    return out;
}

namespace {

// Walks well-formed HTML token by token. Calls on_tag(name, closing, end) for tags and
// on_char(units, end) for each visible character or entity; either returns false to stop.
template <class OnTag, class OnChar>
void walk_html(std::string_view html, OnTag on_tag, OnChar on_char) {
    std::size_t i = 0;
    while (i < html.size()) {
        char c = html[i];
        if (c == '<') {
            auto close = html.find('>', i);
            if (close == std::string_view::npos) close = html.size() - 1;
            std::string_view inner = html.substr(i + 1, close - i - 1);
            bool closing = !inner.empty() && inner.front() == '/';
            if (closing) inner.remove_prefix(1);
            auto sp = inner.find_first_of(" \t\n");
            std::string_view name = inner.substr(0, sp);
            i = close + 1;
            if (!on_tag(name, closing, i)) return;
        } else if (c == '&') {
            auto semi = html.find(';', i);
            std::size_t end = (semi != std::string_view::npos && semi - i <= 10) ? semi + 1 : i + 1;
            i = end;
            if (!on_char(1, i)) return;
        } else {
            char32_t cp = 0;
            std::size_t n = utf8_seq(html, i, cp);
            if (n == 0) n = 1;
            i += n;
            if (!on_char(cp >= 0x10000 ? 2 : 1, i)) return;
        }
    }
}

}  // namespace

std::size_t visible_length(std::string_view html) {
    std::size_t units = 0;
    walk_html(
        html, [](std::string_view, bool, std::size_t) { return true; },
        [&](std::size_t u, std::size_t) {
            units += u;
            return true;
        });
    return units;
}

std::string truncate_html(std::string_view html, std::size_t max_chars) {
    if (visible_length(html) <= max_chars) return std::string(html);
    static constexpr std::string_view kEllipsis = "…";
    const std::size_t budget = max_chars > 0 ? max_chars - 1 : 0;  // room for the ellipsis
    std::size_t units = 0;
    std::size_t cut = 0;            // end of the last token kept
    std::size_t last_char_end = 0;  // end of the last visible character kept
    std::vector<std::pair<std::string, std::size_t>> open;  // tag name, position of its '<'
    walk_html(
        html,
        [&](std::string_view name, bool closing, std::size_t end) {
            if (closing) {
                if (!open.empty()) open.pop_back();
            } else {
                open.emplace_back(std::string(name), cut);
            }
            cut = end;
            return true;
        },
        [&](std::size_t u, std::size_t end) {
            if (units + u > budget) return false;
            units += u;
            cut = last_char_end = end;
            return true;
        });
    std::string out(html.substr(0, cut));
    // Tags opened after the last character that fit would stay empty: drop them.
    while (!open.empty() && open.back().second >= last_char_end) {
        out.resize(open.back().second);
        open.pop_back();
    }
    out += kEllipsis;
    for (auto it = open.rbegin(); it != open.rend(); ++it) out += "</" + it->first + ">";
    return out;
}

std::string clip_text(std::string_view text, std::size_t max_chars) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < text.size();) {
        char32_t cp = 0;
        std::size_t n = utf8_seq(text, i, cp);
        if (n == 0) n = 1;
        if (++count > max_chars) return std::string(text.substr(0, i)) + "…";
        i += n;
    }
    return std::string(text);
}

std::string keyboard_json(const Keyboard& keyboard) {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& row : keyboard) {
        nlohmann::json r = nlohmann::json::array();
        for (const auto& b : row)
            r.push_back({{"text", b.text}, {"callback_data", b.callback_data}});
        if (!r.empty()) rows.push_back(std::move(r));
    }
    return nlohmann::json{{"inline_keyboard", rows}}.dump();
}

bool safe_link(std::string_view url) {
    if (url.size() > 2000) return false;
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) return false;
    for (unsigned char c : url)
        if (c <= 0x20 || c == '"' || c == '<' || c == '>' || c == '\'' || c >= 0x7F) return false;
    return true;
}

std::string action_label(std::string_view a) {
    if (auto kind = action_kind_from_string(a))
        if (const auto* action = mitigation::catalog().find(*kind))
            return std::string(action->label);
    if (a == "silence") return "🔕 Silence";
    if (a == "ignore") return "🙈 Ignore";
    return std::string(a);
}

std::string whole(double value) {
    return format::fixed(value, 0);
}

std::string action_words(std::string_view action, bool done) {
    struct Words {
        std::string_view action, propose, did;
    };
    static constexpr Words kWords[] = {
        {"block_login", "block the login", "blocked the login"},
        {"unblock_login", "unblock the login", "unblocked the login"},
        {"hold_mail", "hold its queued mail", "held its queued mail"},
        {"release_mail", "release its held mail", "released its held mail"},
        {"delete_mail", "delete its queued mail", "deleted its queued mail"},
        {"lock_account", "lock the account", "locked the account"},
        {"unlock_account", "unlock the account", "unlocked the account"},
        {"block_ips", "block its client addresses", "blocked its client addresses"},
        {"unblock_ips", "unblock its client addresses", "unblocked its client addresses"},
    };
    for (const auto& w : kWords)
        if (w.action == action) return std::string(done ? w.did : w.propose);
    std::string out(action);
    for (char& c : out)
        if (c == '_') c = ' ';
    return out;
}

namespace {

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

// One encoded word's text ("=?utf-8?B?…?=" without the frame); nullopt: leave it.
std::optional<std::string> decode_word(std::string_view charset, char encoding,
                                       std::string_view text) {
    std::string cs(charset);
    for (char& c : cs) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (cs != "utf-8" && cs != "us-ascii") return std::nullopt;
    std::string out;
    if (encoding == 'B' || encoding == 'b') {
        std::uint32_t acc = 0;
        int bits = 0;
        for (char c : text) {
            if (c == '=') break;
            int v = b64_value(c);
            if (v < 0) return std::nullopt;
            acc = (acc << 6) | static_cast<std::uint32_t>(v);
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out += static_cast<char>((acc >> bits) & 0xFF);
            }
        }
        return out;
    }
    if (encoding == 'Q' || encoding == 'q') {
        for (std::size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '_') {
                out += ' ';
            } else if (text[i] == '=' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 &&
                       hex_value(text[i + 2]) >= 0) {
                out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
                i += 2;
            } else {
                out += text[i];
            }
        }
        return out;
    }
    return std::nullopt;
}

}  // namespace

std::string decode_header_words(std::string_view v) {
    std::string out;
    std::size_t i = 0;
    bool last_was_word = false;
    std::string pending_space;  // whitespace between two encoded words is dropped
    while (i < v.size()) {
        if (v.compare(i, 2, "=?") == 0) {
            // =?charset?E?text?=
            auto q1 = v.find('?', i + 2);
            auto q2 = q1 == std::string_view::npos ? q1 : v.find('?', q1 + 1);
            auto end = q2 == std::string_view::npos ? q2 : v.find("?=", q2 + 1);
            if (end != std::string_view::npos && q2 == q1 + 2) {
                auto word = decode_word(v.substr(i + 2, q1 - i - 2), v[q1 + 1],
                                        v.substr(q2 + 1, end - q2 - 1));
                if (word) {
                    if (!last_was_word) out += pending_space;
                    pending_space.clear();
                    out += *word;
                    i = end + 2;
                    last_was_word = true;
                    continue;
                }
            }
        }
        if (v[i] == ' ' || v[i] == '\t') {
            pending_space += v[i++];
            continue;
        }
        out += pending_space;
        pending_space.clear();
        out += v[i++];
        last_was_word = false;
    }
    return out + pending_space;
}

std::string join_words(const std::vector<std::string>& words) {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) {
        if (i > 0) out += i + 1 == words.size() ? " and " : ", ";
        out += words[i];
    }
    return out;
}

namespace {

// "10m" → "10 minutes", "1h" → "hour": the window as a sentence says it.
std::string window_words(std::string_view w) {
    if (w.empty()) return "window";
    const char unit = w.back();
    std::string_view n = w.substr(0, w.size() - 1);
    if (n.empty() || n.find_first_not_of("0123456789") != std::string_view::npos)
        return std::string(w);
    const char* name = unit == 's'   ? "second"
                       : unit == 'm' ? "minute"
                       : unit == 'h' ? "hour"
                       : unit == 'd' ? "day"
                                     : nullptr;
    if (!name) return std::string(w);
    if (n == "1") return name;
    return std::string(n) + " " + name + "s";
}

double window_seconds(std::string_view w) {
    auto d = parse_duration(w);
    return d ? std::chrono::duration<double>(*d).count() : 0;
}

std::string link(std::string_view url, std::string_view text) {
    return "<a href=\"" + html_escape(url) + "\">" + html_escape(text) + "</a>";
}

// "203.0.113.9 (US, 120, new)"
std::string address(const IpCount& a, bool with_count) {
    std::string out = html_code(a.ip);
    std::vector<std::string> parts;
    if (!a.country.empty()) parts.push_back(html_escape(a.country));
    if (with_count && a.count > 0) parts.push_back(std::to_string(a.count));
    if (!a.novelty.empty())
        parts.push_back(a.novelty == "new" ? "<b>new</b>" : html_escape(a.novelty));
    if (!parts.empty()) {
        out += " (";
        for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : "") + parts[i];
        out += ")";
    }
    return out;
}

// The one plain line of why: now against the account's own usual volume.
std::string why_line(const IncidentView& v) {
    if (!v.messages) return {};
    std::string m =
        whole(*v.messages) + " messages in the last " + html_escape(window_words(v.window));
    const double secs = window_seconds(v.window);
    if (v.usual_per_hour && *v.usual_per_hour >= 0.5) {
        m += "; usually " + whole(*v.usual_per_hour) + " an hour";
        if (secs > 0) {
            const double factor = (*v.messages * 3600.0 / secs) / *v.usual_per_hour;
            if (factor >= 2) m += " — about " + whole(factor) + " times its usual rate";
        }
    } else if (v.usual_per_hour) {
        m += "; it usually sends almost nothing";
    } else if (!v.username.empty()) {
        m += "; its usual volume is not known yet";
    }
    if (v.busiest_hour && *v.busiest_hour >= 0.5)
        m += " (busiest hour in 8 days: " + whole(*v.busiest_hour) + ")";
    if (v.surge_share) m += "; " + percent(*v.surge_share) + " of all authenticated mail";
    return m;
}

// What saslguard did or proposes, in plain words.
std::string action_line(const IncidentView& v) {
    std::vector<std::string> words;
    for (const auto& a : v.proposed) words.push_back(action_words(a, v.acted));
    const std::string who = v.username.empty() ? std::string() : " for " + html_code(v.username);
    if (v.mode == "auto" && v.acted && !words.empty())
        return "🤖 <b>saslguard acted on its own:</b> " + html_escape(join_words(words)) + who +
               ". Undo buttons revert it.";
    if (v.mode == "confirm" || (v.mode == "auto" && !v.acted)) {
        std::string m;
        if (!words.empty())
            m = "👉 <b>Proposed:</b> " + html_escape(join_words(words)) + who + "." +
                (v.resolved ? "" : " Nothing happens until an admin presses a button.");
        else
            m = "👉 <b>Nothing done yet:</b> choose below.";
        if (!v.not_automatic_because.empty())
            m += "\nNot done automatically: " +
                 html_escape(clip_text(v.not_automatic_because, 300)) + ".";
        return m;
    }
    if (v.mode == "notify") {
        if (v.username.empty())
            return "ℹ️ <b>Only reported:</b> no single account stands out, so nothing is "
                   "proposed.";
        return "ℹ️ <b>Only reported:</b> saslguard is set to tell, not act, for this alert.";
    }
    return {};
}

}  // namespace

std::string format_incident(const IncidentView& v) {
    std::string m;
    m += v.resolved ? "✅ <b>RESOLVED</b> " : "🚨 ";
    m += "<b>" + html_escape(v.alertname.empty() ? "alert" : v.alertname) + "</b>";
    if (!v.severity.empty()) m += " · " + html_escape(v.severity);
    m += " · incident #" + std::to_string(v.incident_id) + "\n";
    if (!v.host.empty() || !v.instance.empty()) {
        m += "<b>Host:</b> " + html_escape(v.host.empty() ? v.instance : v.host);
        if (!v.host.empty() && !v.instance.empty()) m += " (" + html_escape(v.instance) + ")";
        m += "\n";
    }
    if (!v.username.empty())
        m += "<b>User:</b> " + html_code(v.username) + "\n";
    else
        m += "<b>User:</b> <i>not identified</i>\n";
    if (auto why = why_line(v); !why.empty()) m += "<b>Why:</b> " + why + "\n";
    if (v.new_source_messages && v.messages && *v.messages > 0 && *v.new_source_messages >= 0.5)
        m += "<b>New networks:</b> " + whole(std::min(*v.new_source_messages, *v.messages)) +
             " of those messages came from networks this account had not used before\n";
    if (v.distinct_ips || !v.sources.empty()) {
        m += "<b>Client addresses:</b>";
        if (v.distinct_ips) m += " " + std::to_string(*v.distinct_ips) + " in the window";
        if (!v.sources.empty()) {
            m += std::string(v.distinct_ips ? ";" : "") + " in the queued mail:";
            std::size_t shown = 0;
            for (const auto& a : v.sources) {
                if (shown++ == 5) {
                    m += " …";
                    break;
                }
                m += (shown > 1 ? ", " : " ") + address(a, true);
            }
        }
        m += "\n";
    }
    if (!v.top_ips.empty()) {
        m += "<b>Alert address:</b>";
        std::size_t shown = 0;
        for (const auto& ip : v.top_ips) {
            if (shown++ == 5) break;
            m += (shown > 1 ? ", " : " ") + address(ip, false);
        }
        m += "\n";
    }
    for (std::size_t i = 0; i < v.protected_ips.size() && i < 5; ++i)
        m += "<b>Never blocked:</b> " + html_code(v.protected_ips[i].first) + " (" +
             html_escape(clip_text(v.protected_ips[i].second, 120)) + ")\n";
    if (v.sampled) {
        if (*v.sampled == 0) {
            m += "<b>Queued mail:</b> none of this account's messages is in the queue now\n";
        } else {
            m += "<b>Queued mail</b> (" + std::to_string(*v.sampled) +
                 (*v.sampled == 1 ? " message" : " messages") +
                 " read): " + std::to_string(v.recipient_domains) +
                 (v.recipient_domains == 1 ? " recipient domain" : " distinct recipient domains") +
                 "\n";
            for (std::size_t i = 0; i < v.subjects.size() && i < 5; ++i)
                m += "  • " + html_escape(clip_text(v.subjects[i], 100)) + "\n";
        }
    }
    if (v.bounce_ratio)
        m += "<b>Bounced or deferred:</b> " + percent(*v.bounce_ratio) + " of its deliveries\n";
    if (v.queue_depth)
        m += "<b>Queue on the host:</b> " + std::to_string(*v.queue_depth) + " messages\n";
    if (!v.summary.empty()) m += "<i>" + html_escape(clip_text(v.summary, 600)) + "</i>\n";
    if (auto line = action_line(v); !line.empty()) {
        m += line + "\n";
    } else if (!v.mode.empty()) {
        // A view stored before the plain lines existed.
        m += "Mode: " + html_escape(v.mode);
        if (!v.reason.empty()) m += " — " + html_escape(clip_text(v.reason, 300));
        m += "\n";
    }
    std::vector<std::string> links;
    if (safe_link(v.alert_url))
        links.push_back(link(v.alert_url, "Alert"));
    else if (safe_link(v.alertmanager_url))
        links.push_back(link(v.alertmanager_url, "Alertmanager"));
    if (safe_link(v.grafana_url)) links.push_back(link(v.grafana_url, "Grafana"));
    if (!v.resolved && safe_link(v.silence_url)) links.push_back(link(v.silence_url, "Silence…"));
    if (!links.empty()) {
        for (std::size_t i = 0; i < links.size(); ++i) m += (i ? " · " : "") + links[i];
        m += "\n";
    }
    if (!v.log.empty()) {
        m += "\n";
        // The newest lines matter most: when the history is long, older lines are elided.
        std::size_t first = v.log.size() > 20 ? v.log.size() - 20 : 0;
        if (first > 0) m += "… " + std::to_string(first) + " earlier entries\n";
        for (std::size_t i = first; i < v.log.size(); ++i) {
            const auto& l = v.log[i];
            m += std::string(l.ok ? "✅ " : "❌ ") + html_escape(clip_text(l.actor, 80)) + ": " +
                 html_escape(clip_text(l.text, 300)) + "\n";
        }
    }
    if (v.resolved)
        m += "\nThe alert stopped firing. Whatever was done stays in force until undone.\n";
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return truncate_html(m);
}

std::string to_json(const IncidentView& v) {
    nlohmann::json j;
    j["incident_id"] = v.incident_id;
    if (!v.fleet_host.empty()) j["fleet_host"] = v.fleet_host;
    j["alertname"] = v.alertname;
    j["severity"] = v.severity;
    j["summary"] = v.summary;
    j["host"] = v.host;
    j["instance"] = v.instance;
    j["username"] = v.username;
    j["window"] = v.window;
    if (v.messages) j["messages"] = *v.messages;
    if (v.surge_share) j["surge_share"] = *v.surge_share;
    if (v.distinct_ips) j["distinct_ips"] = *v.distinct_ips;
    auto ips = [](const std::vector<IpCount>& list) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& ip : list)
            a.push_back({{"ip", ip.ip},
                         {"count", ip.count},
                         {"country", ip.country},
                         {"novelty", ip.novelty}});
        return a;
    };
    j["top_ips"] = ips(v.top_ips);
    if (v.usual_per_hour) j["usual_per_hour"] = *v.usual_per_hour;
    if (v.busiest_hour) j["busiest_hour"] = *v.busiest_hour;
    if (v.new_source_messages) j["new_source_messages"] = *v.new_source_messages;
    if (v.sampled) j["sampled"] = *v.sampled;
    j["recipient_domains"] = v.recipient_domains;
    j["sources"] = ips(v.sources);
    j["subjects"] = v.subjects;
    j["sample_note"] = v.sample_note;
    j["proposed"] = v.proposed;
    j["acted"] = v.acted;
    j["not_automatic_because"] = v.not_automatic_because;
    j["alert_url"] = v.alert_url;
    j["silence_url"] = v.silence_url;
    j["protected_ips"] = nlohmann::json::array();
    for (const auto& [ip, why] : v.protected_ips)
        j["protected_ips"].push_back({{"ip", ip}, {"reason", why}});
    if (v.bounce_ratio) j["bounce_ratio"] = *v.bounce_ratio;
    if (v.queue_depth) j["queue_depth"] = *v.queue_depth;
    j["senders"] = v.senders;
    j["grafana_url"] = v.grafana_url;
    j["alertmanager_url"] = v.alertmanager_url;
    j["mode"] = v.mode;
    j["reason"] = v.reason;
    j["offered"] = v.offered;
    j["silence_matchers"] = nlohmann::json::array();
    for (const auto& [k, val] : v.silence_matchers) j["silence_matchers"].push_back({k, val});
    j["log"] = nlohmann::json::array();
    for (const auto& l : v.log)
        j["log"].push_back({{"actor", l.actor}, {"text", l.text}, {"ok", l.ok}});
    j["resolved"] = v.resolved;
    j["closed"] = v.closed;
    // Attacker-controlled strings may hold invalid UTF-8: replace rather than throw.
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<IncidentView> incident_view_from_json(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    try {
        IncidentView v;
        v.incident_id = j.value("incident_id", std::int64_t{0});
        v.alertname = j.value("alertname", "");
        v.fleet_host = j.value("fleet_host", "");
        v.severity = j.value("severity", "");
        v.summary = j.value("summary", "");
        v.username = j.value("username", "");
        v.window = j.value("window", "");
        if (j.contains("messages")) v.messages = j["messages"].get<double>();
        if (j.contains("surge_share")) v.surge_share = j["surge_share"].get<double>();
        if (j.contains("distinct_ips")) v.distinct_ips = j["distinct_ips"].get<std::int64_t>();
        auto ips = [&](const char* key) {
            std::vector<IpCount> out;
            for (const auto& ip : j.value(key, nlohmann::json::array()))
                out.push_back({ip.value("ip", ""), ip.value("count", std::int64_t{0}),
                               ip.value("country", ""), ip.value("novelty", "")});
            return out;
        };
        v.top_ips = ips("top_ips");
        v.host = j.value("host", "");
        v.instance = j.value("instance", "");
        if (j.contains("usual_per_hour")) v.usual_per_hour = j["usual_per_hour"].get<double>();
        if (j.contains("busiest_hour")) v.busiest_hour = j["busiest_hour"].get<double>();
        if (j.contains("new_source_messages"))
            v.new_source_messages = j["new_source_messages"].get<double>();
        if (j.contains("sampled")) v.sampled = j["sampled"].get<std::int64_t>();
        v.recipient_domains = j.value("recipient_domains", std::int64_t{0});
        v.sources = ips("sources");
        v.subjects = j.value("subjects", std::vector<std::string>{});
        v.sample_note = j.value("sample_note", "");
        v.proposed = j.value("proposed", std::vector<std::string>{});
        v.acted = j.value("acted", false);
        v.not_automatic_because = j.value("not_automatic_because", "");
        v.alert_url = j.value("alert_url", "");
        v.silence_url = j.value("silence_url", "");
        for (const auto& ip : j.value("protected_ips", nlohmann::json::array()))
            v.protected_ips.emplace_back(ip.value("ip", ""), ip.value("reason", ""));
        if (j.contains("bounce_ratio")) v.bounce_ratio = j["bounce_ratio"].get<double>();
        if (j.contains("queue_depth")) v.queue_depth = j["queue_depth"].get<std::int64_t>();
        v.senders = j.value("senders", std::vector<std::string>{});
        v.grafana_url = j.value("grafana_url", "");
        v.alertmanager_url = j.value("alertmanager_url", "");
        v.mode = j.value("mode", "");
        v.reason = j.value("reason", "");
        v.offered = j.value("offered", std::vector<std::string>{});
        for (const auto& m : j.value("silence_matchers", nlohmann::json::array()))
            v.silence_matchers.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
        for (const auto& l : j.value("log", nlohmann::json::array()))
            v.log.push_back({l.value("actor", ""), l.value("text", ""), l.value("ok", true)});
        v.resolved = j.value("resolved", false);
        v.closed = j.value("closed", false);
        return v;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

}  // namespace saslguard::receiver::telegram
