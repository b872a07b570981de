#pragma once
// Helpers shared by the receiver's unit tests: a webhook payload builder, a
// recording notifier and a counting executor (temp dirs: tests/support).
#include <nlohmann/json.hpp>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "store_under_test.hpp"
#include "test_support.hpp"

namespace saslguard::receiver::testing {

using saslguard::test::TempDir;

// A session of the state store at `path` (created and migrated on first use),
// on the engine of this run (store_under_test.hpp).
inline std::unique_ptr<store::Session> open_session(
    const std::string& path, store::Durability durability = store::Durability::Normal) {
    auto session = open_store(path)->session({durability, false});
    if (!session) throw std::runtime_error(session.error().message);
    return std::move(*session);
}

inline nlohmann::json alert_json(const std::string& fingerprint,
                                 const std::string& status = "firing",
                                 nlohmann::json labels = nullptr,
                                 const std::string& starts_at = "2026-11-23T09:00:00.123456789Z") {
    if (labels.is_null())
        labels = {{"alertname", "SaslUserSendingSurge"},
                  {"instance", "mx1:9754"},
                  {"severity", "critical"},
                  {"sasl_username", "alice@example.com"},
                  {"mitigation", "auto"}};
    return {{"status", status},
            {"labels", labels},
            {"annotations", {{"summary", "alice is sending far above her baseline"}}},
            {"startsAt", starts_at},
            {"endsAt", status == "firing" ? "0001-01-01T00:00:00Z" : "2026-11-23T09:30:00Z"},
            {"generatorURL", "http://127.0.0.1:9090/graph?g0.expr=x"},
            {"fingerprint", fingerprint}};
}

inline nlohmann::json payload_json(std::vector<nlohmann::json> alerts,
                                   const std::string& status = "firing") {
    return {{"version", "4"},
            {"groupKey", "{}:{alertname=\"SaslUserSendingSurge\"}"},
            {"truncatedAlerts", 0},
            {"status", status},
            {"receiver", "saslguard"},
            {"groupLabels", {{"alertname", "SaslUserSendingSurge"}}},
            {"commonLabels", {{"alertname", "SaslUserSendingSurge"}}},
            {"commonAnnotations", nlohmann::json::object()},
            {"externalURL", "http://127.0.0.1:9093"},
            {"alerts", alerts}};
}

class RecordingNotifier final : public Notifier {
public:
    Result<void> incident_opened(const IncidentNotice& n) override {
        std::lock_guard lock(mu);
        opened.push_back(n);
        return {};
    }
    Result<void> incident_resolved(const IncidentNotice& n) override {
        std::lock_guard lock(mu);
        resolved.push_back(n);
        return {};
    }
    Result<void> incident_joined(const IncidentNotice& n) override {
        std::lock_guard lock(mu);
        joined.push_back(n);
        return {};
    }
    std::mutex mu;
    std::vector<IncidentNotice> opened, resolved, joined;
};

class CountingExecutor final : public ActionExecutor {
public:
    ActionOutcome execute(const ActionRequest& r) override {
        std::lock_guard lock(mu);
        requests.push_back(r);
        ActionOutcome o;
        o.ok = !fail;
        o.summary = std::string(to_string(r.kind)) + " " + r.username;
        if (fail) o.error = "exit 1: postmap failed";
        return o;
    }
    std::mutex mu;
    std::vector<ActionRequest> requests;
    bool fail = false;
};

// receiver.yml with only what is required (the webhook token, written into
// `dir`); the config tests append the section they check.
inline std::string minimal_config(const TempDir& dir) {
    dir.write_secret("token", "tok-123-0123456789abcdef\n");
    return "webhook:\n  bearer_token_file: " + dir.path("token") + "\n";
}

}  // namespace saslguard::receiver::testing
