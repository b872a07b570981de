#include "log_metrics.hpp"

#include <sys/stat.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <deque>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include "label_value.hpp"
#include "saslguard/common/files.hpp"

namespace saslguard::exporter {

using postfix::DeliveryStatus;
using postfix::Event;
using postfix::EventKind;

namespace {

constexpr std::size_t kMaxLabelBytes = 256;
constexpr int kBuckets = 10;  // a window is kBuckets buckets of window/kBuckets each
constexpr std::array<DeliveryStatus, 4> kUserStatuses = {
    DeliveryStatus::Sent, DeliveryStatus::Deferred, DeliveryStatus::Bounced,
    DeliveryStatus::Expired};
// SASL mechanisms that get their own label value; anything else is "__other__"
// (the mechanism name is chosen by the client).
constexpr std::array<std::string_view, 12> kSaslMethods = {
    "PLAIN",   "LOGIN",       "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256",
    "XOAUTH2", "OAUTHBEARER", "GSSAPI",   "NTLM",       "ANONYMOUS",   "EXTERNAL"};

// A client IP as text, stored inline. Postfix prints the canonical form, so the
// text is the key; anything that is not made of IP characters is refused.
struct IpKey {
    std::array<char, 46> text{};
    std::uint8_t len = 0;
    std::string_view view() const { return {text.data(), len}; }
    bool operator==(const IpKey& o) const {
        return len == o.len && std::memcmp(text.data(), o.text.data(), len) == 0;
    }
};
struct IpKeyHash {
    std::size_t operator()(const IpKey& k) const { return std::hash<std::string_view>{}(k.view()); }
};
bool make_ip_key(std::string_view ip, IpKey& out) {
    if (ip.empty() || ip.size() > out.text.size()) return false;
    for (char c : ip) {
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                  c == '.' || c == ':';
        if (!ok) return false;
    }
    std::memcpy(out.text.data(), ip.data(), ip.size());
    out.len = static_cast<std::uint8_t>(ip.size());
    return true;
}

struct FailureCounts {
    std::array<std::uint32_t, kBuckets> count{};
    std::array<std::int64_t, kBuckets> bucket{};
    void add(std::int64_t b) {
        auto i = static_cast<std::size_t>(b % kBuckets);
        if (bucket[i] != b) {
            bucket[i] = b;
            count[i] = 0;
        }
        ++count[i];
    }
    std::uint64_t in_window(std::int64_t now_bucket) const {
        std::uint64_t s = 0;
        for (int i = 0; i < kBuckets; ++i)
            if (bucket[i] > now_bucket - kBuckets && bucket[i] <= now_bucket) s += count[i];
        return s;
    }
};

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

prometheus::ClientMetric::Label label(std::string name, std::string value) {
    prometheus::ClientMetric::Label l;
    l.name = std::move(name);
    l.value = std::move(value);
    return l;
}

// A counter written by the log thread only and read by the scrape thread: a
// relaxed load+store (no read-modify-write needed with one writer).
struct Count {
    std::atomic<std::uint64_t> v{0};
    void add(std::uint64_t n = 1) {
        v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    double get() const { return static_cast<double>(v.load(std::memory_order_relaxed)); }
    void reset() { v.store(0, std::memory_order_relaxed); }
};

constexpr std::uint32_t kNoSlot = 0xffffffffu;

}  // namespace

struct LogMetrics::User {
    std::string name;  // the label value (sanitized)
    Count messages;
    Count recipients;
    std::array<Count, kUserStatuses.size()> deliveries;
    Count new_source_messages;  // since the series last appeared (publishes_new_sources)
    Count unknown_recipients;
    std::int64_t last_seen = 0;
    std::int64_t last_new_source = 0;  // log time; guarded by the state mutex
    std::uint32_t generation = 0;
    std::uint32_t slot = 0;
    bool active = false;
    // Least-recently-active order over the slots (head: most recent).
    std::uint32_t lru_prev = kNoSlot;
    std::uint32_t lru_next = kNoSlot;
    std::unordered_map<IpKey, std::int64_t, IpKeyHash> ips;  // client IP -> last seen (log time)

    // Whether the new-source counter is published at `now` (state mutex held):
    // above 0 and, unless `published_for` is 0, its latest message that recent.
    bool publishes_new_sources(std::int64_t now, std::int64_t published_for) const {
        return new_source_messages.get() > 0 &&
               (published_for == 0 || now - last_new_source <= published_for);
    }
};

// Everything the scrape thread reads. Guarded by `mutex` except `last_ts` and the
// users' Counts (atomics). Users live in a deque: slots never move.
struct LogMetrics::State {
    explicit State(const LogMetricsConfig& c)
        : config(c),
          sources(SourceMemoryConfig{c.sources_horizon_s, c.sources_learning_s, c.sources_new_for_s,
                                     c.max_users, c.max_networks_per_user}) {}
    mutable std::mutex mutex;
    std::deque<User> users;
    std::vector<std::uint32_t> free_slots;
    std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> index;
    std::uint32_t lru_head = kNoSlot;
    std::uint32_t lru_tail = kNoSlot;
    std::unordered_map<IpKey, FailureCounts, IpKeyHash> failures;
    FailureCounts failures_overflow;  // IPs beyond max_failure_ips
    std::int64_t last_failure_sweep = -1;
    std::atomic<double> last_ts{0};
    LogMetricsConfig config;
    SourceMemory sources;

    std::int64_t bucket_s() const { return std::max<std::int64_t>(1, config.window_s / kBuckets); }
    std::int64_t now() const {
        double t = last_ts.load(std::memory_order_relaxed);
        if (config.wall_clock) t = std::max(t, static_cast<double>(std::time(nullptr)));
        return static_cast<std::int64_t>(t);
    }
};

// Collected at scrape time: the per-user counters and gauges, the windowed
// gauges and the table sizes.
class LogMetrics::WindowCollectable : public prometheus::Collectable {
public:
    explicit WindowCollectable(const State& state) : m_state(state) {}

    std::vector<prometheus::MetricFamily> Collect() const override {
        using prometheus::MetricFamily;
        using prometheus::MetricType;
        std::lock_guard lock(m_state.mutex);
        const std::int64_t now = m_state.now();
        const auto& cfg = m_state.config;
        const std::int64_t nb = now / m_state.bucket_s();
        // The new-source counters go by log time, as the log thread resets them.
        const auto log_now =
            static_cast<std::int64_t>(m_state.last_ts.load(std::memory_order_relaxed));
        std::vector<MetricFamily> out;

        auto family = [](const char* name, const char* help, MetricType type) {
            return MetricFamily{name, help, type, {}};
        };
        MetricFamily messages =
            family("postfix_sasl_user_messages_total",
                   "Messages accepted from a SASL-authenticated user (smtpd client= lines)",
                   MetricType::Counter);
        MetricFamily recipients =
            family("postfix_sasl_user_recipients_total",
                   "Recipients of messages from a SASL user (qmgr nrcpt, first time per message)",
                   MetricType::Counter);
        MetricFamily deliveries = family(
            "postfix_sasl_user_deliveries_total",
            "Delivery attempts of messages from a SASL user, by status", MetricType::Counter);
        MetricFamily new_sources = family(
            "postfix_sasl_user_new_source_messages_total",
            "Messages a SASL user submitted from a client network (IPv4 /24, IPv6 /64) that was "
            "new for that user (unused within the source horizon) when it appeared, during the "
            "first --sources.new-for after that (none while the exporter is still learning); "
            "present once above 0, withdrawn an hour after the user's latest such message and "
            "then counted from 0 again",
            MetricType::Counter);
        MetricFamily unknown =
            family("postfix_sasl_user_unknown_recipients_total",
                   "Deliveries of a SASL user's mail bounced because the recipient does not exist "
                   "(DSN 5.1.x, or 'user unknown' without an enhanced code)",
                   MetricType::Counter);
        MetricFamily ips =
            family("postfix_sasl_user_client_ips",
                   "Distinct client IPs each SASL user submitted from in the sliding window",
                   MetricType::Gauge);
        MetricFamily ip_failures = family(
            "postfix_sasl_user_client_ip_auth_failures",
            "Most SASL authentication failures in the sliding window of any client IP the user "
            "submitted from in that window (present only when above 0)",
            MetricType::Gauge);

        auto add = [](MetricFamily& f, const std::string& user, double v, bool counter,
                      const char* status = nullptr) {
            prometheus::ClientMetric m;
            m.label.push_back(label("sasl_username", user));
            if (status) m.label.push_back(label("status", status));
            (counter ? m.counter.value : m.gauge.value) = v;
            f.metric.push_back(std::move(m));
        };
        for (const User& u : m_state.users) {
            if (!u.active) continue;
            add(messages, u.name, u.messages.get(), true);
            add(recipients, u.name, u.recipients.get(), true);
            for (std::size_t i = 0; i < kUserStatuses.size(); ++i)
                add(deliveries, u.name, u.deliveries[i].get(), true,
                    std::string(to_string(kUserStatuses[i])).c_str());
            if (u.publishes_new_sources(log_now, cfg.new_source_published_for_s))
                add(new_sources, u.name, u.new_source_messages.get(), true);
            add(unknown, u.name, u.unknown_recipients.get(), true);
            std::size_t n = 0;
            std::uint64_t worst = 0;
            for (const auto& [ip, seen] : u.ips) {
                if (seen <= now - cfg.window_s) continue;
                ++n;
                if (auto f = m_state.failures.find(ip); f != m_state.failures.end())
                    worst = std::max(worst, f->second.in_window(nb));
            }
            add(ips, u.name, static_cast<double>(n), false);
            if (worst > 0) add(ip_failures, u.name, static_cast<double>(worst), false);
        }
        for (auto* f :
             {&messages, &recipients, &deliveries, &new_sources, &unknown, &ips, &ip_failures})
            out.push_back(std::move(*f));

        MetricFamily fails{"postfix_sasl_failures_by_client_ip",
                           "SASL authentication failures per client IP in the sliding window "
                           "(top-K, rest in __other__)",
                           MetricType::Gauge,
                           {}};
        std::vector<std::pair<std::uint64_t, const IpKey*>> ranked;
        for (const auto& [ip, counts] : m_state.failures)
            if (auto n = counts.in_window(nb)) ranked.emplace_back(n, &ip);
        auto by_count = [](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : a.second->view() < b.second->view();
        };
        std::size_t k = std::min(cfg.top_k, ranked.size());
        std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(k),
                          ranked.end(), by_count);
        std::uint64_t other = m_state.failures_overflow.in_window(nb);
        for (std::size_t i = 0; i < ranked.size(); ++i) {
            if (i >= k) {
                other += ranked[i].first;
                continue;
            }
            prometheus::ClientMetric m;
            m.label.push_back(label("client_ip", std::string(ranked[i].second->view())));
            m.gauge.value = static_cast<double>(ranked[i].first);
            fails.metric.push_back(std::move(m));
        }
        prometheus::ClientMetric rest;
        rest.label.push_back(label("client_ip", "__other__"));
        rest.gauge.value = static_cast<double>(other);
        fails.metric.push_back(std::move(rest));
        out.push_back(std::move(fails));

        auto single = [&](const char* name, const char* help, double v) {
            MetricFamily f{name, help, MetricType::Gauge, {}};
            prometheus::ClientMetric m;
            m.gauge.value = v;
            f.metric.push_back(std::move(m));
            out.push_back(std::move(f));
        };
        single("saslguard_exporter_tracked_users",
               "SASL users currently in the exporter's user table",
               static_cast<double>(m_state.index.size()));
        single("saslguard_exporter_last_log_line_timestamp_seconds",
               "Log timestamp of the newest log line read (Unix seconds; 0 before the first line)",
               m_state.last_ts.load(std::memory_order_relaxed));
        const SourceMemory& src = m_state.sources;
        single("saslguard_exporter_source_users",
               "SASL users whose client networks the source memory holds",
               static_cast<double>(src.users()));
        single("saslguard_exporter_source_networks",
               "Client networks held by the source memory, all users together",
               static_cast<double>(src.networks()));
        single("saslguard_exporter_source_learning",
               "1 while the source memory is still learning (no network is called new yet)",
               src.learning_since() == 0 ||
                       static_cast<std::int64_t>(m_state.last_ts.load(std::memory_order_relaxed)) <
                           src.learning_since() + src.config().learning_s
                   ? 1.0
                   : 0.0);
        return out;
    }

private:
    const State& m_state;
};

namespace {
prometheus::Family<prometheus::Counter>& counter_family(prometheus::Registry& r, const char* name,
                                                        const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
prometheus::Counter& counter(prometheus::Registry& r, const char* name, const char* help,
                             const prometheus::Labels& labels = {}) {
    return counter_family(r, name, help).Add(labels);
}
}  // namespace

LogMetrics::LogMetrics(prometheus::Registry& r, LogMetricsConfig config)
    : m_config(config),
      m_correlator(config.max_queue_ids, config.queue_id_ttl_s),
      m_sasl_failures(counter_family(r, "postfix_smtpd_sasl_authentication_failures_total",
                                     "Failed SMTP AUTH attempts, by SASL mechanism")),
      m_rejects(counter_family(r, "postfix_smtpd_messages_rejected_total",
                               "smtpd NOQUEUE/queue-id rejects, by SMTP reply code")),
      m_processed(counter_family(r, "postfix_smtp_messages_processed_total",
                                 "smtp delivery attempts, by status")),
      m_connects(counter(r, "postfix_smtpd_connects_total", "smtpd connections")),
      m_disconnects(counter(r, "postfix_smtpd_disconnects_total", "smtpd disconnections")),
      m_cleanup_processed(
          counter(r, "postfix_cleanup_messages_processed_total", "Messages processed by cleanup")),
      m_cleanup_rejected(
          counter(r, "postfix_cleanup_messages_rejected_total", "Messages rejected by cleanup")),
      m_qmgr_removed(
          counter(r, "postfix_qmgr_messages_removed_total", "Messages removed from the queue")),
      m_lines_parsed(counter(r, "saslguard_exporter_log_lines_total",
                             "Log lines read, by parse result", {{"result", "parsed"}})),
      m_lines_unsupported(counter(r, "saslguard_exporter_log_lines_total",
                                  "Log lines read, by parse result", {{"result", "unsupported"}})),
      m_rotations(counter(r, "saslguard_exporter_log_rotations_total",
                          "Log file rotations (rename or truncation) followed")),
      m_users_evicted(
          counter(r, "saslguard_exporter_users_evicted_total",
                  "SASL users dropped from the user table (beyond --max-users, idlest first)")),
      m_queue_ids_evicted(counter(
          r, "saslguard_exporter_queue_ids_evicted_total",
          "Queue ids dropped from the correlation table before qmgr removed them (table full)")),
      m_state(std::make_unique<State>(config)) {
    prometheus::BuildGauge()
        .Name("saslguard_exporter_build_info")
        .Help("saslguard-exporter build information (value 1)")
        .Register(r)
        .Add({{"version", SASLGUARD_VERSION}})
        .Set(1);
    for (std::string_view m : {std::string_view("PLAIN"), std::string_view("LOGIN")})
        m_failure_by_method.emplace_back(std::string(m),
                                         &m_sasl_failures.Add({{"sasl_method", std::string(m)}}));
    m_failure_other = &m_sasl_failures.Add({{"sasl_method", "__other__"}});
    for (DeliveryStatus s :
         {DeliveryStatus::Sent, DeliveryStatus::Deferred, DeliveryStatus::Bounced})
        m_processed_by_status[static_cast<int>(s)] =
            &m_processed.Add({{"status", std::string(to_string(s))}});
    m_collectable = std::make_shared<WindowCollectable>(*m_state);
}

LogMetrics::~LogMetrics() = default;

std::size_t LogMetrics::tracked_users() const {
    std::lock_guard lock(m_state->mutex);
    return m_state->index.size();
}

void LogMetrics::count_unsupported_line() {
    m_lines_unsupported.Increment();
}
void LogMetrics::count_rotation() {
    m_rotations.Increment();
}

void LogMetrics::process_line(std::string_view line) {
    const Event ev = postfix::parse_line(line);
    if (ev.kind == EventKind::Unsupported) {
        m_lines_unsupported.Increment();
        return;
    }
    m_lines_parsed.Increment();
    process_event(ev, m_resolver.resolve(ev.timestamp));
}

void LogMetrics::process_event(const Event& ev, double timestamp_s) {
    double last = m_state->last_ts.load(std::memory_order_relaxed);
    if (timestamp_s > last) m_state->last_ts.store(timestamp_s, std::memory_order_relaxed);
    const auto now = static_cast<std::int64_t>(std::max(timestamp_s, last));

    switch (ev.kind) {
        case EventKind::Connect:
            m_connects.Increment();
            break;
        case EventKind::Disconnect:
            m_disconnects.Increment();
            break;
        case EventKind::SmtpdClient:
            on_client(ev, now);
            break;
        case EventKind::SaslFailure:
            on_sasl_failure(ev, now);
            break;
        case EventKind::Reject:
            if (ev.program == "cleanup") {
                m_cleanup_rejected.Increment();
            } else if (ev.reject_code != 0) {
                auto*& c = m_reject_by_code[ev.reject_code];  // 200..599: bounded by the parser
                if (!c) c = &m_rejects.Add({{"code", std::to_string(ev.reject_code)}});
                c->Increment();
            }
            break;
        case EventKind::CleanupMessage:
            m_cleanup_processed.Increment();
            break;
        case EventKind::QmgrFrom:
            if (Correlator::Entry* e = m_correlator.find(ev.queue_id);
                e && !e->recipients_counted) {
                e->recipients_counted = true;
                if (User* u = attributed_user(ev.queue_id)) u->recipients.add(ev.nrcpt);
            }
            break;
        case EventKind::QmgrExpired:
            on_delivery(ev, 3);
            break;
        case EventKind::QmgrRemoved:
            m_qmgr_removed.Increment();
            m_correlator.erase(ev.queue_id);
            break;
        case EventKind::Delivery: {
            auto s = static_cast<std::size_t>(ev.status);
            if (ev.program == "smtp") {
                auto*& c = m_processed_by_status[s];
                if (!c) c = &m_processed.Add({{"status", std::string(to_string(ev.status))}});
                c->Increment();
            }
            if (ev.status != DeliveryStatus::Other) on_delivery(ev, s);
            break;
        }
        case EventKind::Unsupported:
        case EventKind::Count_:
            break;
    }
    if (std::uint64_t ev_count = m_correlator.evicted(); ev_count != m_queue_ids_evicted_seen) {
        m_queue_ids_evicted.Increment(static_cast<double>(ev_count - m_queue_ids_evicted_seen));
        m_queue_ids_evicted_seen = ev_count;
    }
}

LogMetrics::User* LogMetrics::attributed_user(std::string_view qid) {
    Correlator::Entry* e = m_correlator.find(qid);
    if (!e || e->user >= m_state->users.size()) return nullptr;
    User& u = m_state->users[e->user];
    return u.active && u.generation == e->generation ? &u : nullptr;
}

void LogMetrics::on_delivery(const Event& ev, std::size_t status_index) {
    if (status_index >= kUserStatuses.size()) return;
    if (User* u = attributed_user(ev.queue_id)) {
        u->deliveries[status_index].add();
        if (postfix::is_unknown_recipient(ev)) u->unknown_recipients.add();
    }
}

void LogMetrics::on_client(const Event& ev, std::int64_t now) {
    if (ev.sasl_username.empty()) return;  // not an authenticated submission
    User* u = user_for(ev.sasl_username, now);
    u->messages.add();
    m_correlator.put(ev.queue_id, u->slot, u->generation, now);

    State& st = *m_state;
    std::lock_guard lock(st.mutex);
    if (u->last_seen != now || st.lru_head != u->slot) {
        u->last_seen = now;
        lru_unlink(*u);
        lru_push_front(*u);
    }
    if (auto net = network_of(ev.client_ip))
        if (st.sources.observe(u->name, *net, now) == SourceMemory::Seen::New) {
            // After a withdrawal the series reappears as a new counter, from 0.
            if (!u->publishes_new_sources(now, m_config.new_source_published_for_s))
                u->new_source_messages.reset();
            u->new_source_messages.add();
            u->last_new_source = now;
        }

    IpKey ip;
    if (!make_ip_key(ev.client_ip, ip)) return;
    auto it = u->ips.find(ip);
    if (it != u->ips.end()) {
        it->second = now;
        return;
    }
    if (u->ips.size() >= m_config.max_ips_per_user) {
        std::erase_if(u->ips, [&](const auto& kv) { return kv.second <= now - m_config.window_s; });
        if (u->ips.size() >= m_config.max_ips_per_user)
            return;  // saturated: the gauge stays at the cap
    }
    u->ips.emplace(ip, now);
}

void LogMetrics::on_sasl_failure(const Event& ev, std::int64_t now) {
    prometheus::Counter* c = m_failure_other;
    for (auto& [name, counter] : m_failure_by_method)
        if (name == ev.sasl_method) c = counter;
    if (c == m_failure_other) {
        for (std::string_view m : kSaslMethods)
            if (m == ev.sasl_method) {
                c = &m_sasl_failures.Add({{"sasl_method", std::string(m)}});
                m_failure_by_method.emplace_back(std::string(m), c);
            }
    }
    c->Increment();

    IpKey ip;
    if (!make_ip_key(ev.client_ip, ip)) return;
    State& st = *m_state;
    const std::int64_t b = now / st.bucket_s();
    std::lock_guard lock(st.mutex);
    auto it = st.failures.find(ip);
    if (it == st.failures.end()) {
        if (st.failures.size() >= m_config.max_failure_ips && st.last_failure_sweep != b) {
            // At most one sweep per bucket: a flood of new IPs cannot make each event O(n).
            st.last_failure_sweep = b;
            std::erase_if(st.failures, [&](const auto& kv) { return kv.second.in_window(b) == 0; });
        }
        if (st.failures.size() >= m_config.max_failure_ips) {
            st.failures_overflow.add(b);
            return;
        }
        it = st.failures.emplace(ip, FailureCounts{}).first;
    }
    it->second.add(b);
}

LogMetrics::User* LogMetrics::user_for(std::string_view raw_name, std::int64_t now) {
    State& st = *m_state;
    std::string cleaned;
    std::string_view name = raw_name;
    if (raw_name.size() > kMaxLabelBytes || !is_clean_label_value(raw_name)) {
        cleaned = sanitize_label_value(raw_name, kMaxLabelBytes);
        name = cleaned;
    }
    if (auto it = st.index.find(name); it != st.index.end()) return &st.users[it->second];

    std::lock_guard lock(st.mutex);
    if (st.index.size() >= m_config.max_users) evict_idlest_user();
    std::uint32_t slot;
    if (!st.free_slots.empty()) {
        slot = st.free_slots.back();
        st.free_slots.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(st.users.size());
        st.users.emplace_back();
    }
    User& u = st.users[slot];
    u.slot = slot;
    u.name = std::string(name);
    u.active = true;
    u.last_seen = now;
    u.ips.clear();
    u.messages.reset();
    u.recipients.reset();
    for (auto& d : u.deliveries) d.reset();
    u.new_source_messages.reset();
    u.last_new_source = 0;
    u.unknown_recipients.reset();
    lru_push_front(u);
    st.index.emplace(u.name, slot);
    return &u;
}

// Caller holds the state mutex. O(1).
void LogMetrics::lru_unlink(User& u) {
    State& st = *m_state;
    if (u.lru_prev != kNoSlot)
        st.users[u.lru_prev].lru_next = u.lru_next;
    else if (st.lru_head == u.slot)
        st.lru_head = u.lru_next;
    if (u.lru_next != kNoSlot)
        st.users[u.lru_next].lru_prev = u.lru_prev;
    else if (st.lru_tail == u.slot)
        st.lru_tail = u.lru_prev;
    u.lru_prev = u.lru_next = kNoSlot;
}

// Caller holds the state mutex. O(1).
void LogMetrics::lru_push_front(User& u) {
    State& st = *m_state;
    u.lru_prev = kNoSlot;
    u.lru_next = st.lru_head;
    if (st.lru_head != kNoSlot) st.users[st.lru_head].lru_prev = u.slot;
    st.lru_head = u.slot;
    if (st.lru_tail == kNoSlot) st.lru_tail = u.slot;
}

// Caller holds the state mutex. O(1): the tail of the activity list is the user
// with the oldest last_seen ("now" never goes backwards, so order of activity is
// order of last_seen). Its series disappear from the next scrape.
void LogMetrics::evict_idlest_user() {
    State& st = *m_state;
    if (st.lru_tail == kNoSlot) return;
    User& idlest = st.users[st.lru_tail];
    lru_unlink(idlest);
    st.index.erase(idlest.name);
    idlest.active = false;
    ++idlest.generation;  // stale correlator entries no longer match
    idlest.ips = {};
    st.free_slots.push_back(idlest.slot);
    m_users_evicted.Increment();
}

Result<std::vector<std::string>> LogMetrics::load_sources(const std::string& path) {
    struct stat sb {};
    std::vector<std::string> warnings;
    if (::stat(path.c_str(), &sb) != 0 && errno == ENOENT) return warnings;
    auto text = files::read_all(path);
    if (!text) return text.error();
    std::lock_guard lock(m_state->mutex);
    auto loaded = m_state->sources.load(*text, path, warnings);
    if (!loaded) return loaded.error();
    return warnings;
}

Result<void> LogMetrics::save_sources(const std::string& path) {
    std::string text;
    {
        std::lock_guard lock(m_state->mutex);
        text = m_state->sources.serialize(m_state->now());
    }
    return files::write_atomic(path, text, 0600);
}

}  // namespace saslguard::exporter
