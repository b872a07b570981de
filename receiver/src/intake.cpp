#include "saslguard/receiver/intake.hpp"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "saslguard/common/log.hpp"
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
    std::unique_ptr<store::Session> session;
    std::size_t max_batch;
    Clock clock;
    std::mutex mu;
    std::condition_variable work_cv;  // writer waits for payloads
    std::condition_variable done_cv;  // handlers wait for their commit
    std::deque<Pending*> queue;
    bool stopping = false;
    std::function<void()> on_commit;
    Intake::Gate gate;  // set before the first webhook
    std::thread writer;

    // Writes one batch in one transaction. All or nothing: on failure every
    // payload of the batch is refused (5xx) and Alertmanager resends it.
    void write_batch(std::vector<Pending*>& batch) {
        std::vector<store::IncomingWebhook> in;
        in.reserve(batch.size());
        for (Pending* p : batch) in.push_back({p->payload, p->body});
        auto stored = session->alerts().store_webhooks(in, clock());
        std::optional<Error> failure;
        if (!stored) failure = stored.error();
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
                            : Result<IntakeResult>((*stored)[i]);
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

Intake::Intake(std::unique_ptr<store::Session> session, std::size_t max_batch, Clock clock)
    : m_impl(std::make_unique<Impl>()) {
    m_impl->session = std::move(session);
    m_impl->max_batch = max_batch == 0 ? 1 : max_batch;
    m_impl->clock = std::move(clock);
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

void Intake::set_gate(Gate gate) {
    std::lock_guard lock(m_impl->mu);
    m_impl->gate = std::move(gate);
}

Result<IntakeResult> Intake::accept_webhook(const WebhookPayload& payload, std::string_view body) {
    Gate gate;
    {
        std::lock_guard lock(m_impl->mu);
        gate = m_impl->gate;
    }
    if (!gate) return accept(payload, body);
    auto kept = gate(payload);
    if (!kept) return make_error("not stored: " + kept.error().message);
    const int others = static_cast<int>(payload.alerts.size() - kept->alerts.size());
    if (kept->alerts.empty() && !payload.alerts.empty()) {
        IntakeResult r;
        r.duplicates = others;
        return r;
    }
    auto r = accept(*kept, body);
    if (r) r->duplicates += others;
    return r;
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
