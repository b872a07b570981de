#pragma once
// Who may hold one of the webhook listener's connections (docs/SECURITY.md,
// "Slow connections"). Each connection holds a thread of the listener while it
// is open, so an attacker who opens many and sends slowly would leave none for
// Alertmanager. The gate admits at most `max_connections` at once, and at most
// `max_per_client` from one address; when a limit is reached, a new connection
// takes the place of the one that has been waiting longest on its client
// (inside a request or idle between requests; at least `evict_after`): that one
// is cut (shutdown), the new one admitted. A connection being answered is never
// cut, nor one whose request carries the webhook's bearer token (trust()), and
// a real webhook waits on its client for microseconds before that (its bytes
// are there when it is admitted), so it is never the one cut while a slow
// client is. When no connection can make room (all are being answered), the
// new one is refused.
//
// Thread-safe. The cut happens under the gate's lock, before the owner of the
// connection releases it and closes the socket, so it never reaches another file.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace saslguard::receiver {

struct ConnectionLimits {
    std::size_t max_connections = 64;          // admitted at once, all clients
    std::size_t max_per_client = 16;           // admitted at once from one address
    std::chrono::milliseconds evict_after{0};  // waiting this long: may make room
};

class ConnectionGate {
public:
    using Clock = std::chrono::steady_clock;
    // How a connection is cut: shutdown(2) of its socket (tests record instead).
    using Cut = std::function<void(int fd)>;

    explicit ConnectionGate(ConnectionLimits limits, Cut cut = {});

    // Admits a connection from `client` on socket `fd`, cutting one that waits
    // too long when a limit is reached; 0 when refused, else its id.
    std::uint64_t admit(const std::string& client, int fd, Clock::time_point now);
    // A request starts (its first byte arrived): the clock of the connection restarts.
    void request_started(std::uint64_t id, Clock::time_point now);
    // Between requests (waiting for the next one): the clock restarts, waiting.
    void idle(std::uint64_t id, Clock::time_point now);
    // Around a wait for the client's bytes inside a request.
    void waiting(std::uint64_t id, bool on);
    // The current request proved itself (the webhook's bearer token, read with
    // its headers): never cut until it ends, however slowly its body comes.
    void trust(std::uint64_t id);
    void release(std::uint64_t id);

    std::size_t size() const;  // admitted and not released (cut ones included)
    std::uint64_t refused() const;
    std::uint64_t evicted() const;

private:
    struct Slot {
        std::string client;
        int fd = -1;
        Clock::time_point since;
        bool waiting = true;
        bool trusted = false;
        bool cut = false;
    };
    // The slot that has waited longest, at least evict_after, among those of
    // `client` (empty: all); end() when none.
    std::map<std::uint64_t, Slot>::iterator victim(const std::string& client,
                                                   Clock::time_point now);

    ConnectionLimits m_limits;
    Cut m_cut;
    mutable std::mutex m_mutex;
    std::map<std::uint64_t, Slot> m_slots;
    std::map<std::string, std::size_t> m_per_client;  // slots not cut, by client
    std::size_t m_live = 0;                           // slots not cut
    std::uint64_t m_next_id = 1;
    std::uint64_t m_refused = 0;
    std::uint64_t m_evicted = 0;
};

}  // namespace saslguard::receiver
