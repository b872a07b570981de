#include "saslguard/receiver/intake.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "saslguard/common/log.hpp"
#include "saslguard/receiver/database.hpp"
#include "saslguard/receiver/webhook.hpp"

namespace saslguard::receiver {
namespace {

struct Pending {
    const WebhookPayload* payload;
    std::string_view body;
    std::optional<Result<IntakeResult>> result;  // set by the writer
};

}  // namespace

struct Intake::Impl {
    std::unique_ptr<Database> db;
    std::size_t max_batch;
    std::mutex mu;
    std::condition_variable work_cv;  // writer waits for payloads
    std::condition_variable done_cv;  // handlers wait for their commit
    std::deque<Pending*> queue;
    bool stopping = false;
    std::function<void()> on_commit;
    std::thread writer;

    Statement insert_webhook, insert_alert, bump_duplicate;

    Result<void> prepare() {
        auto w = db->prepare(
            "INSERT INTO webhooks (received_at, group_key, status, receiver, truncated_alerts, "
            "alert_count, body)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        if (!w) return w.error();
        auto a = db->prepare(
            "INSERT OR IGNORE INTO alerts (webhook_id, fingerprint, starts_at, status, alertname, "
            "labels,"
            " annotations, ends_at, generator_url, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
            "?7, ?8, ?9, ?10)");
        if (!a) return a.error();
        auto d = db->prepare(
            "UPDATE alerts SET duplicates = duplicates + 1 WHERE fingerprint = ?1 AND starts_at = "
            "?2 AND status = ?3");
        if (!d) return d.error();
        insert_webhook = std::move(*w);
        insert_alert = std::move(*a);
        bump_duplicate = std::move(*d);
        return {};
    }

    Result<IntakeResult> write_one(const Pending& p, std::int64_t now) {
        const WebhookPayload& wp = *p.payload;
        IntakeResult out;
        insert_webhook.reset();
        insert_webhook.bind(1, now)
            .bind(2, wp.group_key)
            .bind(3, wp.status)
            .bind(4, wp.receiver)
            .bind(5, static_cast<std::int64_t>(wp.truncated_alerts))
            .bind(6, static_cast<std::int64_t>(wp.alerts.size()))
            .bind(7, p.body);
        if (auto r = insert_webhook.run(); !r) return r.error();
        out.webhook_id = db->last_insert_rowid();
        for (const auto& a : wp.alerts) {
            insert_alert.reset();
            insert_alert.bind(1, out.webhook_id)
                .bind(2, a.fingerprint)
                .bind(3, a.starts_at)
                .bind(4, a.status)
                .bind(5, a.label("alertname"))
                .bind(6, nlohmann::json(a.labels).dump())
                .bind(7, nlohmann::json(a.annotations).dump())
                .bind(8, a.ends_at)
                .bind(9, a.generator_url)
                .bind(10, now);
            if (auto r = insert_alert.run(); !r) return r.error();
            if (db->changes() == 1) {
                (a.status == "firing" ? out.new_firing : out.new_resolved)++;
                continue;
            }
            ++out.duplicates;
            bump_duplicate.reset();
            bump_duplicate.bind(1, a.fingerprint).bind(2, a.starts_at).bind(3, a.status);
            if (auto r = bump_duplicate.run(); !r) return r.error();
        }
        return out;
    }

    // Writes one batch in one transaction. All or nothing: on failure every
    // payload of the batch is refused (5xx) and Alertmanager resends it.
    void write_batch(std::vector<Pending*>& batch) {
        std::vector<Result<IntakeResult>> results;
        results.reserve(batch.size());
        std::optional<Error> failure;
        auto tx = Transaction::begin(*db);
        if (!tx) failure = tx.error();
        const std::int64_t now = unix_ms();
        for (Pending* p : batch) {
            if (failure) break;
            auto r = write_one(*p, now);
            if (!r) failure = r.error();
            results.push_back(std::move(r));
        }
        if (!failure) {
            if (auto c = tx->commit(); !c) failure = c.error();
        }
        if (failure)
            log::error("webhook batch not stored",
                       {{"payloads", std::to_string(batch.size())}, {"error", failure->message}});
        std::function<void()> callback;
        {
            std::lock_guard lock(mu);
            callback = on_commit;
            for (std::size_t i = 0; i < batch.size(); ++i)
                batch[i]->result =
                    failure ? Result<IntakeResult>(make_error("not stored: " + failure->message))
                            : std::move(results[i]);
        }
        done_cv.notify_all();
        if (!failure && callback) callback();
    }

    void run() {
        std::vector<Pending*> batch;
        for (;;) {
            {
                std::unique_lock lock(mu);
                work_cv.wait(lock, [&] { return stopping || !queue.empty(); });
                if (queue.empty()) return;  // stopping and drained
                while (!queue.empty() && batch.size() < max_batch) {
                    batch.push_back(queue.front());
                    queue.pop_front();
                }
            }
            write_batch(batch);
            batch.clear();
        }
    }
};

Intake::Intake(std::unique_ptr<Database> db, std::size_t max_batch)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->db = std::move(db);
    m_impl->max_batch = max_batch == 0 ? 1 : max_batch;
    if (auto r = m_impl->prepare(); !r)
        log::error("intake: cannot prepare statements", {{"error", r.error().message}});
    m_impl->writer = std::thread([this] { m_impl->run(); });
}

Intake::~Intake() {
    stop();
}

void Intake::set_on_commit(std::function<void()> callback) {
    std::lock_guard lock(m_impl->mu);
    m_impl->on_commit = std::move(callback);
}

void Intake::stop() {
    {
        std::lock_guard lock(m_impl->mu);
        m_impl->stopping = true;
    }
    m_impl->work_cv.notify_all();
    if (m_impl->writer.joinable()) m_impl->writer.join();
}

Result<IntakeResult> Intake::accept(const WebhookPayload& payload, std::string_view body) {
    Pending p{&payload, body, std::nullopt};
    std::unique_lock lock(m_impl->mu);
    if (m_impl->stopping) return make_error("receiver is shutting down");
    m_impl->queue.push_back(&p);
    m_impl->work_cv.notify_one();
    m_impl->done_cv.wait(lock, [&] { return p.result.has_value(); });
    return std::move(*p.result);
}

}  // namespace saslguard::receiver
