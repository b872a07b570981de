#pragma once
// The receiver's own metrics (prometheus-cpp registry, served as text on the
// webhook listener's GET /metrics). Handles are created once; the hot path only
// increments. prometheus-cpp headers stay in metrics.cpp.
//
//   saslguard_receiver_webhooks_total{result}
//   accepted|invalid|unauthorized|too_large|method_not_allowed|error
//   saslguard_receiver_alerts_total{status}        new alert events stored (firing|resolved)
//   saslguard_receiver_alerts_duplicate_total      redeliveries recognised and not acted on again
//   saslguard_receiver_incidents_open              open incidents (from the store)
//   saslguard_receiver_actions_total{kind,result}  automatic actions: ok|failed|interrupted
//   saslguard_receiver_active_blocks{kind}         login|ip|account|hold in force (mitigation's
//   blocks table) saslguard_receiver_queue_backlog               stored alerts the worker has not
//   finished saslguard_receiver_notifications_total{result} ok|failed
//   saslguard_receiver_webhook_duration_seconds    POST /alertmanager handling time, incl. the
//   commit
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace saslguard::receiver {

class ReceiverMetrics {
public:
    ReceiverMetrics();
    ~ReceiverMetrics();
    ReceiverMetrics(const ReceiverMetrics&) = delete;
    ReceiverMetrics& operator=(const ReceiverMetrics&) = delete;

    void webhook(std::string_view result);
    void webhook_duration(double seconds);
    void alerts(int firing, int resolved, int duplicates);
    void action(std::string_view kind, std::string_view result);
    void notification(bool ok);
    void set_incidents_open(double n);
    void set_backlog(double n);
    void set_active_blocks(std::string_view kind, double n);

    // More metrics in the text format, appended by serialize() (the Telegram bot's
    // counters, see telegram/service.hpp). Register before the listener starts.
    void add_text_source(std::function<std::string()> source);

    // The text exposition format (version 0.0.4).
    std::string serialize() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
