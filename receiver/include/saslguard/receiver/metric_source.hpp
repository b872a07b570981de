#pragma once
// A metric whose value one part of the receiver keeps itself (e.g. the Telegram
// bot's atomic counters) and the receiver's registry reads at each scrape
// (ReceiverMetrics::add_external). Plain data, so that part needs no metrics
// library.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace saslguard::receiver {

struct ExternalSeries {
    std::map<std::string, std::string> labels;
    std::function<double()> value;
};

struct ExternalMetric {
    std::string name;
    std::string help;
    bool counter = true;  // false: a gauge
    std::vector<ExternalSeries> series;
};

}  // namespace saslguard::receiver
