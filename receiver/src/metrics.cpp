#include "saslguard/receiver/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <mutex>

#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver {

namespace {
constexpr std::string_view kWebhookResults[] = {
    "accepted", "invalid", "unauthorized", "too_large", "method_not_allowed", "error"};
constexpr std::string_view kActionResults[] = {"ok", "failed", "interrupted"};
}  // namespace

struct ReceiverMetrics::Impl {
    std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
    std::vector<ExternalMetric> externals;
    prometheus::Family<prometheus::Counter>& webhooks =
        prometheus::BuildCounter()
            .Name("saslguard_receiver_webhooks_total")
            .Help("Alertmanager webhook requests by result")
            .Register(*registry);
    prometheus::Family<prometheus::Counter>& alerts =
        prometheus::BuildCounter()
            .Name("saslguard_receiver_alerts_total")
            .Help("New alert events stored, by status")
            .Register(*registry);
    prometheus::Counter& duplicates =
        prometheus::BuildCounter()
            .Name("saslguard_receiver_alerts_duplicate_total")
            .Help("Redelivered alert events recognised and not acted on again")
            .Register(*registry)
            .Add({});
    prometheus::Gauge& incidents_open = prometheus::BuildGauge()
                                            .Name("saslguard_receiver_incidents_open")
                                            .Help("Incidents whose alert has not resolved")
                                            .Register(*registry)
                                            .Add({});
    prometheus::Family<prometheus::Counter>& actions =
        prometheus::BuildCounter()
            .Name("saslguard_receiver_actions_total")
            .Help("Automatic actions by kind and result")
            .Register(*registry);
    prometheus::Family<prometheus::Gauge>& blocks = prometheus::BuildGauge()
                                                        .Name("saslguard_receiver_active_blocks")
                                                        .Help("Blocks in force, by kind")
                                                        .Register(*registry);
    prometheus::Gauge& backlog = prometheus::BuildGauge()
                                     .Name("saslguard_receiver_queue_backlog")
                                     .Help("Stored alert events the worker has not finished")
                                     .Register(*registry)
                                     .Add({});
    prometheus::Family<prometheus::Counter>& notifications =
        prometheus::BuildCounter()
            .Name("saslguard_receiver_notifications_total")
            .Help("Notifier calls by result")
            .Register(*registry);
    prometheus::Histogram& duration =
        prometheus::BuildHistogram()
            .Name("saslguard_receiver_webhook_duration_seconds")
            .Help("POST /alertmanager handling time including the durable commit")
            .Register(*registry)
            .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025,
                                                             0.05, 0.1, 0.25, 0.5, 1, 2.5});

    std::map<std::string, prometheus::Counter*, std::less<>> webhook_by_result;
    prometheus::Counter* firing = &alerts.Add({{"status", "firing"}});
    prometheus::Counter* resolved = &alerts.Add({{"status", "resolved"}});
    prometheus::Counter* notify_ok = &notifications.Add({{"result", "ok"}});
    prometheus::Counter* notify_failed = &notifications.Add({{"result", "failed"}});
    std::mutex mu;  // for the rarely used Add() paths below

    Impl() {
        for (auto r : kWebhookResults)
            webhook_by_result[std::string(r)] = &webhooks.Add({{"result", std::string(r)}});
        // Known label values start at zero: the kinds the policy can run, the
        // blocks they put in force (both from the mitigation catalog).
        const auto& catalog = mitigation::catalog();
        for (auto k : catalog.forward_kinds())
            for (auto r : kActionResults)
                actions.Add({{"kind", std::string(k.name())}, {"result", std::string(r)}});
        for (auto k : catalog.block_kinds()) blocks.Add({{"kind", std::string(k)}});
    }
};

ReceiverMetrics::ReceiverMetrics() : m_impl(std::make_unique<Impl>()) {}
ReceiverMetrics::~ReceiverMetrics() = default;

void ReceiverMetrics::webhook(std::string_view result) {
    auto it = m_impl->webhook_by_result.find(result);
    if (it == m_impl->webhook_by_result.end())
        it = m_impl->webhook_by_result.find(std::string_view("error"));
    it->second->Increment();
}

void ReceiverMetrics::webhook_duration(double seconds) {
    m_impl->duration.Observe(seconds);
}

void ReceiverMetrics::alerts(int firing, int resolved, int duplicates) {
    m_impl->firing->Increment(firing);
    m_impl->resolved->Increment(resolved);
    m_impl->duplicates.Increment(duplicates);
}

void ReceiverMetrics::action(std::string_view kind, std::string_view result) {
    std::lock_guard lock(m_impl->mu);
    m_impl->actions.Add({{"kind", std::string(kind)}, {"result", std::string(result)}}).Increment();
}

void ReceiverMetrics::notification(bool ok) {
    (ok ? m_impl->notify_ok : m_impl->notify_failed)->Increment();
}

void ReceiverMetrics::set_incidents_open(double n) {
    m_impl->incidents_open.Set(n);
}

void ReceiverMetrics::set_backlog(double n) {
    m_impl->backlog.Set(n);
}

void ReceiverMetrics::set_active_blocks(std::string_view kind, double n) {
    std::lock_guard lock(m_impl->mu);
    m_impl->blocks.Add({{"kind", std::string(kind)}}).Set(n);
}

void ReceiverMetrics::add_external(ExternalMetric metric) {
    m_impl->externals.push_back(std::move(metric));
}

std::string ReceiverMetrics::serialize() const {
    auto families = m_impl->registry->Collect();
    for (const auto& e : m_impl->externals) {
        prometheus::MetricFamily f;
        f.name = e.name;
        f.help = e.help;
        f.type = e.counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
        for (const auto& s : e.series) {
            prometheus::ClientMetric m;
            for (const auto& [k, v] : s.labels) m.label.push_back({k, v});
            (e.counter ? m.counter.value : m.gauge.value) = s.value();
            f.metric.push_back(std::move(m));
        }
        families.push_back(std::move(f));
    }
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace saslguard::receiver
