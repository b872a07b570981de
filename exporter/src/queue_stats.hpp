#pragma once
// From a showq listing to queue metrics, in two pure steps (no I/O, no clock):
// QueueStatsBuilder folds messages into QueueStats; render_queue_families turns
// QueueStats into the Prometheus families of the metric contract (DESIGN.md):
//
//   postfix_showq_queue_depth{queue}               gauge, every queue, 0 when empty
//   postfix_showq_message_age_seconds{queue}       histogram
//   postfix_showq_message_size_bytes{queue}        histogram
//   postfix_showq_oldest_message_age_seconds{queue} gauge, 0 when the queue is empty
//   postfix_queue_sender_messages{sender}          gauge, top-K senders + "__other__"
//   postfix_queue_senders                          gauge, distinct envelope senders
//
// Ages are measured at the `now` given to the builder (when the listing was read).
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

#include "saslguard/postfix/showq.hpp"

namespace saslguard::exporter {

inline constexpr std::string_view kOtherSender = "__other__";
// Longer sender addresses are cut (at a UTF-8 boundary) before they become labels.
inline constexpr std::size_t kMaxSenderLabelBytes = 256;

// Bucket upper bounds. Ages: a minute to Postfix's default 5-day
// maximal_queue_lifetime. Sizes: 1 KiB to past the default 10 MB message_size_limit.
extern const std::vector<double> kQueueAgeBuckets;
extern const std::vector<double> kQueueSizeBuckets;

struct QueueHistogram {
    std::vector<std::uint64_t> counts;  // per bucket (not cumulative); last one is +Inf
    std::uint64_t count = 0;
    double sum = 0;
};

struct QueueStatsPerQueue {
    std::uint64_t depth = 0;
    QueueHistogram age;
    QueueHistogram size;
    double oldest_age_seconds = 0;
};

struct QueueStats {
    // Indexed like postfix::kShowqQueues.
    std::array<QueueStatsPerQueue, postfix::kShowqQueues.size()> queues;
    // The top-K senders by queued messages, most first (ties by address), with
    // label-safe addresses; `other_messages` is everything else.
    std::vector<std::pair<std::string, std::uint64_t>> top_senders;
    std::uint64_t other_messages = 0;
    std::size_t distinct_senders = 0;
    std::uint64_t unknown_queue_messages = 0;  // queue names showq should never send
    std::uint64_t sanitized_senders = 0;       // messages whose sender needed sanitizing
};

class QueueStatsBuilder {
public:
    // Ages are `now` (unix seconds) minus arrival time, never below 0.
    explicit QueueStatsBuilder(std::int64_t now);
    void add(const postfix::QueuedMessage& message);
    // Keeps the `top_k` largest senders; the builder is spent afterwards.
    QueueStats finish(std::size_t top_k);
    std::uint64_t messages() const { return m_messages; }

private:
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    std::int64_t m_now;
    QueueStats m_stats;
    std::unordered_map<std::string, std::uint64_t, Hash, std::equal_to<>> m_senders;
    std::uint64_t m_messages = 0;
};

// The families listed at the top of this file, every queue present.
std::vector<prometheus::MetricFamily> render_queue_families(const QueueStats& stats);

}  // namespace saslguard::exporter
