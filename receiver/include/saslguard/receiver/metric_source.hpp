#pragma once
// A metric whose value one part of the receiver keeps itself (e.g. the Telegram
// bot's atomic counters) and the receiver's registry reads at each scrape
// (ReceiverMetrics::add_external). Plain data, so that part needs no metrics
// library.
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace saslguard::receiver {

// A histogram read at a scrape: cumulative counts per upper bound (the +Inf
// bucket is `count`).
struct ExternalHistogram {
    std::vector<std::pair<double, std::uint64_t>> buckets;  // upper bound, cumulative count
    std::uint64_t count = 0;
    double sum = 0;
};

struct ExternalSeries {
    std::map<std::string, std::string> labels;
    std::function<double()> value;
    std::function<ExternalHistogram()> histogram{};  // set instead of value for a histogram
};

struct ExternalMetric {
    std::string name;
    std::string help;
    bool counter = true;  // false: a gauge
    std::vector<ExternalSeries> series;
    bool histogram = false;  // true: each series has `histogram`, not `value`
};

}  // namespace saslguard::receiver
