#include "saslguard/receiver/worker.hpp"

#include <cmath>
#include <map>
#include <memory>

#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/policy.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/safeguards.hpp"

namespace saslguard::receiver {

using store::EventState;

namespace {
constexpr const char* kAutoActor = "auto";
// The receiver's own actors: what it finds running at a start, it ran itself.
const std::vector<std::string> kReceiverActors = {"auto", "telegram:"};
constexpr const char* kStoppedWhileRunning =
    "the receiver stopped while this action ran; its effect is unknown and it is not run again";
constexpr const char* kOutcomeNotRecorded =
    "the outcome of this action was not recorded; it is not run again";
}  // namespace

struct Worker::Row {
    store::AlertEvent event;
    // Set by decide_firing()/close_incident() for finish() in the same pass.
    std::optional<store::StoredIncident> incident;
    std::optional<std::vector<store::ActionRecord>> planned;
};

Worker::Worker(std::unique_ptr<store::Session> session, const Config& config, Resolver& resolver,
               ActionExecutor& executor, Notifier& notifier, ReceiverMetrics* metrics,
               Safeguards* safeguards, Clock clock)
    : m_session(std::move(session)),
      m_config(config),
      m_resolver(resolver),
      m_executor(executor),
      m_notifier(notifier),
      m_metrics(metrics),
      m_safeguards(safeguards),
      m_clock(std::move(clock)) {}

Worker::~Worker() {
    stop();
}

Result<int> Worker::recover() {
    auto n =
        m_session->mitigation().interrupt_running(kReceiverActors, kStoppedWhileRunning, m_clock());
    if (!n) return n.error();
    if (*n > 0)
        log::warn("actions interrupted by a restart, not run again",
                  {{"count", std::to_string(*n)}});
    return *n;
}

Result<int> Worker::run_once() {
    int done = 0;
    for (;;) {
        auto events = m_session->alerts().unfinished(64);
        if (!events) return events.error();
        if (events->empty() || done - m_checkpointed >= 1000) {
            m_session->checkpoint();
            m_checkpointed = done;
        }
        if (events->empty()) {
            m_checkpointed = 0;
            return done;
        }
        for (auto& e : *events) {
            Row row{std::move(e), std::nullopt, std::nullopt};
            if (auto r = process(row); !r)
                return make_error("alert event " + std::to_string(row.event.id) + ": " +
                                  r.error().message);
            ++done;
        }
    }
}

Result<void> Worker::process(Row& row) {
    if (row.event.state == EventState::Pending) {
        auto r = row.event.alert.status == "firing" ? decide_firing(row) : close_incident(row);
        if (!r) return r;
        if (row.event.state == EventState::Done) return {};
    }
    return finish(row);
}

AccountOf Worker::ask_safeguards(const Alert& alert, Evidence& evidence) {
    const PolicyConfig& policy = m_config.policy;
    // The addresses block_ips would act on: never-block ones are set aside and shown.
    if (!evidence.client_ips.empty()) {
        if (!m_safeguards) {
            evidence.notes.push_back("never-block addresses not checked (no mitigation service)");
        } else if (auto p = m_safeguards->protected_ips(evidence.client_ips); !p) {
            // Cannot tell (mynetworks unreadable): offer none of them.
            for (const auto& ip : evidence.client_ips)
                evidence.protected_ips.push_back({ip, "cannot tell: " + p.error().message});
            evidence.client_ips.clear();
        } else {
            for (const auto& [ip, why] : *p) {
                evidence.protected_ips.push_back({ip, why});
                std::erase(evidence.client_ips, ip);
            }
        }
    }
    if (!evidence.culprit || !validate::sasl_username(*evidence.culprit)) return nullptr;
    const std::string& user = *evidence.culprit;
    if (!m_safeguards) {
        evidence.queue_note = "no mitigation service to read the queue";
        return nullptr;
    }
    // How the SASL backend names the culprit and every allowlisted login.
    std::vector<std::string> logins{user};
    for (const auto& u : policy.allowlist_users)
        if (auto c = validate::canonical_login(u)) logins.push_back(*c);
    auto accounts = m_safeguards->accounts(logins);
    auto known = std::make_shared<std::map<std::string, std::string>>();
    for (std::size_t i = 0; i < logins.size() && i < accounts.size(); ++i)
        (*known)[logins[i]] = accounts[i];
    evidence.account = (*known)[user];
    // What the admin's message shows of the culprit's queued mail (subjects only
    // with telegram.queue_subjects: the privacy switch, docs/telegram.md).
    if (m_config.telegram.enabled && m_config.telegram.queue_sample > 0) {
        if (auto sample = m_safeguards->queue_sample(user, m_config.telegram.queue_sample,
                                                     m_config.telegram.queue_subjects))
            evidence.sample = std::move(*sample);
        else
            evidence.sample_note = sample.error().message;
    }
    // Corroboration, only where it can matter (it reads queue files).
    if (policy.min_queued_messages > 0 && may_act_automatically(policy, alert)) {
        auto n = m_safeguards->queued_messages(
            user, static_cast<std::size_t>(std::ceil(policy.min_queued_messages)));
        if (n)
            evidence.queued = static_cast<double>(*n);
        else
            evidence.queue_note = n.error().message;
    }
    return [known](const std::string& login) {
        auto it = known->find(login);
        return it == known->end() ? login : it->second;
    };
}

Result<void> Worker::decide_firing(Row& row) {
    const Alert& alert = row.event.alert;
    auto& alerts = m_session->alerts();
    auto& actions = m_session->mitigation();
    Evidence evidence = m_resolver.resolve(alert);  // network: outside any transaction
    const AccountOf account_of = ask_safeguards(alert, evidence);  // commands: likewise
    const std::int64_t now = m_clock();
    auto used = actions.count_actions_since(kAutoActor, now - 3'600'000);
    if (!used) return used.error();
    Decision decision =
        decide(m_config.policy, alert, evidence, static_cast<int>(*used), account_of);
    if (auto ignored = parse_suggested_actions(alert.label("suggested_actions")).ignored;
        !ignored.empty()) {
        std::string names;
        for (const auto& n : ignored) names += (names.empty() ? "" : ",") + n;
        log::warn("ignoring suggested_actions that are not mitigations",
                  {{"alertname", alert.label("alertname")}, {"ignored", names}});
    }
    suggest_for_guard(decision, alert, evidence);

    auto tx = m_session->begin();
    if (!tx) return tx.error();
    // An alert that already resolved (resolution delivered first) opens nothing.
    auto resolved_first = alerts.resolution_stored(alert.fingerprint, alert.starts_at);
    if (!resolved_first) return resolved_first.error();
    std::optional<std::int64_t> incident_id;
    bool joined = false;
    if (!*resolved_first && evidence.culprit) {
        // One incident per user: an alert naming a user who already has an open
        // incident joins it (the sending guard's alert and a later
        // SaslUserSendingSurge, in either order), so admins get one message.
        auto open = alerts.open_incident_of_user(*evidence.culprit);
        if (!open) return open.error();
        if (*open) {
            if (auto r = alerts.join_incident(**open, row.event.id, now); !r) return r;
            incident_id = *open;
            joined = true;
        }
    }
    if (!*resolved_first && !incident_id) {
        auto opened = alerts.open_incident(row.event, evidence, now);
        if (!opened) return opened.error();
        incident_id = *opened;
    }
    if (!incident_id) {
        if (auto r = alerts.set_event_state(row.event.id, EventState::Done, now); !r) return r;
        if (auto c = (*tx)->commit(); !c) return c;
        row.event.state = EventState::Done;
        log::info("firing alert opens no incident (already resolved or already open)",
                  {{"alert", std::to_string(row.event.id)}, {"fingerprint", alert.fingerprint}});
        return {};
    }
    // The messages the sending guard held for this user so far are this incident's.
    if (evidence.culprit)
        if (auto r = alerts.attach_guard_holds(*incident_id, *evidence.culprit); !r)
            return r.error();
    if (auto r = alerts.record_evidence(*incident_id, evidence, now); !r) return r;
    if (auto r = alerts.record_decision(*incident_id, decision, now); !r) return r;
    std::vector<store::ActionRecord> planned;
    for (const auto& req : plan_actions(decision, evidence, m_config, *incident_id)) {
        store::ActionRecord rec = store::planned_record(req, now);
        auto id = actions.insert_action(rec);
        if (!id) return id.error();
        rec.id = *id;
        planned.push_back(std::move(rec));
    }
    if (auto r = alerts.set_event_state(row.event.id, EventState::Decided, now); !r) return r;
    if (auto c = (*tx)->commit(); !c) return c;
    row.event.state = EventState::Decided;
    row.incident =
        store::StoredIncident{*incident_id, std::move(evidence), std::move(decision), joined};
    row.planned = std::move(planned);
    log::info(joined ? "alert joined the user's open incident" : "incident stored",
              {{"incident", std::to_string(*incident_id)},
               {"alertname", alert.label("alertname")},
               {"user", row.incident->evidence.culprit.value_or("")},
               {"mode", std::string(to_string(row.incident->decision.mode))},
               {"reason", row.incident->decision.reason}});
    return {};
}

Result<void> Worker::close_incident(Row& row) {
    const std::int64_t now = m_clock();
    auto tx = m_session->begin();
    if (!tx) return tx.error();
    // By fingerprint, not startsAt: Alertmanager may report a resolution with an
    // earlier startsAt than the firing it ends (it merges overlapping alerts).
    auto closed =
        m_session->alerts().close_incidents(row.event.alert.fingerprint, row.event.id, now);
    if (!closed) return closed.error();
    const EventState next = *closed > 0 ? EventState::Decided : EventState::Done;
    if (auto r = m_session->alerts().set_event_state(row.event.id, next, now); !r) return r;
    if (auto c = (*tx)->commit(); !c) return c;
    row.event.state = next;
    if (next == EventState::Done)
        log::info("resolved alert matches no open incident",
                  {{"fingerprint", row.event.alert.fingerprint}});
    return {};
}

Result<void> Worker::finish(Row& row) {
    const bool firing = row.event.alert.status == "firing";
    if (!row.incident) {
        // A resolution, or an event a previous run left decided: what it belongs to is stored.
        auto stored = m_session->alerts().incident_of_event(row.event.id, firing);
        if (!stored) return stored.error();
        row.incident = std::move(*stored);
    }
    IncidentNotice notice;
    notice.alert = row.event.alert;
    notice.alertname = row.event.alert.label("alertname");
    notice.severity = row.event.alert.label("severity");
    notice.summary = row.event.alert.annotation("summary");
    notice.description = row.event.alert.annotation("description");
    notice.external_url = row.event.external_url;
    if (row.incident) {
        notice.incident_id = row.incident->id;
        notice.evidence = row.incident->evidence;
        notice.decision = row.incident->decision;
        if (firing)
            if (auto r = run_actions(row, notice); !r) return r;
        auto r = !firing                ? m_notifier.incident_resolved(notice)
                 : row.incident->joined ? m_notifier.incident_joined(notice)
                                        : m_notifier.incident_opened(notice);
        if (m_metrics) m_metrics->notification(r.ok());
        if (!r)
            log::warn("notifier failed", {{"incident", std::to_string(notice.incident_id)},
                                          {"error", r.error().message}});
    }
    if (auto r = m_session->alerts().set_event_state(row.event.id, EventState::Done, m_clock()); !r)
        return r;
    row.event.state = EventState::Done;
    return {};
}

// Runs the incident's planned automatic actions, once each; reports every one.
Result<void> Worker::run_actions(Row& row, IncidentNotice& notice) {
    auto& actions = m_session->mitigation();
    if (!row.planned) {
        auto stored = actions.actions_of_incident(notice.incident_id, kAutoActor);
        if (!stored) return stored.error();
        row.planned = std::move(*stored);
    }
    for (auto& rec : *row.planned) {
        ActionResult result;
        result.request = store::request_of(rec);
        const std::string kind = rec.kind;
        if (rec.state == "running") {
            // Ran in an earlier attempt whose outcome was not recorded (a store
            // error after execute()): as after a crash, never run again.
            if (auto r = actions.interrupt_action(rec.id, kOutcomeNotRecorded, m_clock()); !r)
                return r;
            rec.state = "interrupted";
            rec.error = kOutcomeNotRecorded;
        }
        if (rec.state != "planned") {
            if (rec.state == "interrupted") {
                notice.interrupted = true;
                if (m_metrics) m_metrics->action(kind, "interrupted");
            }
            result.outcome.ok = rec.state == "applied" || rec.state == "reverted";
            result.outcome.summary = rec.result;
            result.outcome.error = rec.error;
            result.outcome.action_id = rec.id;
            notice.results.push_back(std::move(result));
            continue;
        }
        // Committed before running: if we die during execute(), recover() finds
        // it running and it is never run again.
        auto started = actions.start_action(rec.id, m_clock());
        if (!started) return started.error();
        if (!*started) {  // not planned any more: someone else has it; never run twice
            result.outcome.error = "the action was no longer planned; it is not run";
            notice.results.push_back(std::move(result));
            continue;
        }
        ActionOutcome outcome = m_executor.execute(result.request);
        // An executor that keeps the action log (the Mitigator) has finished the
        // row itself; otherwise its outcome is recorded here.
        if (auto r = actions.settle_action(rec.id, outcome.ok, outcome.summary, outcome.error,
                                           m_clock());
            !r)
            return r;
        rec.state = outcome.ok ? "applied" : "failed";
        if (m_metrics) m_metrics->action(kind, outcome.ok ? "ok" : "failed");
        log::write(outcome.ok ? log::Level::Info : log::Level::Warn, "automatic action",
                   {{"incident", std::to_string(notice.incident_id)},
                    {"kind", kind},
                    {"user", result.request.username},
                    {"ok", outcome.ok ? "true" : "false"},
                    {"summary", outcome.summary},
                    {"error", outcome.error}});
        outcome.action_id = rec.id;
        result.outcome = std::move(outcome);
        notice.results.push_back(std::move(result));
    }
    return {};
}

void Worker::start() {
    m_thread = std::thread([this] {
        for (;;) {
            auto r = run_once();
            m_healthy = r.ok();
            if (!r) log::error("worker: store error, retrying", {{"error", r.error().message}});
            std::unique_lock lock(m_mu);
            // Wake on new alerts; otherwise poll, and back off after an error.
            m_cv.wait_for(lock, std::chrono::seconds(r ? 5 : 1), [&] { return m_wake || m_stop; });
            if (m_stop) return;
            m_wake = false;
        }
    });
}

void Worker::wake() {
    {
        std::lock_guard lock(m_mu);
        m_wake = true;
    }
    m_cv.notify_one();
}

void Worker::stop() {
    {
        std::lock_guard lock(m_mu);
        m_stop = true;
    }
    m_cv.notify_one();
    if (m_thread.joinable()) m_thread.join();
}

}  // namespace saslguard::receiver
