// Tests for the queue metrics: QueueStats from real showq captures
// (exporter/src/queue_stats.cpp) and the background collector's snapshot and
// failure policy (exporter/src/queue_collector.cpp).
#include "queue_collector.hpp"
#include "queue_stats.hpp"

#include <catch2/catch.hpp>

#include <prometheus/text_serializer.h>
#include <future>
#include <map>

#include "fake_showq.hpp"
#include "saslguard/postfix/showq.hpp"

using namespace saslguard;
using namespace saslguard::exporter;
using saslguard::test::FakeShowq;
using saslguard::test::showq_fixture;
using namespace std::chrono_literals;

namespace {

// Arrival of the deferred messages in mixed.showq; the bounce (<>) came 6 s
// later, the maildrop ones 7 s later (see tests/fixtures/showq/README.md).
constexpr std::int64_t kArrival = 1795425488;

QueueStats stats_of(const std::string& fixture, std::int64_t now, std::size_t top_k) {
    QueueStatsBuilder builder(now);
    postfix::ShowqParser parser([&](const postfix::QueuedMessage& m) { builder.add(m); });
    REQUIRE(parser.feed(showq_fixture(fixture)).ok());
    REQUIRE(parser.finish().ok());
    return builder.finish(top_k);
}

std::size_t qi(std::string_view name) {
    for (std::size_t i = 0; i < postfix::kShowqQueues.size(); ++i)
        if (postfix::kShowqQueues[i] == name) return i;
    FAIL("no queue " << name);
    return 0;
}

postfix::QueuedMessage msg(std::string queue, std::string sender, std::int64_t arrival = 1000,
                           std::int64_t size = 500) {
    postfix::QueuedMessage m;
    m.queue_name = std::move(queue);
    m.queue_id = "ID";
    m.sender = std::move(sender);
    m.arrival_time = arrival;
    m.size = size;
    return m;
}

// Values of a gauge family, by the value of its one label ("" for none).
std::map<std::string, double> gauges(const std::vector<prometheus::MetricFamily>& families,
                                     const std::string& name) {
    std::map<std::string, double> out;
    for (const auto& f : families)
        if (f.name == name)
            for (const auto& m : f.metric)
                out[m.label.empty() ? "" : m.label[0].value] =
                    f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    return out;
}

bool has_family(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
    for (const auto& f : families)
        if (f.name == name) return true;
    return false;
}

using Depths = std::map<std::string, double>;
const Depths kMixedDepths{
    {"active", 0}, {"deferred", 8}, {"hold", 1}, {"incoming", 0}, {"maildrop", 2}};

}  // namespace

TEST_CASE("queue depth counts every message of a real listing in its queue") {
    auto s = stats_of("mixed.showq", kArrival + 100, 20);
    CHECK(s.queues[qi("deferred")].depth == 8);
    CHECK(s.queues[qi("hold")].depth == 1);
    CHECK(s.queues[qi("maildrop")].depth == 2);
    CHECK(s.queues[qi("active")].depth == 0);
    CHECK(s.queues[qi("incoming")].depth == 0);
    CHECK(s.unknown_queue_messages == 0);
    CHECK(s.distinct_senders == 8);
}

TEST_CASE(
    "top senders are ranked by queued messages, ties by address, the rest summed as __other__") {
    auto s = stats_of("mixed.showq", kArrival + 100, 3);
    using P = std::pair<std::string, std::uint64_t>;
    CHECK(s.top_senders == std::vector<P>{{"alice@saslguard.test", 3},
                                          {"dave@saslguard.test", 2},
                                          {"\"caf????\"@saslguard.test", 1}});
    CHECK(s.other_messages == 5);

    auto all = stats_of("mixed.showq", kArrival + 100, 20);
    CHECK(all.top_senders.size() == 8);
    CHECK(all.other_messages == 0);
}

TEST_CASE("message ages are measured from arrival to the read, and the oldest is kept per queue") {
    auto s = stats_of("mixed.showq", kArrival + 100, 20);
    const auto& deferred = s.queues[qi("deferred")];
    CHECK(deferred.oldest_age_seconds == 100);
    CHECK(deferred.age.count == 8);
    CHECK(deferred.age.sum == 7 * 100 + 94);  // the bounce arrived 6 s later
    CHECK(deferred.age.counts[0] == 0);       // le=60
    CHECK(deferred.age.counts[1] == 8);       // le=300
    CHECK(s.queues[qi("maildrop")].oldest_age_seconds == 93);
    CHECK(s.queues[qi("active")].oldest_age_seconds == 0);

    // A clock behind the arrival time never makes a negative age.
    auto early = stats_of("mixed.showq", kArrival - 50, 20);
    CHECK(early.queues[qi("deferred")].oldest_age_seconds == 0);
}

TEST_CASE("message sizes land in their buckets") {
    auto s = stats_of("mixed.showq", kArrival, 20);
    const auto& deferred = s.queues[qi("deferred")];
    CHECK(deferred.size.counts[0] == 7);  // <= 1 KiB
    CHECK(deferred.size.counts[1] == 1);  // bob's 3408 bytes, <= 4 KiB
    CHECK(deferred.size.sum == 439 * 2 + 281 + 278 + 426 + 260 + 278 + 3408);
}

TEST_CASE("senders with bytes that are not UTF-8 become one label-safe series") {
    QueueStatsBuilder b(2000);
    b.add(msg("deferred", "\xff@x.example"));
    b.add(msg("deferred", "\xfe@x.example"));
    b.add(msg("deferred", "ok@x.example"));
    b.add(msg("deferred", std::string(1000, 'a') + "@x.example"));  // too long for a label
    auto s = b.finish(10);
    REQUIRE(s.top_senders.size() == 3);
    CHECK(s.top_senders[0] == std::pair<std::string, std::uint64_t>{"\xEF\xBF\xBD@x.example", 2});
    CHECK(s.top_senders[1].first.size() == kMaxSenderLabelBytes);
    CHECK(s.sanitized_senders == 3);
}

TEST_CASE(
    "a sender literally named __other__ is counted in the catch-all, not as a second series") {
    QueueStatsBuilder b(2000);
    for (int i = 0; i < 3; ++i) b.add(msg("hold", "__other__"));
    b.add(msg("hold", "a@x"));
    auto s = b.finish(10);
    CHECK(s.top_senders == std::vector<std::pair<std::string, std::uint64_t>>{{"a@x", 1}});
    CHECK(s.other_messages == 3);
}

TEST_CASE("messages in a queue showq should not list are counted apart") {
    QueueStatsBuilder b(2000);
    b.add(msg("corrupt", "a@x"));
    auto s = b.finish(10);
    CHECK(s.unknown_queue_messages == 1);
    for (const auto& q : s.queues) CHECK(q.depth == 0);
}

TEST_CASE("rendered families have every queue at 0 when the queue is empty, and valid histograms") {
    auto families = render_queue_families(stats_of("empty.showq", kArrival, 20));
    CHECK(gauges(families, "postfix_showq_queue_depth") ==
          Depths{{"active", 0}, {"deferred", 0}, {"hold", 0}, {"incoming", 0}, {"maildrop", 0}});
    CHECK(gauges(families, "postfix_queue_sender_messages") ==
          std::map<std::string, double>{{"__other__", 0}});
    CHECK(gauges(families, "postfix_queue_senders") == std::map<std::string, double>{{"", 0}});

    families = render_queue_families(stats_of("mixed.showq", kArrival + 100, 2));
    CHECK(gauges(families, "postfix_showq_queue_depth") == kMixedDepths);
    CHECK(gauges(families, "postfix_queue_sender_messages") ==
          std::map<std::string, double>{
              {"alice@saslguard.test", 3}, {"dave@saslguard.test", 2}, {"__other__", 6}});
    for (const auto& f : families) {
        if (f.type != prometheus::MetricType::Histogram) continue;
        REQUIRE(f.metric.size() == 5);
        for (const auto& m : f.metric) {
            const auto& h = m.histogram;
            REQUIRE_FALSE(h.bucket.empty());
            CHECK(std::isinf(h.bucket.back().upper_bound));
            CHECK(h.bucket.back().cumulative_count == h.sample_count);
            for (std::size_t i = 1; i < h.bucket.size(); ++i)
                CHECK(h.bucket[i].cumulative_count >= h.bucket[i - 1].cumulative_count);
        }
    }
    const auto text = prometheus::TextSerializer().Serialize(families);
    CHECK_THAT(text,
               Catch::Contains(
                   "postfix_showq_message_age_seconds_bucket{queue=\"deferred\",le=\"300\"} 8"));
    CHECK_THAT(text,
               Catch::Contains(
                   "postfix_showq_message_size_bytes_bucket{queue=\"deferred\",le=\"+Inf\"} 8"));
}

// ---- the collector ----

namespace {
QueueCollectorOptions options_for(const std::string& path) {
    QueueCollectorOptions o;
    o.showq_path = path;
    o.timeout = 2s;
    o.refresh_interval = 1h;  // tests refresh explicitly
    o.top_senders = 20;
    return o;
}
}  // namespace

TEST_CASE("before the first refresh postfix_up is 0 and no queue is claimed empty") {
    QueueCollector c(options_for("/nonexistent/showq"));
    auto f = c.Collect();
    CHECK(gauges(f, "postfix_up") == std::map<std::string, double>{{"", 0}});
    CHECK(gauges(f, "saslguard_exporter_showq_last_success_timestamp_seconds") ==
          std::map<std::string, double>{{"", 0}});
    CHECK_FALSE(has_family(f, "postfix_showq_queue_depth"));
    CHECK_FALSE(has_family(f, "saslguard_exporter_showq_snapshot_age_seconds"));
}

TEST_CASE(
    "a refresh publishes the listing; a failed one keeps it, sets postfix_up 0 and counts the "
    "error") {
    auto server = std::make_unique<FakeShowq>(showq_fixture("mixed.showq"), false);
    const std::string path = server->path();
    QueueCollector c(options_for(path));

    REQUIRE(c.refresh_now().ok());
    auto f = c.Collect();
    CHECK(gauges(f, "postfix_up") == std::map<std::string, double>{{"", 1}});
    CHECK(gauges(f, "postfix_showq_queue_depth") == kMixedDepths);
    CHECK(gauges(f, "postfix_queue_sender_messages").at("alice@saslguard.test") == 3);
    CHECK(gauges(f, "saslguard_exporter_showq_errors_total") ==
          std::map<std::string, double>{{"", 0}});
    CHECK(gauges(f, "saslguard_exporter_showq_snapshot_age_seconds").at("") < 5);

    // A cut answer: the last complete listing stays.
    server->set_bytes(showq_fixture("truncated.showq"));
    auto r = c.refresh_now();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("cut after 5 messages"));
    f = c.Collect();
    CHECK(gauges(f, "postfix_up") == std::map<std::string, double>{{"", 0}});
    CHECK(gauges(f, "saslguard_exporter_showq_errors_total") ==
          std::map<std::string, double>{{"", 1}});
    CHECK(gauges(f, "postfix_showq_queue_depth") == kMixedDepths);

    // Postfix stopped: the socket is gone.
    server.reset();
    CHECK_FALSE(c.refresh_now().ok());
    f = c.Collect();
    CHECK(gauges(f, "postfix_up") == std::map<std::string, double>{{"", 0}});
    CHECK(gauges(f, "saslguard_exporter_showq_errors_total") ==
          std::map<std::string, double>{{"", 2}});
    CHECK(gauges(f, "saslguard_exporter_showq_refreshes_total") ==
          std::map<std::string, double>{{"", 3}});
    CHECK(gauges(f, "postfix_showq_queue_depth") == kMixedDepths);

    // Back with an empty queue: every queue at 0 again.
    FakeShowq back(showq_fixture("empty.showq"), false);
    QueueCollector c2(options_for(back.path()));
    REQUIRE(c2.refresh_now().ok());
    CHECK(gauges(c2.Collect(), "postfix_showq_queue_depth") ==
          Depths{{"active", 0}, {"deferred", 0}, {"hold", 0}, {"incoming", 0}, {"maildrop", 0}});
}

TEST_CASE("a scrape answers at once while a refresh waits on a stalled showq") {
    FakeShowq stalled(showq_fixture("truncated.showq"), true);
    auto o = options_for(stalled.path());
    o.timeout = 1500ms;
    QueueCollector c(o);
    auto refresh = std::async(std::launch::async, [&] { return c.refresh_now(); });
    while (stalled.connections() == 0) std::this_thread::sleep_for(1ms);

    for (int i = 0; i < 20; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto f = c.Collect();
        CHECK(std::chrono::steady_clock::now() - t0 < 50ms);
        CHECK(gauges(f, "saslguard_exporter_showq_refresh_in_progress")[""] == 1);
    }
    auto r = refresh.get();
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("timed out"));
    auto f = c.Collect();
    CHECK(gauges(f, "saslguard_exporter_showq_refresh_in_progress")[""] == 0);
    CHECK(gauges(f, "saslguard_exporter_showq_refresh_duration_seconds")[""] >= 1.4);
    // Waiting on a socket costs (almost) no CPU.
    CHECK(gauges(f, "saslguard_exporter_showq_refresh_cpu_seconds")[""] < 0.5);
}

TEST_CASE("the background thread refreshes on its own and stops promptly") {
    FakeShowq server(showq_fixture("mixed.showq"), false);
    auto o = options_for(server.path());
    o.refresh_interval = 10ms;
    QueueCollector c(o);
    c.start();
    // Wait for a condition, not a fixed time: three refreshes done.
    for (int i = 0;
         i < 500 && gauges(c.Collect(), "saslguard_exporter_showq_refreshes_total")[""] < 3; ++i)
        std::this_thread::sleep_for(5ms);
    CHECK(gauges(c.Collect(), "saslguard_exporter_showq_refreshes_total")[""] >= 3);
    CHECK(gauges(c.Collect(), "postfix_showq_queue_depth") == kMixedDepths);
    const auto t0 = std::chrono::steady_clock::now();
    c.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 1s);
}
