#include "saslguard/receiver/app.hpp"

#include <unistd.h>

#include <map>
#include <mutex>

#include "saslguard/common/http_client.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/receiver/containment/containment.hpp"
#include "saslguard/receiver/fleet/coordination.hpp"
#include "saslguard/receiver/fleet/shared_blocks.hpp"
#include "saslguard/receiver/http_server.hpp"
#include "saslguard/receiver/intake.hpp"
#include "saslguard/receiver/metrics.hpp"
#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/mitigation/service.hpp"
#include "saslguard/receiver/notifier.hpp"
#include "saslguard/receiver/resolver.hpp"
#include "saslguard/receiver/store/state_store.hpp"
#include "saslguard/receiver/telegram/service.hpp"
#include "saslguard/receiver/worker.hpp"

namespace saslguard::receiver {

struct App::Impl {
    Config config;
    std::shared_ptr<ActionExecutor> executor;  // set_executor(), else the mitigation service
    std::shared_ptr<mitigation::MitigationService> mitigation;  // when App built the executor
    std::unique_ptr<mitigation::ActiveBlocks> blocks;           // what is in force
    std::shared_ptr<FanoutNotifier> notifier = std::make_shared<FanoutNotifier>();
    ReceiverMetrics metrics;
    std::unique_ptr<store::StateStore> state;
    std::unique_ptr<Resolver> resolver;
    std::unique_ptr<Intake> intake;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<HttpServer> server;
    std::unique_ptr<store::Session> metrics_session;      // read side for /metrics gauges
    std::unique_ptr<telegram::TelegramService> telegram;  // when telegram.enabled
    // The SMTP policy service, when smtp_policy.enabled: the worker and the
    // bot act through its executor (a release ends the guard's hold).
    std::unique_ptr<containment::Containment> containment;
    std::unique_ptr<fleet::SharedBlocks> shared_blocks;  // when fleet.shared_blocks
    std::shared_ptr<fleet::AlertClaims> alert_claims;    // when fleet.coordinate
    std::mutex metrics_mu;
    int port = 0;

    // Gauges that are facts of the store, read when /metrics is scraped.
    void refresh_gauges() {
        std::lock_guard lock(metrics_mu);
        if (!metrics_session) return;
        if (auto n = metrics_session->alerts().count_unfinished())
            metrics.set_backlog(static_cast<double>(*n));
        if (auto n = metrics_session->alerts().count_open_incidents())
            metrics.set_incidents_open(static_cast<double>(*n));
        if (blocks) {
            std::map<std::string, double> counts;
            for (auto kind : mitigation::catalog().block_kinds()) counts[std::string(kind)] = 0;
            for (const auto& b : blocks->snapshot()) counts[b.kind] += 1;
            for (const auto& [kind, n] : counts) metrics.set_active_blocks(kind, n);
        }
    }

    Result<std::unique_ptr<store::Session>> session(store::Durability d, bool deferred) {
        return state->session({d, deferred});
    }

    // What is in force (loaded now, told of every change the executor makes,
    // re-read every 2 s for changes by another process: saslguardctl), and the
    // executor: the real mitigation unless set_executor() gave another.
    Result<void> start_mitigation() {
        auto blocks_session = session(store::Durability::Normal, false);
        if (!blocks_session) return blocks_session.error();
        blocks = std::make_unique<mitigation::ActiveBlocks>(std::move(*blocks_session));
        if (auto r = blocks->refresh(); !r) return r.error();
        if (executor) return {};
        auto m = mitigation::MitigationService::open(*state, config.mitigation,
                                                     config.policy.allow_auto_delete, blocks.get());
        if (!m) return m.error();
        mitigation = *m;
        executor = mitigation;
        // The owner is told after the action, whoever asked for it (docs/owner-notice.md).
        if (config.owner_notice.enabled)
            executor = std::make_shared<OwnerNoticeExecutor>(
                executor,
                std::make_shared<OwnerNotifier>(config.owner_notice, config.telegram.host_name));
        for (const auto& [name, where] : mitigation->describe())
            log::info("mitigation ready", {{"mechanism", name}, {"acts_on", where}});
        return {};
    }

    // The executor the worker and the bot act through.
    ActionExecutor& acting() { return containment ? containment->executor() : *executor; }

    Result<void> create_containment() {
        if (!config.smtp_policy.service.enabled) return {};
        auto cont = containment::Containment::create(config, *state, *blocks, *executor);
        if (!cont) return cont.error();
        containment = std::move(*cont);
        for (auto& m : containment->metrics()) metrics.add_external(std::move(m));
        return {};
    }

    // Durability (docs/receiver.md): the intake commits with Full, so a 200
    // means the alert is on disk. The worker's own steps use Normal: safe
    // against any process crash (SIGKILL), and made durable by the next intake
    // commit of the same WAL; only a power loss right after a step could roll it
    // back. Neither runs WAL checkpoints inside a commit; the worker does, outside.
    Result<void> start_worker() {
        auto worker_session = session(store::Durability::Normal, true);
        if (!worker_session) return worker_session.error();
        auto read_session = session(store::Durability::Normal, false);
        if (!read_session) return read_session.error();
        metrics_session = std::move(*read_session);
        resolver = std::make_unique<Resolver>(config.prometheus, config.policy,
                                              prom::fetch_with(std::make_shared<HttpClient>()));
        // The mail host's word on each culprit (accounts, never-block addresses,
        // the queue) comes from the mitigation service; an executor set from
        // outside has none.
        worker = std::make_unique<Worker>(std::move(*worker_session), config, *resolver, acting(),
                                          *notifier, &metrics, mitigation.get());
        // Before anything can act again: what a crash left running is
        // interrupted, never re-run.
        if (auto r = worker->recover(); !r)
            log::error("worker recovery failed", {{"error", r.error().message}});
        return {};
    }

    Result<void> start_http() {
        auto intake_session = session(store::Durability::Full, true);
        if (!intake_session) return intake_session.error();
        intake = std::make_unique<Intake>(std::move(*intake_session));
        Worker* w = worker.get();
        intake->set_on_commit([w] { w->wake(); });
        if (config.fleet.coordinate) {
            fleet::CoordinationSettings cs;
            cs.conninfo = config.fleet.conninfo;
            cs.host = config.fleet.host_name;
            alert_claims = std::make_shared<fleet::AlertClaims>(cs);
            intake->set_gate(
                [claims = alert_claims](const WebhookPayload& p) { return claims->mine(p); });
        }
        HttpServerOptions opts;
        opts.host = config.listen_host();
        opts.port = config.listen_port();
        opts.bearer_token = config.webhook.bearer_token;
        opts.max_body_bytes = config.webhook.max_body_bytes;
        server = std::make_unique<HttpServer>(
            opts, *intake, metrics, [this] { refresh_gauges(); }, [w] { return w->healthy(); });
        auto bound = server->start();
        if (!bound) return bound.error();
        port = *bound;
        return {};
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
    if (s.config.fleet.host_name.empty() &&
        (s.config.fleet.shared_blocks || s.config.fleet.coordinate)) {
        char name[256] = {};
        ::gethostname(name, sizeof name - 1);
        s.config.fleet.host_name = name;
        if (s.config.fleet.coordinate && s.config.fleet.host_name.size() > 30)
            return make_error("fleet.host_name: the system's hostname '" +
                              s.config.fleet.host_name +
                              "' is longer than 30 characters; set fleet.host_name");
    }
    const Config& c = s.config;
    auto opened = store::StateStore::open(c.store_settings());  // migrates, once
    if (!opened) return opened.error();
    s.state = std::move(*opened);
    if (auto r = s.start_mitigation(); !r) return r;
    if (auto r = s.create_containment(); !r) return r;
    if (auto r = s.start_worker(); !r) return r;
    // The Telegram bot runs its own threads; the worker only queues rows for it.
    if (c.telegram.enabled) {
        auto tg = telegram::TelegramService::start(c, *s.state, s.acting(), *s.blocks);
        if (!tg) return tg.error();
        s.telegram = std::move(*tg);
        s.notifier->add(s.telegram->notifier());
        for (auto& m : s.telegram->metrics()) s.metrics.add_external(std::move(m));
    }
    if (auto r = s.start_http(); !r) {
        stop();
        return r;
    }
    // Postfix can ask from here on: after the intake the guard's alerts go
    // through, before the worker handles them.
    if (s.containment)
        if (auto r = s.containment->start(*s.intake); !r) {
            stop();
            return r.error();
        }
    s.worker->start();
    if (s.mitigation) s.mitigation->start_expiry();
    s.blocks->watch();
    if (c.fleet.shared_blocks) {
        fleet::SharedBlocksSettings fs;
        fs.conninfo = c.fleet.conninfo;
        fs.host = c.fleet.host_name;
        fs.login_action = c.mitigation.reject_text;
        fs.ip_action = c.mitigation.ip_reject_text;
        s.shared_blocks = std::make_unique<fleet::SharedBlocks>(fs, *s.blocks);
        s.shared_blocks->start();
        log::info("sharing blocks through PostgreSQL", {{"host", fs.host}});
    }
    log::info("receiver listening", {{"address", c.listen_host() + ":" + std::to_string(s.port)},
                                     {"state", c.state_path}});
    return {};
}

void App::stop() {
    auto& s = *m_impl;
    // No new policy requests; the guard's queued alerts reach the intake.
    if (s.containment) s.containment->stop();
    if (s.server) s.server->stop();  // no new webhooks; in-flight handlers finish
    if (s.intake) s.intake->stop();
    if (s.worker) s.worker->stop();
    s.server.reset();
    s.intake.reset();
    s.worker.reset();
    if (s.telegram) s.telegram->stop();  // after the worker: nothing queues rows any more
    if (s.mitigation) s.mitigation->stop();
    s.containment.reset();    // nothing acts through its executor any more
    s.shared_blocks.reset();  // before the blocks it mirrors
    s.blocks.reset();         // stops its watch
}

}  // namespace saslguard::receiver
