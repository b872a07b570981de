#include "saslguard/receiver/telegram/service.hpp"

#include <algorithm>
#include <mutex>

#include "saslguard/common/alertmanager.hpp"
#include "saslguard/common/clock.hpp"
#include "saslguard/common/duration.hpp"
#include "saslguard/common/http_client.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/prometheus.hpp"
#include "saslguard/receiver/fleet/shared_blocks.hpp"

namespace saslguard::receiver::telegram {
namespace {
std::string label(const prom::Series& s, const char* name) {
    auto it = s.labels.find(name);
    return it == s.labels.end() ? std::string() : it->second;
}
}  // namespace

SilenceFn alertmanager_silencer(std::string alertmanager_url) {
    auto client = std::make_shared<alertmanager::Client>(
        std::move(alertmanager_url), prom::fetch_with(std::make_shared<HttpClient>()));
    auto mutex = std::make_shared<std::mutex>();  // the HttpClient is one-thread-at-a-time
    return [client, mutex](const std::vector<std::pair<std::string, std::string>>& matchers,
                           std::chrono::seconds duration, const std::string& created_by,
                           const std::string& comment) -> Result<std::string> {
        alertmanager::Silence s;
        s.matchers = matchers;
        s.starts_at_ms = wall_clock_ms();
        s.ends_at_ms = s.starts_at_ms + duration.count() * 1000;
        s.created_by = created_by;
        s.comment = comment;
        std::lock_guard lock(*mutex);
        return client->create_silence(s);
    };
}

struct ReceiverCommandBackend::Impl {
    PrometheusConfig prometheus;
    FleetConfig fleet;
    std::unique_ptr<store::Session> session;
    const mitigation::ActiveBlocks& blocks;
    prom::Client client;

    Impl(PrometheusConfig p, std::unique_ptr<store::Session> s, const mitigation::ActiveBlocks& b)
        : prometheus(std::move(p)),
          session(std::move(s)),
          blocks(b),
          client({prometheus.url, prometheus.timeout, prometheus.bearer_token},
                 prom::fetch_with(std::make_shared<HttpClient>())) {}

    std::optional<std::int64_t> queue_depth() {
        auto r = client.scalar("sum(postfix_showq_queue_depth)");
        if (!r || !*r) return std::nullopt;
        return static_cast<std::int64_t>(**r);
    }
};

ReceiverCommandBackend::ReceiverCommandBackend(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl)) {}
ReceiverCommandBackend::~ReceiverCommandBackend() = default;

Result<std::unique_ptr<ReceiverCommandBackend>> ReceiverCommandBackend::open(
    const Config& config, store::StateStore& store, const mitigation::ActiveBlocks& blocks) {
    auto session = store.session();
    if (!session) return session.error();
    auto impl = std::make_unique<Impl>(config.prometheus, std::move(*session), blocks);
    impl->fleet = config.fleet;
    return std::unique_ptr<ReceiverCommandBackend>(new ReceiverCommandBackend(std::move(impl)));
}

Result<StatusInfo> ReceiverCommandBackend::status() {
    StatusInfo s;
    auto open = m_impl->session->alerts().open_incidents(50);
    if (!open) return open.error();
    for (const auto& i : *open)
        s.open_incidents.push_back({i.id, i.alertname, i.username, i.opened_at_ms});
    s.active_blocks = static_cast<std::int64_t>(m_impl->blocks.snapshot().size());
    s.queue_depth = m_impl->queue_depth();
    if (m_impl->fleet.coordinate) {
        if (auto v = fleet::read_fleet_view(m_impl->fleet.conninfo)) {
            s.fleet = true;
            s.poller = v->poller;
            s.fleet_hosts = v->hosts;
        } else {
            s.fleet_error = "PostgreSQL: " + v.error().message;
        }
    }
    return s;
}

Result<std::vector<UserCount>> ReceiverCommandBackend::top_users(std::size_t n) {
    auto r = m_impl->client.query(
        "topk(" + std::to_string(n) +
        ", sum by (sasl_username) (increase(postfix_sasl_user_messages_total[" +
        format_duration(m_impl->prometheus.window) + "])))");
    if (!r) return r.error();
    std::vector<UserCount> out;
    for (const auto& s : *r) out.push_back({label(s, "sasl_username"), s.value});
    std::sort(out.begin(), out.end(),
              [](const UserCount& a, const UserCount& b) { return a.count > b.count; });
    return out;
}

Result<QueueInfo> ReceiverCommandBackend::queue() {
    QueueInfo q;
    q.depth = m_impl->queue_depth();
    auto r = m_impl->client.query("topk(10, sum by (sender) (postfix_queue_sender_messages))");
    if (!r) return r.error();
    for (const auto& s : *r) q.top_senders.push_back({label(s, "sender"), s.value});
    std::sort(q.top_senders.begin(), q.top_senders.end(),
              [](const UserCount& a, const UserCount& b) { return a.count > b.count; });
    return q;
}

Result<std::vector<BlockInfo>> ReceiverCommandBackend::blocked() {
    auto blocks = m_impl->blocks.snapshot();
    // Newest first, at most 50 (a chat message has a length limit).
    std::stable_sort(blocks.begin(), blocks.end(),
                     [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
    if (blocks.size() > 50) blocks.resize(50);
    std::vector<BlockInfo> out;
    for (const auto& b : blocks) out.push_back({b.kind, b.target, b.actor, b.expires_at, {}});
    const FleetConfig& f = m_impl->fleet;
    if (!f.shared_blocks) return out;
    // A fleet: this host's blocks (with who made them) and every other host's
    // logins and addresses from the shared table. PostgreSQL down: this host's
    // alone, named as such.
    auto shared = fleet::read_fleet_blocks(f.conninfo, 50);
    if (!shared) {
        log::warn("telegram: /blocked shows this host only (PostgreSQL)",
                  {{"error", shared.error().message}});
        return out;
    }
    for (auto& b : out) b.host = f.host_name;
    for (const auto& b : *shared)
        if (b.host != f.host_name && out.size() < 100)
            out.push_back({b.kind, b.target, "", b.expires_at_ms, b.host});
    return out;
}

std::vector<ExternalMetric> metrics_of(const TelegramStats& s) {
    auto counter = [](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
        return ExternalMetric{name, help, true, {{{}, [&v] { return static_cast<double>(v); }}}};
    };
    auto by_result = [](const char* name, const char* help,
                        const std::atomic<std::uint64_t>& handled,
                        const std::atomic<std::uint64_t>& refused) {
        return ExternalMetric{
            name,
            help,
            true,
            {{{{"result", "handled"}}, [&handled] { return static_cast<double>(handled); }},
             {{{"result", "refused"}}, [&refused] { return static_cast<double>(refused); }}}};
    };
    return {
        counter("saslguard_receiver_telegram_messages_sent_total",
                "Bot API calls from the outbox that succeeded.", s.sent),
        counter("saslguard_receiver_telegram_messages_failed_total",
                "Outbox rows given up (400/401/403, or too many attempts).", s.failed),
        counter("saslguard_receiver_telegram_messages_retried_total",
                "Outbox attempts that will be retried.", s.retried),
        counter("saslguard_receiver_telegram_poll_errors_total", "getUpdates calls that failed.",
                s.poll_errors),
        ExternalMetric{"saslguard_receiver_telegram_outbox_pending",
                       "Outbox rows waiting to be sent.",
                       false,
                       {{{},
                         [&s] {
                             const std::int64_t n = s.outbox_pending;
                             return static_cast<double>(n < 0 ? 0 : n);
                         }}}},
        by_result("saslguard_receiver_telegram_callbacks_total", "Button presses, by result.",
                  s.callbacks_handled, s.callbacks_refused),
        by_result("saslguard_receiver_telegram_commands_total", "Bot commands, by result.",
                  s.commands_handled, s.commands_refused),
    };
}

Result<std::unique_ptr<TelegramService>> TelegramService::start(const Config& config,
                                                                store::StateStore& store,
                                                                ActionExecutor& executor,
                                                                mitigation::ActiveBlocks& blocks) {
    TelegramConfig tc = config.telegram;
    if (tc.bot_token.empty()) return make_error("telegram: no bot token (telegram.bot_token_file)");
    if (tc.admin_chat_ids.empty())
        return make_error("telegram: admin_chat_ids is empty: nobody would be told");
    if (tc.admin_user_ids.empty())
        return make_error("telegram: admin_user_ids is empty: nobody could act");
    std::unique_ptr<TelegramService> s(new TelegramService());
    auto backend = ReceiverCommandBackend::open(config, store, blocks);
    if (!backend) return make_error("telegram: " + backend.error().message);
    s->m_backend = std::move(*backend);
    BotOptions options;
    options.store = &store;
    options.blocks = &blocks;
    if (config.fleet.coordinate) {
        // One poller for the fleet (docs/fleet.md); messages name this host.
        tc.fleet_host = config.fleet.host_name;
        fleet::CoordinationSettings cs;
        cs.conninfo = config.fleet.conninfo;
        cs.host = config.fleet.host_name;
        s->m_front = std::make_unique<fleet::PgTelegramFront>(cs);
        s->m_front->start();
        options.front = s->m_front.get();
    }
    s->m_bot = std::make_unique<TelegramBot>(tc, options, executor, *s->m_backend,
                                             alertmanager_silencer(tc.alertmanager_url));
    auto session = store.session();
    if (!session) return make_error("telegram: " + session.error().message);
    s->m_notifier = std::make_shared<TelegramNotifier>(tc, std::move(*session), s->m_bot.get());
    if (auto r = s->m_bot->start(); !r) return r.error();
    return s;
}

std::vector<ExternalMetric> TelegramService::metrics() const {
    auto out = metrics_of(m_bot->stats());
    if (const fleet::PgTelegramFront* front = m_front.get())
        out.push_back(ExternalMetric{
            "saslguard_receiver_telegram_poller",
            "1 while this receiver holds the fleet's Telegram poller lock (fleet.coordinate).",
            false,
            {{{}, [front] { return front->leading() ? 1.0 : 0.0; }}}});
    return out;
}

TelegramService::~TelegramService() {
    stop();
}

void TelegramService::stop() {
    if (m_bot) m_bot->stop();
    if (m_front) m_front->stop();  // after the bot: the lock goes when nothing polls
}

}  // namespace saslguard::receiver::telegram
