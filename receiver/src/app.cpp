#include "saslguard/receiver/app.hpp"

#include <map>
#include <mutex>

#include "saslguard/common/http_client.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/database.hpp"
#include "saslguard/receiver/http_server.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/telegram/service.hpp"
#include "saslguard/receiver/worker.hpp"

namespace saslguard::receiver {

ActionOutcome LogExecutor::execute(const ActionRequest& request) {
    ActionOutcome out;
    out.ok = false;
    out.summary = "not executed: no mitigation executor is wired (would " +
                  std::string(to_string(request.kind)) + " " + request.username + ")";
    out.error = "no executor";
    log::info("action not executed (log executor)",
              {{"kind", std::string(to_string(request.kind))},
               {"user", request.username},
               {"incident", std::to_string(request.incident_id)}});
    return out;
}

struct App::Impl {
    Config config;
    std::shared_ptr<ActionExecutor> executor = std::make_shared<LogExecutor>();
    std::shared_ptr<FanoutNotifier> notifier = std::make_shared<FanoutNotifier>();
    ReceiverMetrics metrics;
    std::shared_ptr<HttpClient> http = std::make_shared<HttpClient>();  // worker thread only
    std::unique_ptr<Resolver> resolver;
    std::unique_ptr<Intake> intake;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<HttpServer> server;
    std::unique_ptr<Database> metrics_db;                 // read side for /metrics gauges
    std::unique_ptr<telegram::TelegramService> telegram;  // when telegram.enabled
    std::mutex metrics_mu;
    int port = 0;

    // Gauges that are facts of the store, read when /metrics is scraped.
    void refresh_gauges() {
        std::lock_guard lock(metrics_mu);
        if (!metrics_db) return;
        if (auto n = metrics_db->query_int64("SELECT count(*) FROM alerts WHERE state != 'done'");
            n && *n)
            metrics.set_backlog(static_cast<double>(**n));
        if (auto n =
                metrics_db->query_int64("SELECT count(*) FROM incidents WHERE status = 'open'");
            n && *n)
            metrics.set_incidents_open(static_cast<double>(**n));
        // The mitigation layer's blocks table (migration 3): rows are blocks in force.
        if (metrics_db->table_exists("blocks")) {
            auto st = metrics_db->prepare("SELECT kind, count(*) FROM blocks GROUP BY kind");
            if (!st) return;
            std::map<std::string, double> counts = {
                {"login", 0}, {"ip", 0}, {"account", 0}, {"hold", 0}};
            while (true) {
                auto r = st->step();
                if (!r || !*r) break;
                counts[st->column_text(0)] = static_cast<double>(st->column_int64(1));
            }
            for (const auto& [kind, n] : counts) metrics.set_active_blocks(kind, n);
        }
    }
};

App::App(Config config) : m_impl(std::make_unique<Impl>()) {
    m_impl->config = std::move(config);
    m_impl->notifier->add(std::make_shared<LogNotifier>());
}

App::~App() {
    stop();
}

void App::set_executor(std::shared_ptr<ActionExecutor> executor) {
    m_impl->executor = std::move(executor);
}

void App::add_notifier(std::shared_ptr<Notifier> notifier) {
    m_impl->notifier->add(std::move(notifier));
}

const Config& App::config() const {
    return m_impl->config;
}

int App::port() const {
    return m_impl->port;
}

Result<void> App::start() {
    auto& s = *m_impl;
    const Config& c = s.config;
    // Durability (docs/receiver.md): the intake commits with synchronous=FULL,
    // so a 200 means the alert is on disk. The worker's own steps use NORMAL:
    // safe against any process crash (SIGKILL), and made durable by the next
    // intake commit's fsync of the same WAL; only a power loss right after a
    // step could roll it back.
    DatabaseOptions full;
    DatabaseOptions normal;
    normal.synchronous = "NORMAL";
    auto intake_db = Database::open(c.state_path, full);  // migrates
    if (!intake_db) return intake_db.error();
    auto worker_db = Database::open(c.state_path, normal);
    if (!worker_db) return worker_db.error();
    auto read_db = Database::open(c.state_path, normal);
    if (!read_db) return read_db.error();
    // Checkpoints copy the WAL into the database file and fsync it; run inside
    // a webhook's commit they put hundreds of ms on its latency. The committing
    // connections never checkpoint; the worker does, outside the write lock.
    (void)(*intake_db)->exec("PRAGMA wal_autocheckpoint=0");
    (void)(*worker_db)->exec("PRAGMA wal_autocheckpoint=0");
    auto write_lock = std::make_shared<std::mutex>();
    (*intake_db)->set_write_lock(write_lock);
    (*worker_db)->set_write_lock(write_lock);
    s.metrics_db = std::move(*read_db);

    // The Telegram bot runs its own threads; the worker only queues rows for it.
    if (c.telegram.enabled) {
        auto tg = telegram::TelegramService::start(c, *s.executor);
        if (!tg) return tg.error();
        s.telegram = std::move(*tg);
        s.notifier->add(s.telegram->notifier());
        s.metrics.add_text_source([t = s.telegram.get()] { return t->metrics(); });
    }

    auto http = s.http;
    s.resolver = std::make_unique<Resolver>(
        c.prometheus, c.policy, [http](const HttpRequest& r) { return http->perform(r); });
    s.worker = std::make_unique<Worker>(std::move(*worker_db), c, *s.resolver, *s.executor,
                                        *s.notifier, &s.metrics);
    s.intake = std::make_unique<Intake>(std::move(*intake_db));
    Worker* worker = s.worker.get();
    s.intake->set_on_commit([worker] { worker->wake(); });

    HttpServerOptions opts;
    opts.host = c.listen_host();
    opts.port = c.listen_port();
    opts.bearer_token = c.webhook.bearer_token;
    opts.max_body_bytes = c.webhook.max_body_bytes;
    s.server = std::make_unique<HttpServer>(
        opts, *s.intake, s.metrics, [&s] { s.refresh_gauges(); },
        [worker] { return worker->healthy(); });
    auto port = s.server->start();
    if (!port) {
        stop();
        return port.error();
    }
    s.port = *port;
    s.worker->start();
    log::info("receiver listening", {{"address", c.listen_host() + ":" + std::to_string(s.port)},
                                     {"state", c.state_path}});
    return {};
}

void App::stop() {
    auto& s = *m_impl;
    if (s.server) s.server->stop();  // no new webhooks; in-flight handlers finish
    if (s.intake) s.intake->stop();
    if (s.worker) s.worker->stop();
    s.server.reset();
    s.intake.reset();
    s.worker.reset();
    if (s.telegram) s.telegram->stop();  // after the worker: nothing queues rows any more
}

}  // namespace saslguard::receiver
