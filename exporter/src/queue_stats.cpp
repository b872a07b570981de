#include "queue_stats.hpp"

#include <algorithm>
#include <limits>

#include "label_value.hpp"

namespace saslguard::exporter {

const std::vector<double> kQueueAgeBuckets = {60,    300,   600,   1800,   3600,   3 * 3600,
                                              21600, 43200, 86400, 172800, 259200, 432000};
const std::vector<double> kQueueSizeBuckets = {1024,    4096,    16384,    65536,   262144,
                                               1048576, 4194304, 10485760, 52428800};

namespace {

QueueHistogram empty_histogram(const std::vector<double>& bounds) {
    QueueHistogram h;
    h.counts.assign(bounds.size() + 1, 0);
    return h;
}

void observe(QueueHistogram& h, const std::vector<double>& bounds, double value) {
    // The first bucket whose upper bound is >= value (Prometheus buckets are "le").
    const auto it = std::lower_bound(bounds.begin(), bounds.end(), value);
    ++h.counts[static_cast<std::size_t>(it - bounds.begin())];
    ++h.count;
    h.sum += value;
}

std::size_t queue_index(std::string_view name) {
    for (std::size_t i = 0; i < postfix::kShowqQueues.size(); ++i)
        if (postfix::kShowqQueues[i] == name) return i;
    return postfix::kShowqQueues.size();
}

prometheus::ClientMetric with_label(const char* name, std::string value) {
    prometheus::ClientMetric m;
    m.label.push_back({name, std::move(value)});
    return m;
}

prometheus::ClientMetric::Histogram to_client(const QueueHistogram& h,
                                              const std::vector<double>& bounds) {
    prometheus::ClientMetric::Histogram out;
    out.sample_count = h.count;
    out.sample_sum = h.sum;
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
        cumulative += h.counts[i];
        out.bucket.push_back(
            {cumulative, i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
    }
    return out;
}

}  // namespace

QueueStatsBuilder::QueueStatsBuilder(std::int64_t now) : m_now(now) {
    for (auto& q : m_stats.queues) {
        q.age = empty_histogram(kQueueAgeBuckets);
        q.size = empty_histogram(kQueueSizeBuckets);
    }
}

void QueueStatsBuilder::add(const postfix::QueuedMessage& message) {
    ++m_messages;
    const std::size_t qi = queue_index(message.queue_name);
    if (qi == postfix::kShowqQueues.size()) {
        ++m_stats.unknown_queue_messages;
        return;
    }
    auto& q = m_stats.queues[qi];
    ++q.depth;
    const double age = static_cast<double>(std::max<std::int64_t>(0, m_now - message.arrival_time));
    observe(q.age, kQueueAgeBuckets, age);
    observe(q.size, kQueueSizeBuckets, static_cast<double>(message.size));
    q.oldest_age_seconds = std::max(q.oldest_age_seconds, age);

    // Senders come from the Internet: only label-safe strings become keys, so two
    // raw addresses that sanitize alike are counted as one series. The clean
    // check is a byte scan; sanitizing (an allocation) is the rare case.
    if (is_clean_label_value(message.sender) && message.sender.size() <= kMaxSenderLabelBytes) {
        auto it = m_senders.find(std::string_view(message.sender));
        if (it != m_senders.end())
            ++it->second;
        else
            m_senders.emplace(message.sender, 1);
    } else {
        ++m_stats.sanitized_senders;
        ++m_senders[sanitize_label_value(message.sender, kMaxSenderLabelBytes)];
    }
}

QueueStats QueueStatsBuilder::finish(std::size_t top_k) {
    std::vector<std::pair<std::string, std::uint64_t>> all;
    all.reserve(m_senders.size());
    for (auto& [sender, n] : m_senders) all.emplace_back(sender, n);
    m_stats.distinct_senders = all.size();
    m_senders.clear();

    // The sender literally named "__other__" would collide with the catch-all.
    const auto by_count = [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
    };
    const std::size_t k = std::min(top_k, all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                      by_count);
    m_stats.other_messages = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (i < k && all[i].first != kOtherSender)
            m_stats.top_senders.push_back(std::move(all[i]));
        else
            m_stats.other_messages += all[i].second;
    }
    return std::move(m_stats);
}

std::vector<prometheus::MetricFamily> render_queue_families(const QueueStats& stats) {
    using prometheus::MetricType;
    prometheus::MetricFamily depth{"postfix_showq_queue_depth",
                                   "Messages in each Postfix queue, as showq listed them",
                                   MetricType::Gauge,
                                   {}};
    prometheus::MetricFamily age{"postfix_showq_message_age_seconds",
                                 "Age of the queued messages (arrival time to the showq read)",
                                 MetricType::Histogram,
                                 {}};
    prometheus::MetricFamily size{"postfix_showq_message_size_bytes",
                                  "Size of the queued messages",
                                  MetricType::Histogram,
                                  {}};
    prometheus::MetricFamily oldest{
        "postfix_showq_oldest_message_age_seconds",
        "Age of the oldest message in each queue; 0 when the queue is empty",
        MetricType::Gauge,
        {}};
    for (std::size_t i = 0; i < postfix::kShowqQueues.size(); ++i) {
        const std::string queue(postfix::kShowqQueues[i]);
        const auto& q = stats.queues[i];
        auto m = with_label("queue", queue);
        m.gauge.value = static_cast<double>(q.depth);
        depth.metric.push_back(m);
        m.gauge.value = q.oldest_age_seconds;
        oldest.metric.push_back(m);
        m.gauge = {};
        m.histogram = to_client(q.age, kQueueAgeBuckets);
        age.metric.push_back(m);
        m.histogram = to_client(q.size, kQueueSizeBuckets);
        size.metric.push_back(std::move(m));
    }

    prometheus::MetricFamily senders{"postfix_queue_sender_messages",
                                     "Queued messages per envelope sender, top senders only; the "
                                     "rest are summed under sender=\"__other__\"",
                                     MetricType::Gauge,
                                     {}};
    for (const auto& [sender, n] : stats.top_senders) {
        auto m = with_label("sender", sender);
        m.gauge.value = static_cast<double>(n);
        senders.metric.push_back(std::move(m));
    }
    auto other = with_label("sender", std::string(kOtherSender));
    other.gauge.value = static_cast<double>(stats.other_messages);
    senders.metric.push_back(std::move(other));

    prometheus::MetricFamily distinct{
        "postfix_queue_senders", "Distinct envelope senders in the queue", MetricType::Gauge, {}};
    prometheus::ClientMetric d;
    d.gauge.value = static_cast<double>(stats.distinct_senders);
    distinct.metric.push_back(d);

    return {std::move(depth),  std::move(age),     std::move(size),
            std::move(oldest), std::move(senders), std::move(distinct)};
}

}  // namespace saslguard::exporter
