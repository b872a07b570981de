#include "saslguard/receiver/containment/containment.hpp"

#include <grp.h>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/containment/block_feed.hpp"
#include "saslguard/receiver/containment/guard_incidents.hpp"
#include "saslguard/receiver/intake.hpp"

namespace saslguard::receiver::containment {
namespace {

using smtp_policy::canonical_login;

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

std::vector<ExternalMetric> Containment::metrics() const {
    const Impl* s = m_impl.get();
    auto server = [s] { return s->service->server_stats(); };
    auto guard = [s] { return s->service->guard_stats(); };
    auto incidents = [s] { return s->incidents->stats(); };
    auto num = [](auto v) { return static_cast<double>(v); };
    std::vector<ExternalMetric> out;

    ExternalMetric answers{"saslguard_policy_answers_total",
                           "Answers of the SMTP policy service, by action.",
                           true,
                           {}};
    for (std::size_t i = 0; i < smtp_policy::kActionCount; ++i)
        answers.series.push_back(
            {{{"action", std::string(smtp_policy::to_string(static_cast<smtp_policy::Action>(i)))}},
             [=] { return num(server().answers[i]); },
             {}});
    out.push_back(std::move(answers));

    ExternalMetric errors{
        "saslguard_policy_errors_total",
        "Requests answered DUNNO because they were malformed or never ended, by kind.",
        true,
        {}};
    for (std::size_t i = 0; i < smtp_policy::kParseErrorCount; ++i)
        errors.series.push_back({{{"kind", std::string(smtp_policy::to_string(
                                               static_cast<smtp_policy::ParseError>(i)))}},
                                 [=] { return num(server().parse_errors[i]); },
                                 {}});
    errors.series.push_back(
        {{{"kind", "request_timeout"}}, [=] { return num(server().request_timeouts); }, {}});
    out.push_back(std::move(errors));

    out.push_back(
        {"saslguard_policy_connections_total",
         "Connections to the policy service, accepted or refused (over max_connections).",
         true,
         {{{{"result", "accepted"}}, [=] { return num(server().connections_accepted); }, {}},
          {{{"result", "refused"}}, [=] { return num(server().connections_refused); }, {}}}});
    out.push_back({"saslguard_policy_connections",
                   "Open connections to the policy service.",
                   false,
                   {{{}, [=] { return num(server().connections_open); }, {}}}});
    out.push_back({"saslguard_policy_answer_duration_seconds",
                   "From the read that completed a request to its answer handed to the kernel.",
                   false,
                   {{{},
                     {},
                     [=] {
                         const smtp_policy::ServerStats st = server();
                         ExternalHistogram h;
                         for (std::size_t i = 0;
                              i < smtp_policy::ServerStats::kLatencyBounds.size(); ++i)
                             h.buckets.push_back(
                                 {smtp_policy::ServerStats::kLatencyBounds[i], st.latency_le[i]});
                         h.count = st.latency_count;
                         h.sum = st.latency_sum_seconds;
                         return h;
                     }}},
                   true});

    auto one = [&](const char* name, const char* help, bool counter, std::function<double()> v) {
        out.push_back({name, help, counter, {{{}, std::move(v), {}}}});
    };
    one("saslguard_policy_guard_trips_total",
        "Times the sending guard started holding a login's mail.", true,
        [=] { return num(guard().trips); });
    one("saslguard_policy_guard_tracked_users", "Logins the sending guard is counting now.", false,
        [=] { return num(guard().tracked_users); });
    one("saslguard_policy_guard_held_users", "Logins whose mail the sending guard is holding now.",
        false, [=] { return num(guard().held_users); });
    one("saslguard_policy_guard_users_evicted_total", "Logins dropped at guard.max_tracked_users.",
        true, [=] { return num(guard().evicted); });
    one("saslguard_policy_guard_held_messages_total",
        "Messages the sending guard answered HOLD (queue id known).", true,
        [=] { return num(incidents().held); });
    out.push_back(
        {"saslguard_policy_guard_alerts_total",
         "SaslUserSendingGuard alert events (firing, resolved) handed to the intake, by result "
         "(failed ones are retried).",
         true,
         {{{{"result", "stored"}}, [=] { return num(incidents().alerts_stored); }, {}},
          {{{"result", "failed"}}, [=] { return num(incidents().alerts_failed); }, {}}}});
    one("saslguard_policy_guard_events_dropped_total",
        "Held-message events dropped because the guard's queue was full.", true,
        [=] { return num(incidents().events_dropped); });
    return out;
}

}  // namespace saslguard::receiver::containment
