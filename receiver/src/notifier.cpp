#include "saslguard/receiver/notifier.hpp"

#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"

namespace saslguard::receiver {
namespace {

std::string format_number(std::optional<double> v, int decimals = 0) {
    return v ? format::fixed(*v, decimals) : "unknown";
}

std::string outcomes_line(const std::vector<ActionResult>& results, bool& any_failed) {
    std::string out;
    for (const auto& r : results) {
        if (!out.empty()) out += "; ";
        out += std::string(to_string(r.request.kind)) + ": ";
        out += r.outcome.ok ? r.outcome.summary : "FAILED " + r.outcome.error;
        any_failed = any_failed || !r.outcome.ok;
    }
    return out;
}

}  // namespace

Result<void> LogNotifier::incident_opened(const IncidentNotice& n) {
    const auto* user = n.evidence.culprit_evidence();
    std::string actions;
    for (auto k : n.decision.actions)
        actions += (actions.empty() ? "" : ",") + std::string(to_string(k));
    bool failed = false;
    std::string outcomes = outcomes_line(n.results, failed);
    log::write(failed || n.interrupted ? log::Level::Warn : log::Level::Info, "incident opened",
               {{"incident", std::to_string(n.incident_id)},
                {"alertname", n.alertname},
                {"instance", n.evidence.instance},
                {"user", n.evidence.culprit.value_or("")},
                {"messages", format_number(user ? user->messages : std::nullopt)},
                {"share", format_number(user ? user->share : std::nullopt, 2)},
                {"evidence", n.evidence.source + (n.evidence.conclusive ? "" : " (inconclusive)")},
                {"mode", std::string(to_string(n.decision.mode))},
                {"acted", n.decision.act ? "true" : "false"},
                {"actions", actions},
                {"reason", n.decision.reason},
                {"outcomes", n.interrupted ? "interrupted by a restart; " + outcomes : outcomes}});
    return {};
}

Result<void> LogNotifier::incident_resolved(const IncidentNotice& n) {
    log::info("incident resolved", {{"incident", std::to_string(n.incident_id)},
                                    {"alertname", n.alertname},
                                    {"instance", n.evidence.instance},
                                    {"user", n.evidence.culprit.value_or("")}});
    return {};
}

Result<void> LogNotifier::incident_joined(const IncidentNotice& n) {
    bool failed = false;
    std::string outcomes = outcomes_line(n.results, failed);
    log::write(failed || n.interrupted ? log::Level::Warn : log::Level::Info,
               "alert joined an open incident",
               {{"incident", std::to_string(n.incident_id)},
                {"alertname", n.alertname},
                {"user", n.evidence.culprit.value_or("")},
                {"mode", std::string(to_string(n.decision.mode))},
                {"acted", n.decision.act ? "true" : "false"},
                {"reason", n.decision.reason},
                {"outcomes", outcomes}});
    return {};
}

Result<void> FanoutNotifier::each(Result<void> (Notifier::*call)(const IncidentNotice&),
                                  const IncidentNotice& notice) {
    Result<void> first;
    for (auto& n : m_notifiers) {
        auto r = ((*n).*call)(notice);
        if (!r && first) first = r;
    }
    return first;
}

Result<void> FanoutNotifier::incident_opened(const IncidentNotice& notice) {
    return each(&Notifier::incident_opened, notice);
}

Result<void> FanoutNotifier::incident_resolved(const IncidentNotice& notice) {
    return each(&Notifier::incident_resolved, notice);
}

Result<void> FanoutNotifier::incident_joined(const IncidentNotice& notice) {
    return each(&Notifier::incident_joined, notice);
}

}  // namespace saslguard::receiver
