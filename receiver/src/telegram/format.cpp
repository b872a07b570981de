#include "saslguard/receiver/telegram/format.hpp"

#include <nlohmann/json.hpp>

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

std::string number(double v) {
    return format::compact(v);
}

std::string code(std::string_view raw) {
    return "<code>" + html_escape(raw) + "</code>";
}

}  // namespace

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

std::string format_incident(const IncidentView& v) {
    std::string m;
    m += v.resolved ? "✅ <b>RESOLVED</b> " : "🚨 ";
    m += "<b>" + html_escape(v.alertname.empty() ? "alert" : v.alertname) + "</b>";
    if (!v.severity.empty()) m += " · " + html_escape(v.severity);
    m += " · incident #" + std::to_string(v.incident_id);
    if (!v.host.empty()) m += " · host <b>" + html_escape(v.host) + "</b>";
    m += "\n";
    if (!v.username.empty())
        m += "<b>User:</b> " + code(v.username) + "\n";
    else
        m += "<b>User:</b> <i>not identified</i>\n";
    if (v.messages) {
        m += "<b>Messages (" + html_escape(v.window) + "):</b> " + number(*v.messages);
        if (v.surge_share) m += " (" + percent(*v.surge_share) + " of the surge)";
        m += "\n";
    }
    if (v.distinct_ips) {
        m += "<b>Distinct IPs:</b> " + std::to_string(*v.distinct_ips);
        if (!v.top_ips.empty()) {
            m += " — top:";
            std::size_t shown = 0;
            for (const auto& ip : v.top_ips) {
                if (shown++ == 5) break;
                m += (shown > 1 ? ", " : " ") + code(ip.ip) + " (" + std::to_string(ip.count) + ")";
            }
        }
        m += "\n";
    }
    for (std::size_t i = 0; i < v.protected_ips.size() && i < 5; ++i)
        m += "<b>Never blocked:</b> " + code(v.protected_ips[i].first) + " (" +
             html_escape(clip_text(v.protected_ips[i].second, 120)) + ")\n";
    if (v.bounce_ratio) m += "<b>Bounce ratio:</b> " + percent(*v.bounce_ratio) + "\n";
    if (v.queue_depth) m += "<b>Queue depth:</b> " + std::to_string(*v.queue_depth) + "\n";
    if (!v.summary.empty()) m += "<i>" + html_escape(clip_text(v.summary, 600)) + "</i>\n";
    std::string links;
    if (safe_link(v.grafana_url))
        links += "<a href=\"" + html_escape(v.grafana_url) + "\">Grafana</a>";
    if (safe_link(v.alertmanager_url)) {
        if (!links.empty()) links += " · ";
        links += "<a href=\"" + html_escape(v.alertmanager_url) + "\">Alertmanager</a>";
    }
    if (!links.empty()) m += links + "\n";
    if (!v.mode.empty()) {
        m += "Mode: " + html_escape(v.mode);
        if (!v.reason.empty()) m += " — " + html_escape(clip_text(v.reason, 300));
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
    while (!m.empty() && m.back() == '\n') m.pop_back();
    return truncate_html(m);
}

std::string to_json(const IncidentView& v) {
    nlohmann::json j;
    j["incident_id"] = v.incident_id;
    if (!v.host.empty()) j["host"] = v.host;
    j["alertname"] = v.alertname;
    j["severity"] = v.severity;
    j["summary"] = v.summary;
    j["username"] = v.username;
    j["window"] = v.window;
    if (v.messages) j["messages"] = *v.messages;
    if (v.surge_share) j["surge_share"] = *v.surge_share;
    if (v.distinct_ips) j["distinct_ips"] = *v.distinct_ips;
    j["top_ips"] = nlohmann::json::array();
    for (const auto& ip : v.top_ips) j["top_ips"].push_back({{"ip", ip.ip}, {"count", ip.count}});
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
        v.host = j.value("host", "");
        v.severity = j.value("severity", "");
        v.summary = j.value("summary", "");
        v.username = j.value("username", "");
        v.window = j.value("window", "");
        if (j.contains("messages")) v.messages = j["messages"].get<double>();
        if (j.contains("surge_share")) v.surge_share = j["surge_share"].get<double>();
        if (j.contains("distinct_ips")) v.distinct_ips = j["distinct_ips"].get<std::int64_t>();
        for (const auto& ip : j.value("top_ips", nlohmann::json::array()))
            v.top_ips.push_back({ip.value("ip", ""), ip.value("count", std::int64_t{0})});
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
