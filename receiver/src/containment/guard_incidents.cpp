#include "saslguard/receiver/containment/guard_incidents.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "saslguard/common/clock.hpp"
#include "saslguard/common/duration.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/common/log.hpp"
#include "saslguard/common/validate.hpp"
#include "saslguard/receiver/containment/guard_alert.hpp"
#include "saslguard/receiver/intake.hpp"

namespace saslguard::receiver::containment {
namespace {

using smtp_policy::canonical_login;

constexpr const char* kGuardActor = "guard";

// A value from Postfix that goes into the store or a message: kept only when well formed.
std::string clean_ip(std::string_view ip) {
    auto c = validate::canonical_ip(ip);
    return c ? *c : std::string();
}
std::string clean_queue_id(std::string_view id) {
    return validate::queue_id(id) ? std::string(id) : std::string();
}

}  // namespace

struct GuardIncidents::Impl {
    Impl(std::unique_ptr<store::Session> s, mitigation::ActiveBlocks& b,
         const smtp_policy::BlockView& v, GuardIncidentsOptions o)
        : session(std::move(s)), blocks(b), view(v), options(std::move(o)) {}

    std::unique_ptr<store::Session> session;
    mitigation::ActiveBlocks& blocks;
    const smtp_policy::BlockView& view;
    GuardIncidentsOptions options;
    Intake* intake = nullptr;
    smtp_policy::SendingGuard* guard = nullptr;

    // ---- handed over by other threads (under mu) ----------------------------
    std::mutex mu;
    std::condition_variable cv;       // the thread waits for work
    std::condition_variable drained;  // drain() waits for the thread
    std::deque<smtp_policy::GuardTrip> trips;
    std::vector<smtp_policy::HeldMessage> held;
    std::vector<mitigation::BlockChange> changes;
    std::uint64_t queued = 0;   // events handed over so far
    std::uint64_t handled = 0;  // of which the thread has handled
    bool stopping = false;
    bool running = false;

    // ---- the thread's own ---------------------------------------------------
    struct Episode {
        std::string fingerprint;
        std::string starts_at;
    };
    std::map<std::string, Episode> episodes;  // open, by canonical login
    std::deque<WebhookPayload> pending;       // alerts the intake has not taken yet
    std::thread thread;
    std::size_t subscription = 0;

    struct Counters {
        std::atomic<std::uint64_t> trips{0}, held{0}, alerts_stored{0}, alerts_failed{0},
            events_dropped{0}, holds_recorded{0};
    };
    Counters stats;

    // ---- other threads --------------------------------------------------------
    void push_change(const mitigation::BlockChange& c) {
        // Only what can end a hold or an episode: a login or account block put in
        // force, a hold lifted.
        bool relevant = false;
        for (const auto& b : c.added)
            relevant = relevant || b.kind == "login" || b.kind == "account";
        for (const auto& b : c.removed) relevant = relevant || b.kind == "hold";
        if (!relevant) return;
        {
            std::lock_guard lock(mu);
            changes.push_back(c);
            ++queued;
        }
        cv.notify_one();
    }

    // ---- the thread -------------------------------------------------------------
    void loop() {
        for (;;) {
            std::deque<smtp_policy::GuardTrip> t;
            std::vector<smtp_policy::HeldMessage> h;
            std::vector<mitigation::BlockChange> c;
            std::uint64_t seq = 0;
            bool stop = false;
            {
                std::unique_lock lock(mu);
                cv.wait_for(lock, options.tick, [&] {
                    return stopping || !trips.empty() || !held.empty() || !changes.empty();
                });
                t.swap(trips);
                h.swap(held);
                c.swap(changes);
                seq = queued;
                stop = stopping;
            }
            handle_changes(c);
            for (const auto& trip : t) handle_trip(trip);
            handle_held(h);
            check_episodes();
            flush(stop);
            {
                std::lock_guard lock(mu);
                handled = seq;
            }
            drained.notify_all();
            if (stop) return;
        }
    }

    void handle_changes(const std::vector<mitigation::BlockChange>& cs) {
        for (const auto& c : cs) {
            for (const auto& b : c.added)
                if (b.kind == "login" || b.kind == "account") {
                    // Refused by the service from now on: its counts are of no use.
                    if (guard->clear(canonical_login(b.target)))
                        log::info("guard: cleared after a block",
                                  {{"sasl_username", canonical_login(b.target)},
                                   {"block", b.kind},
                                   {"actor", c.actor}});
                }
            // A change this process made went through the ContainmentExecutor,
            // which cleared the guard at the right moment; one found by
            // ActiveBlocks' refresh was made by another process (saslguardctl).
            if (!c.actor.empty()) continue;
            for (const auto& b : c.removed) {
                if (b.kind != "hold") continue;
                const std::string user = canonical_login(b.target);
                if (last_queue_action(user) != "release_mail") continue;
                guard->clear(user, options.release_grace);
                log::info("guard: released by another process, hold ended",
                          {{"sasl_username", user},
                           {"grace",
                            format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(
                                options.release_grace))}});
            }
        }
    }

    // The newest release_mail or delete_mail of `user` in the action log.
    std::string last_queue_action(const std::string& user) {
        auto rows = session->mitigation().actions(200);
        if (!rows) {
            log::warn("guard: reading the action log failed", {{"error", rows.error().message}});
            return {};
        }
        for (const auto& r : *rows)
            if ((r.kind == "release_mail" || r.kind == "delete_mail") && r.state == "applied" &&
                canonical_login(r.target) == user)
                return r.kind;
        return {};
    }

    void handle_trip(const smtp_policy::GuardTrip& in) {
        stats.trips++;
        smtp_policy::GuardTrip t = in;
        if (!validate::sasl_username(t.user)) {
            // Its mail is held all the same; an alert or a block needs a name that
            // is safe in a map, a command and a message.
            log::warn("guard: tripped for a login that is not a valid SASL name: held, no incident",
                      {{"sasl_username", t.user}});
            return;
        }
        std::vector<std::string> clients;
        for (const auto& a : t.client_addresses)
            if (auto c = clean_ip(a); !c.empty()) clients.push_back(c);
        t.client_addresses = clients;
        t.queue_id = clean_queue_id(t.queue_id);

        ensure_hold(t.user,
                    "the sending guard held " + t.user + "'s mail (" +
                        std::to_string(t.counts.messages) + " messages, " +
                        std::to_string(t.counts.recipients) + " recipients)",
                    t.queue_id);
        if (episodes.count(t.user)) {
            log::info("guard: tripped again within the open episode: no new alert",
                      {{"sasl_username", t.user}});
            return;
        }
        WebhookPayload p = guard_alert_firing(t);
        episodes[t.user] = {p.alerts.front().fingerprint, p.alerts.front().starts_at};
        pending.push_back(std::move(p));
    }

    // Puts "the user's mail is held" in force (a hold block), as the Mitigator
    // records an action: one row of the action log and the block, in one transaction.
    void ensure_hold(const std::string& user, const std::string& summary,
                     const std::string& queue_id) {
        if (blocks.is_blocked("hold", user)) return;
        const std::int64_t now = options.now();
        nlohmann::json params = nlohmann::json::object();
        if (!queue_id.empty()) params["affected"] = {queue_id};
        store::ActionRecord rec;
        rec.kind = "hold_mail";
        rec.target = user;
        rec.params_json = params.dump();
        rec.actor = kGuardActor;
        rec.reason = "SMTP policy service: sending guard";
        rec.state = "running";
        rec.created_at = now;
        rec.started_at = now;
        store::ActionFinish fin;
        fin.state = "applied";
        fin.result = summary;
        fin.params_json = rec.params_json;
        fin.finished_at = now;
        auto recorded = [&]() -> Result<std::int64_t> {
            auto tx = session->begin();
            if (!tx) return tx.error();
            auto id = session->mitigation().insert_action(rec);
            if (!id) return id.error();
            fin.action_id = *id;
            fin.put_blocks.push_back({"hold", user, *id, now, std::nullopt, kGuardActor, 0});
            if (auto r = session->mitigation().finish_action(fin); !r) return r.error();
            if (auto c = (*tx)->commit(); !c) return c.error();
            return *id;
        }();
        if (!recorded) {
            log::error("guard: recording the hold failed",
                       {{"sasl_username", user}, {"error", recorded.error().message}});
            return;
        }
        stats.holds_recorded++;
        mitigation::BlockChange change;
        change.added.push_back({"hold", user, *recorded, now, std::nullopt, kGuardActor, 0});
        change.action_id = *recorded;
        change.actor = kGuardActor;
        blocks.apply(change);
        log::info("guard: hold recorded",
                  {{"sasl_username", user}, {"action_id", std::to_string(*recorded)}});
    }

    void handle_held(const std::vector<smtp_policy::HeldMessage>& hs) {
        if (hs.empty()) return;
        stats.held += hs.size();
        std::vector<store::GuardHold> rows;
        std::map<std::string, std::string> users;  // user → a queue id held now
        for (const auto& m : hs) {
            const std::string qid = clean_queue_id(m.queue_id);
            if (qid.empty() || !validate::sasl_username(m.user)) continue;
            rows.push_back({qid, m.user, clean_ip(m.client_address), unix_ms(m.at), 0});
            users[m.user] = qid;
        }
        if (rows.empty()) return;
        if (auto r = session->alerts().record_guard_holds(rows); !r)
            log::error("guard: recording held messages failed",
                       {{"count", std::to_string(rows.size())}, {"error", r.error().message}});
        // Held mail whose hold was lifted (deleted) while the guard still holds
        // the user: in force again, so the admins can release or delete it.
        for (const auto& [user, qid] : users)
            if (guard->is_held(user, std::chrono::steady_clock::now()))
                ensure_hold(user, "the sending guard holds " + user + "'s mail", qid);
    }

    void check_episodes() {
        for (auto it = episodes.begin(); it != episodes.end();) {
            const std::string& user = it->first;
            std::string why;
            if (view.login_blocked(user))
                why = "the login is blocked";
            else if (!blocks.is_blocked("hold", user) &&
                     !guard->is_held(user, std::chrono::steady_clock::now()))
                why = "none of its mail is held any more";
            if (why.empty()) {
                ++it;
                continue;
            }
            log::info("guard: episode ended", {{"sasl_username", user}, {"why", why}});
            pending.push_back(guard_alert_resolved(
                user, it->second.fingerprint, it->second.starts_at,
                std::chrono::system_clock::time_point(std::chrono::milliseconds(options.now())),
                why));
            it = episodes.erase(it);
        }
    }

    // Hands the alerts to the intake, oldest first; what fails is retried next
    // time (disk full), except when stopping.
    void flush(bool stopping_now) {
        while (!pending.empty()) {
            const WebhookPayload& p = pending.front();
            const Alert& a = p.alerts.front();
            auto r = intake->accept(p, webhook_json(p));
            if (!r) {
                stats.alerts_failed++;
                log::error(stopping_now ? "guard: alert lost at stop"
                                        : "guard: alert not stored, retrying",
                           {{"alertname", a.label("alertname")},
                            {"sasl_username", a.label("sasl_username")},
                            {"status", a.status},
                            {"error", r.error().message}});
                if (!stopping_now) return;
                pending.pop_front();
                continue;
            }
            stats.alerts_stored++;
            log::info("guard: alert stored", {{"alertname", a.label("alertname")},
                                              {"sasl_username", a.label("sasl_username")},
                                              {"status", a.status},
                                              {"starts_at", a.starts_at},
                                              {"duplicate", r->duplicates > 0 ? "true" : "false"}});
            pending.pop_front();
        }
    }
};

GuardIncidents::GuardIncidents(std::unique_ptr<store::Session> session,
                               mitigation::ActiveBlocks& blocks, const smtp_policy::BlockView& view,
                               GuardIncidentsOptions options)
    : m_impl(std::make_shared<Impl>(std::move(session), blocks, view, std::move(options))) {}

GuardIncidents::~GuardIncidents() {
    stop();
}

void GuardIncidents::start(Intake& intake, smtp_policy::SendingGuard& guard) {
    Impl& s = *m_impl;
    if (s.running) return;
    s.intake = &intake;
    s.guard = &guard;
    // Episodes a previous run left open: their incidents close when they end.
    if (auto open = s.session->alerts().open_incidents_of_alert(std::string(kGuardAlertname))) {
        for (const auto& o : *open)
            if (!o.username.empty())
                s.episodes[canonical_login(o.username)] = {o.fingerprint, o.starts_at};
        if (!open->empty())
            log::info("guard: open incidents taken up", {{"count", std::to_string(open->size())}});
    } else {
        log::warn("guard: reading open incidents failed", {{"error", open.error().message}});
    }
    std::weak_ptr<Impl> weak = m_impl;
    s.subscription = s.blocks.subscribe([weak](const mitigation::BlockChange& c) {
        if (auto impl = weak.lock()) impl->push_change(c);
    });
    {
        std::lock_guard lock(s.mu);
        s.stopping = false;
        s.running = true;
    }
    s.thread = std::thread([impl = m_impl] { impl->loop(); });
}

void GuardIncidents::stop() {
    Impl& s = *m_impl;
    if (s.subscription) {
        s.blocks.unsubscribe(s.subscription);
        s.subscription = 0;
    }
    {
        std::lock_guard lock(s.mu);
        s.stopping = true;
    }
    s.cv.notify_all();
    if (s.thread.joinable()) s.thread.join();
    std::lock_guard lock(s.mu);
    s.running = false;
}

void GuardIncidents::tripped(const smtp_policy::GuardTrip& trip) {
    Impl& s = *m_impl;
    {
        std::lock_guard lock(s.mu);
        s.trips.push_back(trip);  // never dropped: one per user episode
        ++s.queued;
    }
    s.cv.notify_one();
}

void GuardIncidents::held(const smtp_policy::HeldMessage& message) {
    Impl& s = *m_impl;
    {
        std::lock_guard lock(s.mu);
        if (s.held.size() >= s.options.max_queue) {
            s.stats.events_dropped++;
            return;
        }
        s.held.push_back(message);
        ++s.queued;
    }
    s.cv.notify_one();
}

GuardIncidentsStats GuardIncidents::stats() const {
    const auto& st = m_impl->stats;
    return {st.trips.load(),         st.held.load(),           st.alerts_stored.load(),
            st.alerts_failed.load(), st.events_dropped.load(), st.holds_recorded.load()};
}

void GuardIncidents::drain() {
    Impl& s = *m_impl;
    std::unique_lock lock(s.mu);
    const std::uint64_t target = s.queued;
    s.cv.notify_one();
    s.drained.wait(lock, [&] { return s.handled >= target || !s.running; });
}

}  // namespace saslguard::receiver::containment
