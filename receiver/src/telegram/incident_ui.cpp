#include "saslguard/receiver/telegram/incident_ui.hpp"

#include <sys/random.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>

#include "saslguard/common/geoip.hpp"
#include "saslguard/common/http_client.hpp"
#include "saslguard/common/log.hpp"

#include "saslguard/receiver/fleet/coordination.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::telegram {
namespace {

bool contains(const std::vector<std::string>& v, std::string_view s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

using mitigation::ActionDescriptor;
using mitigation::catalog;
using mitigation::TargetKind;

const ActionDescriptor* descriptor(std::string_view action) {
    auto kind = action_kind_from_string(action);
    return kind ? catalog().find(*kind) : nullptr;
}

// What a button acts on, stored with its token (the callback_data is only the token).
std::string target_json(const IncidentView& v, std::string_view action, std::int64_t duration_s) {
    nlohmann::json t;
    t["username"] = v.username;
    const ActionDescriptor* a = descriptor(action);
    if (a && a->target == TargetKind::Ips) {
        t["ips"] = nlohmann::json::array();
        for (const auto& ip : v.top_ips) t["ips"].push_back(ip.ip);
    }
    if (a && a->uses_senders) t["senders"] = v.senders;
    if (duration_s) t["duration_s"] = duration_s;
    return t.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Whether `a`'s block is in force for what the incident is about: its user, or
// (by-IP kinds) `all` of its IPs / any of them. An action that lifts its block
// (delete_mail: deleted mail is no longer held) is never "in force": a hold in
// force is when Delete queued mail is worth offering.
bool in_force(const ActionDescriptor& a, const IncidentView& v,
              const mitigation::ActiveBlocks* blocks, bool all) {
    if (!blocks || a.block_kind.empty() || a.lifts) return false;
    if (a.target == TargetKind::Ips) {
        if (v.top_ips.empty()) return false;
        for (const auto& ip : v.top_ips)
            if (blocks->is_blocked(a.block_kind, ip.ip) != all) return !all;
        return all;
    }
    return !v.username.empty() && blocks->is_blocked(a.block_kind, v.username);
}

// The country databases a configuration names, opened once per process (a
// lookup table in memory; lookups are thread-safe).
const geoip::CountryDb& countries(const TelegramConfig& config) {
    static std::mutex mutex;
    static std::map<std::pair<std::string, std::string>, std::unique_ptr<geoip::CountryDb>> dbs;
    std::lock_guard lock(mutex);
    auto& db = dbs[{config.geoip_database, config.geoip_database_v6}];
    if (!db) {
        db = std::make_unique<geoip::CountryDb>();
        if (auto r = db->open(config.geoip_database, config.geoip_database_v6); !r)
            log::warn("telegram: no countries for client addresses",
                      {{"error", r.error().message}});
    }
    return *db;
}

std::string country_of(const geoip::CountryDb& db, const std::string& ip) {
    auto c = db.lookup(ip);
    return c ? c->code : std::string();
}

// Alertmanager's UI filter for the incident's labels: {a="x",b="y"}.
std::string am_filter(const std::vector<std::pair<std::string, std::string>>& matchers) {
    std::string f = "{";
    for (std::size_t i = 0; i < matchers.size(); ++i) {
        std::string value;
        for (char c : matchers[i].second) {
            if (c == '"' || c == '\\') value += '\\';
            value += c;
        }
        f += (i ? "," : "") + matchers[i].first + "=\"" + value + "\"";
    }
    return HttpClient::url_encode(f + "}");
}

std::string trim_slash(std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
}

// The Grafana dashboard at the alert's host: its `instance` variable, the last 6 hours.
std::string grafana_link(std::string url, const std::string& instance) {
    if (url.empty() || url.find('#') != std::string::npos) return url;
    const bool has_query = url.find('?') != std::string::npos;
    if (has_query && url.find("from=") != std::string::npos) return url;  // already chosen
    url += has_query ? "&" : "?";
    if (!instance.empty()) url += "var-instance=" + HttpClient::url_encode(instance) + "&";
    return url + "from=now-6h&to=now";
}

}  // namespace

std::string random_token() {
    unsigned char buf[16];
    std::size_t got = 0;
    while (got < sizeof buf) {
        ssize_t n = ::getrandom(buf + got, sizeof buf - got, 0);
        if (n > 0) got += static_cast<std::size_t>(n);
    }
    static const char* kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char c : buf) {
        acc = (acc << 8) | c;
        bits += 8;
        while (bits >= 6) {
            out += kAlphabet[(acc >> (bits - 6)) & 63];
            bits -= 6;
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
    return out;
}

IncidentView view_from_notice(const IncidentNotice& n, const TelegramConfig& config) {
    IncidentView v;
    v.incident_id = n.incident_id;
    v.fleet_host = config.fleet_host;
    v.alertname = n.alertname;
    v.severity = n.severity;
    v.summary = n.summary.empty() ? n.description : n.summary;
    v.window = n.evidence.window;
    if (n.evidence.culprit) v.username = *n.evidence.culprit;
    if (const UserEvidence* u = n.evidence.culprit_evidence()) {
        v.messages = u->messages;
        v.surge_share = u->share;
        if (u->distinct_ips)
            v.distinct_ips = static_cast<std::int64_t>(std::llround(*u->distinct_ips));
        v.bounce_ratio = u->bounce_ratio;
    }
    if (n.evidence.queue_depth)
        v.queue_depth = static_cast<std::int64_t>(std::llround(*n.evidence.queue_depth));
    v.host = config.host_name;
    v.instance = n.evidence.instance.empty() ? n.alert.label("instance") : n.evidence.instance;
    // An instance that is the host itself (with or without a port) says nothing more.
    if (!v.host.empty() && (v.instance == v.host || v.instance.rfind(v.host + ":", 0) == 0))
        v.instance.clear();
    const geoip::CountryDb& db = countries(config);
    if (const UserEvidence* u = n.evidence.culprit_evidence()) {
        v.usual_per_hour = u->usual_per_hour;
        v.busiest_hour = u->busiest_hour;
        v.new_source_messages = u->new_source_messages;
    }
    // New for the account: the exporter counts, per account, the messages from
    // networks (/24, /64) it had not used within its memory. It does not say
    // which address: when all of the window's messages were new, every address
    // is; when none was, none is; otherwise the message says how many (docs).
    std::string novelty;
    if (v.new_source_messages && v.messages && *v.messages >= 1) {
        if (*v.new_source_messages < 0.5)
            novelty = "known";
        else if (*v.new_source_messages + 0.5 >= *v.messages)
            novelty = "new";
    }
    if (n.evidence.sample) {
        const QueueSample& s = *n.evidence.sample;
        v.sampled = static_cast<std::int64_t>(s.messages);
        v.recipient_domains = static_cast<std::int64_t>(s.recipient_domains);
        for (const auto& c : s.client_addresses)
            v.sources.push_back({c.ip, static_cast<std::int64_t>(std::llround(c.messages)),
                                 country_of(db, c.ip), novelty});
        for (const auto& subject : s.subjects) v.subjects.push_back(decode_header_words(subject));
    }
    v.sample_note = n.evidence.sample_note;
    // The evidence has no per-user IP list yet; an alert about one client IP
    // names it. Its canonical form, minus the never-block set (the worker asked
    // the mitigation service); those are shown with the reason, never offered.
    for (const auto& ip : n.evidence.client_ips)
        v.top_ips.push_back({ip, 0, country_of(db, ip), ""});
    for (const auto& p : n.evidence.protected_ips) v.protected_ips.emplace_back(p.ip, p.reason);
    for (const auto& s : n.evidence.top_senders)
        if (s.sender == v.username) v.senders.push_back(s.sender);
    // Links: the alert's own dashboard annotation first, else the configured Grafana;
    // Alertmanager from the webhook's externalURL, else the configured one.
    v.grafana_url = n.alert.annotation("dashboard");
    if (v.grafana_url.empty()) v.grafana_url = n.alert.annotation("grafana_url");
    if (v.grafana_url.empty()) v.grafana_url = config.grafana_url;
    v.alertmanager_url = !n.external_url.empty() ? n.external_url : config.alertmanager_url;
    v.mode = std::string(to_string(n.decision.mode));
    for (const auto& [k, val] : n.alert.labels)
        if (k == "alertname" || k == "sasl_username" || k == "instance" || k == "client_ip")
            v.silence_matchers.emplace_back(k, val);

    const bool have_user = !v.username.empty();
    if (n.decision.mode == Mode::Confirm) {
        // The decision's suggestions first, then every other mitigation that fits
        // the evidence: the admin chooses, the suggestion only orders the list.
        std::vector<ActionKind> kinds = n.decision.actions;
        for (ActionKind k : catalog().forward_kinds())
            if (std::find(kinds.begin(), kinds.end(), k) == kinds.end()) kinds.push_back(k);
        for (ActionKind k : kinds) {
            const ActionDescriptor* a = catalog().find(k);
            if (!a || !a->forward) continue;
            if (a->target == TargetKind::Ips ? v.top_ips.empty() : !have_user) continue;
            v.offered.emplace_back(to_string(k));
        }
    }
    for (const auto& r : n.results) {
        LogLine line{"auto",
                     r.outcome.ok ? r.outcome.summary
                                  : std::string(to_string(r.request.kind)) + ": " + r.outcome.error,
                     r.outcome.ok};
        v.log.push_back(std::move(line));
    }
    if (n.interrupted)
        v.log.push_back({"auto", "interrupted by a restart: results may be incomplete", false});
    v.reason = n.decision.reason;
    v.acted = n.decision.act;
    if (n.decision.mode != Mode::Notify)
        for (ActionKind k : n.decision.actions) v.proposed.emplace_back(to_string(k));
    if (n.decision.configured_mode == Mode::Auto && !n.decision.act) {
        // The guard's own words, after the configuration's ("auto (from …); not acting
        // automatically: WHY").
        static constexpr std::string_view kWhy = "not acting automatically: ";
        if (auto at = n.decision.reason.find(kWhy); at != std::string::npos)
            v.not_automatic_because = n.decision.reason.substr(at + kWhy.size());
    }
    if (!v.alertmanager_url.empty() && safe_link(v.alertmanager_url)) {
        const std::string am = trim_slash(v.alertmanager_url);
        const std::string filter = am_filter(v.silence_matchers);
        v.alert_url = am + "/#/alerts?silenced=false&inhibited=false&active=true&filter=" + filter;
        if (!v.silence_matchers.empty()) v.silence_url = am + "/#/silences/new?filter=" + filter;
    }
    v.grafana_url = grafana_link(v.grafana_url, n.alert.label("instance"));
    if (!v.silence_matchers.empty() && !v.alertmanager_url.empty())
        v.offered.emplace_back("silence");
    v.offered.emplace_back("ignore");
    return v;
}

Result<Keyboard> issue_keyboard(TelegramRepository& store, const IncidentView& v,
                                const mitigation::ActiveBlocks* blocks, std::int64_t now_ms,
                                std::chrono::seconds ttl) {
    Keyboard kb;
    const std::int64_t expires = now_ms + ttl.count() * 1000;
    auto button = [&](std::string_view action, std::string label,
                      std::int64_t duration_s) -> Result<Button> {
        CallbackRow row;
        row.token = random_token();
        row.incident_id = v.incident_id;
        row.action = std::string(action);
        row.target = target_json(v, action, duration_s);
        row.stage = "offer";
        row.created_at = now_ms;
        row.expires_at = expires;
        if (auto r = store.add_callback(row); !r) return r.error();
        return Button{std::move(label),
                      fleet::callback_data(v.fleet_host, v.incident_id, row.token)};
    };
    auto add_row = [&](const std::vector<const ActionDescriptor*>& actions) -> Result<void> {
        std::vector<Button> row;
        for (const auto* a : actions) {
            auto b = button(to_string(a->kind), std::string(a->label), 0);
            if (!b) return b.error();
            row.push_back(std::move(*b));
        }
        if (!row.empty()) kb.push_back(std::move(row));
        return {};
    };
    if (!v.closed) {
        // Offered mitigations not in force: those that act at once, then those
        // that ask for confirmation (the irreversible last).
        std::vector<const ActionDescriptor*> plain, confirmed;
        for (const auto* a : catalog().actions()) {
            if (!a->forward || !contains(v.offered, to_string(a->kind))) continue;
            if (in_force(*a, v, blocks, true)) continue;  // shows as its Undo below
            (a->confirm ? confirmed : plain).push_back(a);
        }
        std::stable_partition(confirmed.begin(), confirmed.end(),
                              [](const auto* a) { return !a->destructive(); });
        if (auto r = add_row(plain); !r) return r.error();
        if (auto r = add_row(confirmed); !r) return r.error();
        if (contains(v.offered, "silence")) {
            std::vector<Button> row;
            for (std::int64_t hours : {1, 4, 24}) {
                auto b =
                    button("silence", "🔕 Silence " + std::to_string(hours) + "h", hours * 3600);
                if (!b) return b.error();
                row.push_back(std::move(*b));
            }
            kb.push_back(std::move(row));
        }
        if (contains(v.offered, "ignore")) {
            auto b = button("ignore", action_label("ignore"), 0);
            if (!b) return b.error();
            kb.push_back({std::move(*b)});
        }
    }
    // Undo for every block in force for this incident's user or IPs, whoever put
    // it there (the blocks table is the truth; Undo stays after Ignore).
    std::vector<const ActionDescriptor*> undo;
    for (const auto* a : catalog().actions())
        if (a->forward && a->undo && in_force(*a, v, blocks, false))
            if (const auto* u = catalog().find(*a->undo)) undo.push_back(u);
    if (auto r = add_row(undo); !r) return r.error();
    return kb;
}

std::string message_payload(std::int64_t chat_id, std::int64_t message_id, const std::string& html,
                            const Keyboard& keyboard) {
    nlohmann::json p;
    p["chat_id"] = chat_id;
    if (message_id >= 0) p["message_id"] = message_id;
    p["text"] = html;
    p["parse_mode"] = "HTML";
    p["disable_web_page_preview"] = true;
    p["reply_markup"] = nlohmann::json::parse(keyboard_json(keyboard));
    return p.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<void> publish_incident(TelegramRepository& store, const IncidentView& v,
                              const mitigation::ActiveBlocks* blocks,
                              const std::vector<std::int64_t>& chats, bool initial,
                              std::int64_t now_ms, std::chrono::seconds ttl) {
    if (auto r = store.expire_callbacks(v.incident_id, now_ms); !r) return r;
    auto kb = issue_keyboard(store, v, blocks, now_ms, ttl);
    if (!kb) return kb.error();
    if (auto r = store.save_incident(v.incident_id, to_json(v), now_ms); !r) return r;
    const std::string html = format_incident(v);
    for (std::int64_t chat : chats) {
        // message_id 0 in an edit: the outbox fills in the incident's message in that chat.
        auto payload = message_payload(chat, initial ? -1 : 0, html, *kb);
        auto r = store.enqueue(chat, initial ? "sendMessage" : "editMessageText", payload,
                               v.incident_id, now_ms);
        if (!r) return r.error();
    }
    return {};
}

}  // namespace saslguard::receiver::telegram
