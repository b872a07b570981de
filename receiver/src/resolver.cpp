#include "saslguard/receiver/resolver.hpp"

#include <algorithm>
#include <optional>

#include "saslguard/common/duration.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"

namespace saslguard::receiver {

// ---- sources -----------------------------------------------------------------

namespace {

std::string fmt(double v) {
    return format::fixed(v, 0);
}

// A login in its one form (lowercase), so case variants of one login — one key
// to Postfix's maps — are one user here too; an invalid name stays as it is
// (the policy refuses to act on it).
std::string canonical(const std::string& name) {
    return validate::canonical_login(name).value_or(name);
}

// Adds `n` to the user's entry, merging case variants.
void add_user(std::vector<std::pair<std::string, double>>& users, const std::string& name,
              double n) {
    const std::string key = canonical(name);
    for (auto& [u, count] : users)
        if (u == key) {
            count += n;
            return;
        }
    users.emplace_back(key, n);
}

// A PromQL matcher for every case variant of a valid login (RE2, anchored).
std::string user_matcher(const std::string& user) {
    if (!validate::sasl_username(user)) return "sasl_username=" + prom::quote(user);
    std::string re = "(?i)";
    for (char c : user) {
        if (c == '.' || c == '+') re += '\\';
        re += c;
    }
    return "sasl_username=~" + prom::quote(re);
}

// What naming needs, from either source.
struct Overview {
    std::vector<std::pair<std::string, double>> users;  // messages, highest first
    std::optional<double> total;
    std::vector<SenderCount> senders;
    std::optional<double> queue_depth;
};

class Source {
public:
    virtual ~Source() = default;
    virtual Result<Overview> overview() = 0;
    // Fills messages (when missing), distinct_ips, deliveries, bounce_ratio.
    virtual void details(UserEvidence& user) = 0;
};

double bounce_part(const std::map<std::string, double>& by_status, double& all) {
    double bad = 0;
    all = 0;
    for (const auto& [status, n] : by_status) {
        all += n;
        if (status == "bounced" || status == "deferred" || status == "expired") bad += n;
    }
    return bad;
}

void set_deliveries(UserEvidence& u, const std::map<std::string, double>& by_status) {
    double all = 0;
    double bad = bounce_part(by_status, all);
    if (by_status.empty()) return;
    u.deliveries = all;
    if (all > 0) u.bounce_ratio = bad / all;
}

class PrometheusSource final : public Source {
public:
    PrometheusSource(const PrometheusConfig& cfg, const prom::Fetch& fetch,
                     const std::string& instance, std::vector<std::string>& notes)
        : m_client({cfg.url, cfg.timeout, cfg.bearer_token}, fetch),
          m_notes(notes),
          m_range("[" + format_duration(cfg.window) + "]"),
          m_offset(" offset " + format_duration(cfg.window)) {
        if (!instance.empty()) m_selector = "instance=" + prom::quote(instance);
    }

    Result<Overview> overview() override {
        Overview o;
        auto top = m_client.query(
            "topk(5, sum by (sasl_username) (increase(postfix_sasl_user_messages_total" + sel() +
            m_range + ")))");
        if (!top) return top.error();  // Prometheus did not answer: the caller falls back
        for (const auto& s : *top)
            if (auto it = s.labels.find("sasl_username"); it != s.labels.end() && s.value > 0)
                add_user(o.users, it->second, s.value);
        std::sort(o.users.begin(), o.users.end(),
                  [](auto& a, auto& b) { return a.second > b.second; });
        o.total = scalar("sum(increase(postfix_sasl_user_messages_total" + sel() + m_range + "))");
        if (auto senders = m_client.query("topk(5, sum by (sender) (postfix_queue_sender_messages" +
                                          sel() + "))")) {
            for (const auto& s : *senders)
                if (auto it = s.labels.find("sender"); it != s.labels.end() && s.value > 0)
                    o.senders.push_back({it->second, s.value});
            std::sort(o.senders.begin(), o.senders.end(),
                      [](auto& a, auto& b) { return a.messages > b.messages; });
        } else {
            m_notes.push_back("queued senders unknown: " + senders.error().message);
        }
        o.queue_depth = scalar("sum(postfix_showq_queue_depth" + sel() + ")");
        return o;
    }

    void details(UserEvidence& u) override {
        const std::string user_sel = sel(user_matcher(u.username));
        if (!u.messages)
            u.messages =
                scalar("sum(increase(postfix_sasl_user_messages_total" + user_sel + m_range + "))");
        u.distinct_ips = scalar("max(postfix_sasl_user_client_ips" + user_sel + ")");
        if (auto d = m_client.query("sum by (status) (increase(postfix_sasl_user_deliveries_total" +
                                    user_sel + m_range + "))")) {
            std::map<std::string, double> by_status;
            for (const auto& s : *d)
                if (auto it = s.labels.find("status"); it != s.labels.end())
                    by_status[it->second] += s.value;
            set_deliveries(u, by_status);
        }
        // The account's own history, as the rules record it hourly (last_over_time:
        // an hourly series is older than the lookback most of the hour). No series
        // (a new account, a fresh install) leaves the baseline unknown.
        const std::string hist_sel = sel(user_matcher(u.username));
        u.usual_per_hour = quiet_scalar(
            "max(last_over_time(sasl_username:postfix_sasl_user_messages:increase1h_avg1d" +
            hist_sel + "[2h]))");
        u.busiest_hour = quiet_scalar(
            "max(last_over_time(sasl_username:postfix_sasl_user_messages:increase1h_peak8d" +
            hist_sel + "[2h]))");
        // The exporter publishes this counter only from the user's first new-source
        // message (docs/exporter.md): one younger than the window counts whole, and
        // none means none.
        const std::string ns = "postfix_sasl_user_new_source_messages_total" + user_sel;
        u.new_source_messages = quiet_scalar("sum((increase(" + ns + m_range + ") and " + ns +
                                             m_offset + ") or " + ns + ") or vector(0)");
    }

private:
    // For context only: a failure is not worth a note (the rules may not be loaded).
    std::optional<double> quiet_scalar(const std::string& promql) {
        auto r = m_client.scalar(promql);
        if (!r) return std::nullopt;
        return *r;
    }

    std::string sel(const std::string& extra = "") const {
        std::string inner = m_selector;
        if (!extra.empty()) inner += (inner.empty() ? "" : ",") + extra;
        return inner.empty() ? "" : "{" + inner + "}";
    }

    // A failed query becomes a note; no series is unknown, not zero.
    std::optional<double> scalar(const std::string& promql) {
        auto r = m_client.scalar(promql);
        if (!r) {
            m_notes.push_back("query failed: " + r.error().message);
            return std::nullopt;
        }
        return *r;
    }

    prom::Client m_client;
    std::vector<std::string>& m_notes;
    std::string m_range;
    std::string m_offset;  // " offset <window>"
    std::string m_selector;
};

class ExporterSource final : public Source {
public:
    ExporterSource(const PrometheusConfig& cfg, const prom::Fetch& fetch)
        : m_cfg(cfg), m_client({cfg.url, cfg.timeout, ""}, fetch) {}

    Result<Overview> overview() override {
        if (m_cfg.exporter_url.empty()) return make_error("no exporter_url configured");
        auto scraped = m_client.scrape(m_cfg.exporter_url);
        if (!scraped)
            return make_error("exporter " + m_cfg.exporter_url +
                              " did not answer: " + scraped.error().message);
        m_samples = std::move(*scraped);
        Overview o;
        std::map<std::string, double> users;
        std::map<std::string, double> senders;
        double total = 0;
        bool any_total = false, any_depth = false;
        double depth = 0;
        for (const auto& s : m_samples) {
            if (s.name == "postfix_sasl_user_messages_total") {
                users[label(s, "sasl_username")] += s.value;
                total += s.value;
                any_total = true;
            } else if (s.name == "postfix_queue_sender_messages") {
                senders[label(s, "sender")] += s.value;
            } else if (s.name == "postfix_showq_queue_depth") {
                depth += s.value;
                any_depth = true;
            }
        }
        for (const auto& [u, n] : users)
            if (n > 0 && !u.empty()) add_user(o.users, u, n);
        std::sort(o.users.begin(), o.users.end(),
                  [](auto& a, auto& b) { return a.second > b.second; });
        if (o.users.size() > 5) o.users.resize(5);
        for (const auto& [s, n] : senders)
            if (n > 0) o.senders.push_back({s, n});
        std::sort(o.senders.begin(), o.senders.end(),
                  [](auto& a, auto& b) { return a.messages > b.messages; });
        if (o.senders.size() > 5) o.senders.resize(5);
        if (any_total) o.total = total;
        if (any_depth) o.queue_depth = depth;
        return o;
    }

    void details(UserEvidence& u) override {
        std::map<std::string, double> by_status;
        double messages = 0;
        bool seen = false;
        for (const auto& s : m_samples) {
            if (canonical(label(s, "sasl_username")) != u.username) continue;
            if (s.name == "postfix_sasl_user_client_ips") u.distinct_ips = s.value;
            if (s.name == "postfix_sasl_user_deliveries_total")
                by_status[label(s, "status")] += s.value;
            if (s.name == "postfix_sasl_user_messages_total") {
                messages += s.value;
                seen = true;
            }
        }
        if (!u.messages && seen) u.messages = messages;
        set_deliveries(u, by_status);
    }

private:
    static std::string label(const prom::Sample& s, const char* name) {
        auto it = s.labels.find(name);
        return it == s.labels.end() ? std::string() : it->second;
    }
    const PrometheusConfig& m_cfg;
    prom::Client m_client;
    std::vector<prom::Sample> m_samples;
};

}  // namespace

Resolver::Resolver(PrometheusConfig prometheus, PolicyConfig policy, HttpFetch fetch)
    : m_prometheus(std::move(prometheus)), m_policy(std::move(policy)), m_fetch(std::move(fetch)) {}

Evidence Resolver::resolve(const Alert& alert) {
    Evidence ev;
    ev.instance = alert.label("instance");
    ev.window = format_duration(m_prometheus.window);
    const std::string label_user = canonical(alert.label("sasl_username"));
    // The address an alert is about (SaslAuthBruteForce's client_ip): what
    // block_ips would act on. The worker moves never-block ones aside.
    if (auto ip = validate::canonical_ip(alert.label("client_ip"))) ev.client_ips.push_back(*ip);

    PrometheusSource prometheus(m_prometheus, m_fetch, ev.instance, ev.notes);
    ExporterSource exporter(m_prometheus, m_fetch);
    Source* source = &prometheus;
    auto overview = prometheus.overview();
    std::string source_name = "prometheus";
    if (!overview) {
        std::string why = overview.error().message;
        source = &exporter;
        source_name = "exporter";
        overview = exporter.overview();
        if (overview) {
            ev.notes.push_back(
                why + "; figures come from one scrape of " + m_prometheus.exporter_url +
                ": counters are totals since the exporter started, not the last " + ev.window +
                ", so shares are of those totals and the queued senders carry the weight");
        } else {
            ev.notes.push_back(why);
            ev.notes.push_back(overview.error().message);
            source = nullptr;
        }
    }

    if (overview) {
        ev.total_messages = overview->total;
        ev.queue_depth = overview->queue_depth;
        ev.top_senders = overview->senders;
        for (const auto& [name, n] : overview->users) {
            UserEvidence u;
            u.username = name;
            u.messages = n;
            if (ev.total_messages && *ev.total_messages > 0) u.share = n / *ev.total_messages;
            ev.top_users.push_back(std::move(u));
        }
    }

    if (!label_user.empty()) {
        ev.source = "label";
        ev.conclusive = true;
        ev.culprit = label_user;
        auto it = std::find_if(ev.top_users.begin(), ev.top_users.end(),
                               [&](const UserEvidence& u) { return u.username == label_user; });
        if (it == ev.top_users.end()) {
            UserEvidence u;
            u.username = label_user;
            ev.top_users.insert(ev.top_users.begin(), std::move(u));
        } else {
            std::rotate(ev.top_users.begin(), it, it + 1);
        }
        if (source) {
            source->details(ev.top_users.front());
            auto& u = ev.top_users.front();
            if (u.messages && !u.share && ev.total_messages && *ev.total_messages > 0)
                u.share = *u.messages / *ev.total_messages;
        }
        return ev;
    }

    ev.source = source ? source_name : "none";
    if (!overview) {
        ev.notes.push_back(
            "no user named: the alert has no sasl_username label and no metrics were available");
        return ev;
    }
    if (ev.top_users.empty()) {
        ev.notes.push_back(
            "no SASL-authenticated messages" +
            (ev.instance.empty() ? std::string() : " on " + ev.instance) +
            (source_name == "prometheus" ? " in the last " + ev.window : std::string()) +
            ": no user named");
        return ev;
    }
    UserEvidence& top = ev.top_users.front();
    source->details(top);
    const double n = top.messages.value_or(0);
    const double share = top.share.value_or(0);
    if (share >= m_policy.min_share && n >= m_policy.min_messages) {
        ev.conclusive = true;
        ev.culprit = top.username;
        return ev;
    }
    ev.notes.push_back("top user " + top.username + " has " + fmt(n) + " messages (" +
                       fmt(share * 100) + "% of " + fmt(ev.total_messages.value_or(0)) +
                       "): below policy min_share " + fmt(m_policy.min_share * 100) +
                       "% or min_messages " + fmt(m_policy.min_messages) + ", no user named");
    return ev;
}

}  // namespace saslguard::receiver
