#include "saslguard/receiver/smtp_policy/guard.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <limits>
#include <list>
#include <mutex>
#include <unordered_map>

#include "saslguard/receiver/smtp_policy/block_view.hpp"
#include "string_hash.hpp"

namespace saslguard::receiver::smtp_policy {
namespace {

using TimePoint = SendingGuard::TimePoint;
constexpr std::size_t kBuckets = SendingGuard::kBuckets;
// One bucket more than a window holds: the oldest one may be partly outside the
// window, so a count covers between one window and one window + one bucket.
// Counts are therefore never low (a trip is never late), at most one bucket early.
constexpr std::size_t kRing = kBuckets + 1;
// A sweep walks at most this many entries, so the lock is never held long.
constexpr std::size_t kSweepBudget = 512;

std::int64_t since_epoch_ns(TimePoint t) {
    const auto ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return ns < 0 ? 0 : ns;
}

// A sliding window of kRing buckets of window/kBuckets each. `last` is the
// number of the newest bucket touched (time / bucket width); older buckets are
// zeroed as time moves on, and `total` is kept equal to the sum.
class Window {
public:
    void add(std::int64_t bucket, std::uint32_t n) {
        advance(bucket);
        auto& b = m_buckets[static_cast<std::size_t>(bucket) % kRing];
        const std::uint32_t room = std::numeric_limits<std::uint32_t>::max() - b;
        const std::uint32_t add = n < room ? n : room;
        b += add;
        m_total += add;
    }
    void advance(std::int64_t bucket) {
        if (m_last < 0 || bucket - m_last >= static_cast<std::int64_t>(kRing)) {
            if (m_total != 0) m_buckets.fill(0);
            m_total = 0;
        } else {
            for (std::int64_t b = m_last + 1; b <= bucket; ++b) {
                auto& x = m_buckets[static_cast<std::size_t>(b) % kRing];
                m_total -= x;
                x = 0;
            }
        }
        if (bucket > m_last) m_last = bucket;
    }
    // Nothing left in the window at `bucket` (without changing state).
    bool empty_at(std::int64_t bucket) const {
        return m_total == 0 || m_last < 0 || bucket - m_last >= static_cast<std::int64_t>(kRing);
    }
    std::uint32_t count() const {
        return m_total > std::numeric_limits<std::uint32_t>::max()
                   ? std::numeric_limits<std::uint32_t>::max()
                   : static_cast<std::uint32_t>(m_total);
    }

private:
    std::array<std::uint32_t, kRing> m_buckets{};
    std::int64_t m_last = -1;
    std::uint64_t m_total = 0;
};

struct Entry {
    std::string user;
    Window messages;
    Window recipients;
    TimePoint last_seen;
    bool held = false;
    TimePoint held_until = TimePoint::max();
    TimePoint exempt_until = TimePoint::min();
    std::vector<std::string> addresses;
};

}  // namespace

std::string_view to_string(GuardLimit l) {
    return l == GuardLimit::Messages ? "messages" : "recipients";
}

struct SendingGuard::Impl {
    GuardSettings settings;
    std::int64_t message_bucket_ns;
    std::int64_t recipient_bucket_ns;
    detail::StringSet allow_users;
    detail::StringSet allow_domains;
    detail::StringMap<GuardLimits> user_limits;

    mutable std::mutex mutex;
    std::list<Entry> lru;  // front: most recently seen
    std::unordered_map<std::string_view, std::list<Entry>::iterator>
        index;               // keys view Entry::user
    detail::StringSet held;  // users with held=true
    std::uint64_t trips = 0;
    std::uint64_t evicted = 0;
    std::atomic<std::uint64_t> exempt{0};  // counted outside the lock

    explicit Impl(GuardSettings s) : settings(std::move(s)) {
        auto bucket_ns = [](std::chrono::seconds w) {
            const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(w).count() /
                            static_cast<std::int64_t>(kBuckets);
            return ns > 0 ? ns : 1;
        };
        message_bucket_ns = bucket_ns(settings.message_window);
        recipient_bucket_ns = bucket_ns(settings.recipient_window);
        for (const auto& u : settings.allow_users) allow_users.insert(canonical_login(u));
        for (const auto& d : settings.allow_domains) allow_domains.insert(canonical_login(d));
        for (const auto& [user, limits] : settings.user_limits)
            user_limits[canonical_login(user)] = limits;
        // Buckets for every user up front (8 bytes each): a rehash of tens of
        // thousands of entries would stall the policy thread for a moment.
        index.reserve(std::min<std::size_t>(settings.max_tracked_users, 1u << 20));
    }

    std::int64_t mbucket(TimePoint t) const { return since_epoch_ns(t) / message_bucket_ns; }
    std::int64_t rbucket(TimePoint t) const { return since_epoch_ns(t) / recipient_bucket_ns; }

    bool hold_in_force(const Entry& e, TimePoint now) const { return e.held && now < e.held_until; }

    bool idle(const Entry& e, TimePoint now) const {
        return !hold_in_force(e, now) && now >= e.exempt_until &&
               e.messages.empty_at(mbucket(now)) && e.recipients.empty_at(rbucket(now));
    }

    void erase(std::list<Entry>::iterator it) {
        if (it->held) held.erase(it->user);
        index.erase(std::string_view(it->user));
        lru.erase(it);
    }

    // Walks from the least recently seen end: idle users are forgotten, held or
    // exempt ones skipped; stops at the first user seen within the longest
    // window (everyone in front was seen later, so is not idle either).
    void sweep_locked(TimePoint now) {
        const auto horizon = std::max(settings.message_window, settings.recipient_window);
        std::size_t budget = kSweepBudget;
        for (auto it = lru.end(); it != lru.begin() && budget > 0; --budget) {
            auto cur = std::prev(it);
            if (now - cur->last_seen < horizon) break;
            if (cur->held && !hold_in_force(*cur, now)) {
                held.erase(cur->user);
                cur->held = false;
            }
            if (idle(*cur, now)) {
                erase(cur);  // `it` stays valid: only `cur` is removed
            } else {
                it = cur;
            }
        }
    }

    std::list<Entry>::iterator find_or_add(std::string_view user, TimePoint now) {
        if (auto found = index.find(user); found != index.end()) {
            lru.splice(lru.begin(), lru, found->second);
            return found->second;
        }
        sweep_locked(now);
        if (settings.max_tracked_users > 0 && index.size() >= settings.max_tracked_users) {
            erase(std::prev(lru.end()));
            ++evicted;
        }
        lru.emplace_front();
        auto it = lru.begin();
        it->user.assign(user.data(), user.size());
        index.emplace(std::string_view(it->user), it);
        return it;
    }

    GuardLimits limits_for(std::string_view user) const {
        if (auto it = user_limits.find(user); it != user_limits.end()) return it->second;
        return settings.limits;
    }

    bool allowlisted(std::string_view user) const {
        if (allow_users.find(user) != allow_users.end()) return true;
        const auto at = user.rfind('@');
        if (at == std::string_view::npos || allow_domains.empty()) return false;
        // example.com covers example.com and every subdomain of it.
        for (std::string_view domain = user.substr(at + 1); !domain.empty();) {
            if (allow_domains.find(domain) != allow_domains.end()) return true;
            const auto dot = domain.find('.');
            if (dot == std::string_view::npos) break;
            domain.remove_prefix(dot + 1);
        }
        return false;
    }
};

SendingGuard::SendingGuard(GuardSettings settings)
    : m_impl(std::make_unique<Impl>(std::move(settings))) {}
SendingGuard::~SendingGuard() = default;

const GuardSettings& SendingGuard::settings() const {
    return m_impl->settings;
}

bool SendingGuard::allowlisted(std::string_view user) const {
    return m_impl->allowlisted(user);
}

SendingGuard::Outcome SendingGuard::record_message(std::string_view user, std::uint32_t recipients,
                                                   std::string_view client_address,
                                                   std::string_view queue_id, TimePoint now,
                                                   std::chrono::system_clock::time_point wall) {
    Impl& d = *m_impl;
    Outcome out;
    const GuardLimits limits = d.limits_for(user);
    if (!d.settings.enabled || (limits.max_messages == 0 && limits.max_recipients == 0) ||
        d.allowlisted(user)) {
        out.exempt = true;
        d.exempt.fetch_add(1, std::memory_order_relaxed);
        return out;
    }
    std::lock_guard lock(d.mutex);
    Entry& e = *d.find_or_add(user, now);
    e.last_seen = now;
    if (now < e.exempt_until) {
        out.exempt = true;
        d.exempt.fetch_add(1, std::memory_order_relaxed);
        return out;
    }
    if (e.held && !d.hold_in_force(e, now)) {
        e.held = false;
        d.held.erase(e.user);
    }
    const auto mb = d.mbucket(now);
    const auto rb = d.rbucket(now);
    // A new episode (both windows empty): the client addresses start afresh.
    if (!e.held && e.messages.empty_at(mb) && e.recipients.empty_at(rb)) e.addresses.clear();
    e.messages.add(mb, 1);
    e.recipients.add(rb, recipients);
    if (!client_address.empty() && e.addresses.size() < kMaxClientAddresses) {
        bool seen = false;
        for (const auto& a : e.addresses) seen = seen || a == client_address;
        if (!seen) e.addresses.emplace_back(client_address);
    }
    out.counts = {e.messages.count(), e.recipients.count()};
    if (e.held) {
        out.hold = true;
        return out;
    }
    const bool over_messages = limits.max_messages > 0 && out.counts.messages > limits.max_messages;
    const bool over_recipients =
        limits.max_recipients > 0 && out.counts.recipients > limits.max_recipients;
    if (!over_messages && !over_recipients) return out;

    e.held = true;
    d.held.insert(e.user);
    e.held_until = d.settings.hold_for.count() > 0 ? now + d.settings.hold_for : TimePoint::max();
    ++d.trips;
    out.hold = true;
    GuardTrip& t = out.trip.emplace();
    t.user = e.user;
    t.exceeded = over_messages ? GuardLimit::Messages : GuardLimit::Recipients;
    t.counts = out.counts;
    t.limits = limits;
    t.message_window = d.settings.message_window;
    t.recipient_window = d.settings.recipient_window;
    t.client_addresses = e.addresses;
    t.queue_id.assign(queue_id.data(), queue_id.size());
    t.at = wall;
    if (d.settings.hold_for.count() > 0)
        t.hold_until = wall + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  d.settings.hold_for);
    return out;
}

bool SendingGuard::is_held(std::string_view user, TimePoint now) {
    Impl& d = *m_impl;
    std::lock_guard lock(d.mutex);
    auto it = d.index.find(user);
    return it != d.index.end() && d.hold_in_force(*it->second, now);
}

bool SendingGuard::clear(std::string_view user, std::chrono::seconds grace, TimePoint now) {
    Impl& d = *m_impl;
    const std::string key = canonical_login(user);
    std::lock_guard lock(d.mutex);
    auto it = d.index.find(std::string_view(key));
    const bool tracked = it != d.index.end();
    if (tracked) d.erase(it->second);
    if (grace.count() > 0) {
        Entry& e = *d.find_or_add(key, now);
        e.last_seen = now;
        e.exempt_until = now + grace;
    }
    return tracked;
}

void SendingGuard::sweep(TimePoint now) {
    Impl& d = *m_impl;
    std::lock_guard lock(d.mutex);
    d.sweep_locked(now);
    // Holds that ran out on users still sending are ended here too, so
    // held_users stays true between requests.
    for (auto it = d.held.begin(); it != d.held.end();) {
        auto e = d.index.find(std::string_view(*it));
        if (e == d.index.end() || !d.hold_in_force(*e->second, now)) {
            if (e != d.index.end()) e->second->held = false;
            it = d.held.erase(it);
        } else {
            ++it;
        }
    }
}

GuardStats SendingGuard::stats() const {
    const Impl& d = *m_impl;
    std::lock_guard lock(d.mutex);
    GuardStats s;
    s.tracked_users = d.index.size();
    s.held_users = d.held.size();
    s.trips = d.trips;
    s.evicted = d.evicted;
    s.exempt = d.exempt.load(std::memory_order_relaxed);
    return s;
}

}  // namespace saslguard::receiver::smtp_policy
