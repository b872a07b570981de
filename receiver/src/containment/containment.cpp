#include "saslguard/receiver/containment/containment.hpp"

#include <grp.h>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/containment/block_feed.hpp"
#include "saslguard/receiver/containment/guard_incidents.hpp"
#include "saslguard/receiver/intake.hpp"

namespace saslguard::receiver::containment {
namespace {

using smtp_policy::canonical_login;

// Prometheus text format, a few lines at a time.
class Text {
public:
    void family(const char* name, const char* type, const char* help) {
        m_out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& name, double value) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", value);
        m_out += name + " " + buf + "\n";
    }
    void sample(const std::string& name, std::uint64_t value) {
        m_out += name + " " + std::to_string(value) + "\n";
    }
    std::string take() { return std::move(m_out); }

private:
    std::string m_out;
};

std::string le_text(double bound) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", bound);
    return buf;
}

}  // namespace

ContainmentExecutor::ContainmentExecutor(ActionExecutor& inner, smtp_policy::SendingGuard& guard,
                                         std::chrono::seconds release_grace, bool dry_run)
    : m_inner(inner), m_guard(guard), m_grace(release_grace), m_dry_run(dry_run) {}

ActionOutcome ContainmentExecutor::execute(const ActionRequest& r) {
    const bool real = !r.dry_run && !m_dry_run && !r.username.empty();
    const std::string user = real ? canonical_login(r.username) : std::string();
    // Before the release: a message the guard held after postsuper's look at
    // the queue would stay held, with nothing left to offer its release.
    if (real && r.kind == ActionKind::ReleaseMail) {
        m_guard.clear(user, m_grace);
        log::info("guard: hold ended by a release", {{"sasl_username", user},
                                                     {"actor", r.actor},
                                                     {"grace_s", std::to_string(m_grace.count())}});
    }
    ActionOutcome out = m_inner.execute(r);
    if (real && out.ok && (r.kind == ActionKind::BlockLogin || r.kind == ActionKind::LockAccount))
        m_guard.clear(user);
    return out;
}

struct Containment::Impl {
    const Config& config;
    std::unique_ptr<ActiveBlocksView> view;
    std::unique_ptr<GuardIncidents> incidents;
    std::unique_ptr<smtp_policy::SmtpPolicyService> service;
    std::unique_ptr<ContainmentExecutor> executor;
    bool started = false;

    explicit Impl(const Config& c) : config(c) {}
};

Containment::Containment(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Containment::~Containment() {
    stop();
}

Result<std::unique_ptr<Containment>> Containment::create(const Config& config,
                                                        store::StateStore& store,
                                                        mitigation::ActiveBlocks& blocks,
                                                        ActionExecutor& inner) {
    const SmtpPolicyConfig& c = config.smtp_policy;
    if (!c.service.enabled) return make_error("smtp_policy: not enabled");
    // The loader checked the same rules; a programmatic caller meets them here.
    if (auto r = smtp_policy::validate(c.service); !r) return r.error();
    if (!c.service.server.socket_group.empty() &&
        ::getgrnam(c.service.server.socket_group.c_str()) == nullptr)
        return make_error("smtp_policy.socket_group: no group named '" +
                          c.service.server.socket_group + "'");
    auto session = store.session();
    if (!session) return make_error("smtp_policy: " + session.error().message);
    auto impl = std::make_unique<Impl>(config);
    impl->view = std::make_unique<ActiveBlocksView>(blocks);
    GuardIncidentsOptions options;
    options.release_grace = c.release_grace;
    impl->incidents =
        std::make_unique<GuardIncidents>(std::move(*session), blocks, *impl->view, options);
    impl->service =
        std::make_unique<smtp_policy::SmtpPolicyService>(c.service, *impl->view, *impl->incidents);
    impl->executor = std::make_unique<ContainmentExecutor>(
        inner, impl->service->guard(), c.release_grace, config.mitigation.dry_run);
    return std::unique_ptr<Containment>(new Containment(std::move(impl)));
}

ActionExecutor& Containment::executor() {
    return *m_impl->executor;
}

smtp_policy::SmtpPolicyService& Containment::service() {
    return *m_impl->service;
}

Result<void> Containment::start(Intake& intake) {
    Impl& s = *m_impl;
    if (s.started) return {};
    s.incidents->start(intake, s.service->guard());
    if (auto r = s.service->start(); !r) {
        s.incidents->stop();
        return make_error("smtp_policy: " + r.error().message);
    }
    s.started = true;
    const auto& g = s.config.smtp_policy.service.guard;
    log::info("policy: SMTP policy service ready",
              {{"blocked_logins", std::to_string(s.view->login_count())},
               {"blocked_client_ips", std::to_string(s.view->client_count())},
               {"guard", g.enabled ? "on" : "off"},
               {"max_messages", std::to_string(g.limits.max_messages)},
               {"max_recipients", std::to_string(g.limits.max_recipients)}});
    return {};
}

void Containment::stop() {
    Impl& s = *m_impl;
    // No new requests, so no new events; then what is queued reaches the intake.
    if (s.service) s.service->stop();
    if (s.incidents) s.incidents->stop();
    s.started = false;
}

std::string Containment::metrics_text() const {
    const Impl& s = *m_impl;
    const smtp_policy::ServerStats st = s.service->server_stats();
    const smtp_policy::GuardStats g = s.service->guard_stats();
    const GuardIncidentsStats gi = s.incidents->stats();
    Text t;
    t.family("saslguard_policy_answers_total", "counter",
             "Answers of the SMTP policy service, by action.");
    for (std::size_t i = 0; i < smtp_policy::kActionCount; ++i)
        t.sample("saslguard_policy_answers_total{action=\"" +
                     std::string(smtp_policy::to_string(static_cast<smtp_policy::Action>(i))) +
                     "\"}",
                 st.answers[i]);
    t.family("saslguard_policy_errors_total", "counter",
             "Requests answered DUNNO because they were malformed or never ended, by kind.");
    for (std::size_t i = 0; i < smtp_policy::kParseErrorCount; ++i)
        t.sample(
            "saslguard_policy_errors_total{kind=\"" +
                std::string(smtp_policy::to_string(static_cast<smtp_policy::ParseError>(i))) +
                "\"}",
            st.parse_errors[i]);
    t.sample("saslguard_policy_errors_total{kind=\"request_timeout\"}", st.request_timeouts);
    t.family("saslguard_policy_connections_total", "counter",
             "Connections to the policy service, accepted or refused (over max_connections).");
    t.sample("saslguard_policy_connections_total{result=\"accepted\"}", st.connections_accepted);
    t.sample("saslguard_policy_connections_total{result=\"refused\"}", st.connections_refused);
    t.family("saslguard_policy_connections", "gauge", "Open connections to the policy service.");
    t.sample("saslguard_policy_connections", st.connections_open);
    t.family("saslguard_policy_answer_duration_seconds", "histogram",
             "From the read that completed a request to its answer handed to the kernel.");
    for (std::size_t i = 0; i < st.latency_le.size(); ++i) {
        const std::string le = i < smtp_policy::ServerStats::kLatencyBounds.size()
                                   ? le_text(smtp_policy::ServerStats::kLatencyBounds[i])
                                   : "+Inf";
        t.sample("saslguard_policy_answer_duration_seconds_bucket{le=\"" + le + "\"}",
                 st.latency_le[i]);
    }
    t.sample("saslguard_policy_answer_duration_seconds_sum", st.latency_sum_seconds);
    t.sample("saslguard_policy_answer_duration_seconds_count", st.latency_count);
    t.family("saslguard_policy_guard_trips_total", "counter",
             "Times the sending guard started holding a login's mail.");
    t.sample("saslguard_policy_guard_trips_total", g.trips);
    t.family("saslguard_policy_guard_tracked_users", "gauge",
             "Logins the sending guard is counting now.");
    t.sample("saslguard_policy_guard_tracked_users", static_cast<std::uint64_t>(g.tracked_users));
    t.family("saslguard_policy_guard_held_users", "gauge",
             "Logins whose mail the sending guard is holding now.");
    t.sample("saslguard_policy_guard_held_users", static_cast<std::uint64_t>(g.held_users));
    t.family("saslguard_policy_guard_users_evicted_total", "counter",
             "Logins dropped at guard.max_tracked_users.");
    t.sample("saslguard_policy_guard_users_evicted_total", g.evicted);
    t.family("saslguard_policy_guard_held_messages_total", "counter",
             "Messages the sending guard answered HOLD (queue id known).");
    t.sample("saslguard_policy_guard_held_messages_total", gi.held);
    t.family("saslguard_policy_guard_alerts_total", "counter",
             "SaslUserSendingGuard alert events (firing, resolved) handed to the intake, by "
             "result (failed ones are retried).");
    t.sample("saslguard_policy_guard_alerts_total{result=\"stored\"}", gi.alerts_stored);
    t.sample("saslguard_policy_guard_alerts_total{result=\"failed\"}", gi.alerts_failed);
    t.family("saslguard_policy_guard_events_dropped_total", "counter",
             "Held-message events dropped because the guard's queue was full.");
    t.sample("saslguard_policy_guard_events_dropped_total", gi.events_dropped);
    return t.take();
}

}  // namespace saslguard::receiver::containment
