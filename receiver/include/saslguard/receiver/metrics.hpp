#pragma once
// The receiver's own metrics, in one prometheus-cpp registry, served as text on
// the webhook listener's GET /metrics. Handles are created once; the hot path
// only increments. prometheus-cpp headers stay in metrics.cpp.
//
//   saslguard_receiver_webhooks_total{result}        accepted|invalid|unauthorized|too_large|
//                                                    method_not_allowed|error
//   saslguard_receiver_alerts_total{status}          new alert events stored (firing|resolved)
//   saslguard_receiver_alerts_duplicate_total        redeliveries recognised, not acted on again
//   saslguard_receiver_incidents_open                open incidents (from the store)
//   saslguard_receiver_actions_total{kind,result}    automatic actions: ok|failed|interrupted
//   saslguard_receiver_active_blocks{kind}           blocks in force (login|hold|account|ip)
//   saslguard_receiver_queue_backlog                 stored alerts the worker has not finished
//   saslguard_receiver_notifications_total{result}   ok|failed
//   saslguard_receiver_webhook_duration_seconds      POST /alertmanager handling time, incl. the
//                                                    commit
// and what other parts register with add_external() (the Telegram bot's
// counters, telegram/service.hpp). Known label values start at zero; the
// action kinds and block kinds come from the mitigation catalog.
#include <functional>
#include <map>

#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include "saslguard/receiver/metric_source.hpp"

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

    // A metric whose value another part keeps (its own atomic counters), read
    // at each scrape into the same registry output. Register before the
    // listener starts.
    void add_external(ExternalMetric metric);

    // The text exposition format (version 0.0.4).
    std::string serialize() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
