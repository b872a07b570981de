#pragma once
// Culprit resolution: who is behind an alert, and the evidence for it.
//
// 1. The alert's `sasl_username` label names the user when present.
// 2. Otherwise Prometheus's HTTP API is asked (instant queries over
//    prometheus.window, restricted to the alert's `instance` label when it has
//    one) for the top users by messages, their total, the top queued senders and
//    the queue depth. The top user is named only when its share of all
//    authenticated messages is ≥ policy.min_share and its count ≥ policy.min_messages.
// 3. If Prometheus does not answer (transport error, 5xx, unreadable reply), one
//    scrape of the exporter's /metrics is parsed instead. A single scrape has no
//    rate, so counts are totals since the exporter started; the evidence says so.
// For the named (or top) user the evidence adds distinct client IPs and the
// bounce/deferral ratio of its deliveries. When nothing is conclusive the
// evidence says why, and no one is named. Never throws; never blocks longer
// than a few HTTP timeouts.
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/prometheus.hpp"
#include "saslguard/receiver/config.hpp"
#include "saslguard/receiver/incident.hpp"

namespace saslguard::receiver {

// Performs one HTTP request; injected so tests replay recorded Prometheus answers.
using HttpFetch = prom::Fetch;

class Resolver {
public:
    Resolver(PrometheusConfig prometheus, PolicyConfig policy, HttpFetch fetch);
    Evidence resolve(const Alert& alert);

private:
    PrometheusConfig m_prometheus;
    PolicyConfig m_policy;
    HttpFetch m_fetch;
};

}  // namespace saslguard::receiver
