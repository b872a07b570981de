#pragma once
// The sending guard: per SASL user, sliding-window counts of messages and
// recipients, in memory only. Once a user goes over a limit the guard "trips":
// that message and the user's further messages are answered HOLD (Postfix's hold
// queue: neither delivered nor lost) for GuardSettings::hold_for or until the
// receiver clears the user (admin released the mail or blocked the login).
//
// Windows: time is cut into buckets of window/kBuckets; a count is the sum of
// the kBuckets + 1 newest buckets, so it covers the whole window plus at most one
// bucket more: a trip is never late, at most window/20 early (3 s of a minute).
// Cost: one hash lookup and at most kBuckets + 1 bucket clears per request, O(1).
//
// Memory: at most max_tracked_users entries of about 460 bytes (bench/policy
// prints the measured figure). A user with nothing left in either window and no
// hold is forgotten on the next request or sweep(); at the cap, the least
// recently seen user is dropped (LRU), held or not: memory wins over one
// user's history, and the trip event has already gone out.
//
// Thread safety: every member may be called from any thread; one mutex,
// held for a lookup and a few additions. The policy service calls it from its
// own thread; the receiver calls clear() from its workers.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/receiver/smtp_policy/settings.hpp"

namespace saslguard::receiver::smtp_policy {

struct GuardCounts {
    std::uint32_t messages = 0;    // in the message window
    std::uint32_t recipients = 0;  // in the recipient window
};

enum class GuardLimit : std::uint8_t { Messages, Recipients };
std::string_view to_string(GuardLimit l);  // "messages", "recipients"

// One trip: what the receiver needs to open (or join) an incident and tell the
// admins. Sent once per trip; a user who is still over the limit when hold_for
// runs out trips again (a new event, which the receiver joins to the open incident).
struct GuardTrip {
    std::string user;  // canonical login
    GuardLimit exceeded = GuardLimit::Messages;
    GuardCounts counts;  // including the message that tripped
    GuardLimits limits;  // the limits that applied (per-user override or default)
    std::chrono::seconds message_window{0};
    std::chrono::seconds recipient_window{0};
    // The first distinct client addresses the user sent from in this episode
    // (since the windows were last empty), at most kMaxClientAddresses.
    std::vector<std::string> client_addresses;
    std::string queue_id;  // of the message that tripped (held), may be empty
    std::chrono::system_clock::time_point at;
    // When the hold ends on its own (hold_for after the trip); nullopt: never.
    std::optional<std::chrono::system_clock::time_point> hold_until;
};

// A message answered HOLD at END-OF-MESSAGE (queue id known): lets the receiver
// list, release or delete exactly the held mail of an incident.
struct HeldMessage {
    std::string user;
    std::string queue_id;
    std::string client_address;
    std::chrono::system_clock::time_point at;
};

// Implemented by the receiver. Called on the policy service's thread, after the
// guard's lock is released, before the answer goes to Postfix: implementations
// must only record and hand off (push to a queue, notify a condition
// variable), never wait on the database, Telegram or a lock a slow thread holds.
// Must not throw.
class GuardEvents {
public:
    virtual ~GuardEvents() = default;
    virtual void tripped(const GuardTrip& trip) = 0;
    virtual void held(const HeldMessage& message) { (void)message; }
};

struct GuardStats {
    std::size_t tracked_users = 0;
    std::size_t held_users = 0;  // users whose hold is in force
    std::uint64_t trips = 0;     // since start
    std::uint64_t evicted = 0;   // users dropped at the cap (idle ones forgotten are not counted)
    std::uint64_t exempt = 0;    // messages not counted: allowlisted or limits 0/0
};

class SendingGuard {
public:
    using TimePoint = std::chrono::steady_clock::time_point;
    static constexpr std::size_t kBuckets = 20;
    static constexpr std::size_t kMaxClientAddresses = 4;

    explicit SendingGuard(GuardSettings settings);
    ~SendingGuard();
    SendingGuard(const SendingGuard&) = delete;
    SendingGuard& operator=(const SendingGuard&) = delete;

    struct Outcome {
        bool hold = false;    // answer HOLD for this message
        bool exempt = false;  // allowlisted / unlimited: not counted
        GuardCounts counts;
        std::optional<GuardTrip> trip;  // set once, on the message that trips
    };

    // END-OF-MESSAGE: counts one message of `recipients` recipients for `user`
    // (canonical login) and says whether to hold it. `wall` stamps a trip.
    Outcome record_message(std::string_view user, std::uint32_t recipients,
                           std::string_view client_address, std::string_view queue_id,
                           TimePoint now, std::chrono::system_clock::time_point wall);

    // Any other state (RCPT): is this user's mail being held now? Counts nothing.
    bool is_held(std::string_view user, TimePoint now);

    // Forgets the user's counts and hold (admin released the mail or blocked
    // the login). With a grace period the user is also exempt for that long, so
    // released bulk mail does not trip again at once. Returns whether the user
    // was tracked.
    bool clear(std::string_view user, std::chrono::seconds grace = std::chrono::seconds{0},
               TimePoint now = std::chrono::steady_clock::now());

    // Forgets idle users; the service calls it about once a second.
    void sweep(TimePoint now);

    // Allowlisted user or domain (settings), canonical login.
    bool allowlisted(std::string_view user) const;

    GuardStats stats() const;
    const GuardSettings& settings() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver::smtp_policy
