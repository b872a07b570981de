#pragma once
// Durable webhook intake with group commit.
//
// accept() is called by HTTP handler threads. It hands the parsed payload to one
// writer thread and blocks until that thread has committed it: the verbatim body
// into `webhooks` and each alert into `alerts` (INSERT OR IGNORE on
// fingerprint+startsAt+status, so a redelivery only bumps `duplicates`). Payloads
// that arrive while a commit is in flight are written together in the next
// transaction: one fsync for many webhooks. Only after accept() returns may the
// handler answer 200; a crash at any point before that loses nothing Alertmanager
// will not resend.
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "saslguard/common/result.hpp"

namespace saslguard::receiver {

class Database;
struct WebhookPayload;

struct IntakeResult {
    std::int64_t webhook_id = 0;
    int new_firing = 0;
    int new_resolved = 0;
    int duplicates = 0;
};

class Intake {
public:
    // Takes its own connection (the writer thread is its only user).
    explicit Intake(std::unique_ptr<Database> db, std::size_t max_batch = 512);
    ~Intake();  // finishes the queued payloads, then stops the writer
    Intake(const Intake&) = delete;
    Intake& operator=(const Intake&) = delete;

    // Called (on the writer thread) after each successful commit; wakes the worker.
    void set_on_commit(std::function<void()> callback);

    // Thread-safe; blocks until committed. Fails when the transaction failed
    // (disk full, I/O error) or the intake is stopping: answer 5xx, Alertmanager retries.
    Result<IntakeResult> accept(const WebhookPayload& payload, std::string_view body);

    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
