#pragma once
// The SMTP policy service's view of what is blocked, fed from ActiveBlocks (the
// one view of what is in force): filled at construction, then told of every
// change — the Mitigator's own (a Telegram button, auto mode, /block, expiry),
// synchronously, before Mitigator::execute returns; another process's
// (saslguardctl) when ActiveBlocks' watch re-reads the table (every 2 s).
//
// Logins come from the "login" blocks (check_sasl_access) and the "account"
// ones (a locked SASL account: its sessions opened before the lock are
// refused too); client IPs from the "ip" blocks (check_client_access). Both in
// the canonical forms the policy service asks in (BlockSet canonicalises).
//
// Each change rebuilds the set from ActiveBlocks' snapshot (hundreds of rows:
// microseconds), one rebuild at a time, so concurrent changes from several
// threads can never leave an older snapshot in force. The policy thread reads
// BlockSet's immutable snapshot: it never waits for a rebuild.
#include <cstdint>
#include <memory>
#include <string_view>

#include "saslguard/receiver/mitigation/active_blocks.hpp"
#include "saslguard/receiver/smtp_policy/block_view.hpp"

namespace saslguard::receiver::containment {

class ActiveBlocksView final : public smtp_policy::BlockView {
public:
    // `blocks` must outlive this object.
    explicit ActiveBlocksView(mitigation::ActiveBlocks& blocks);
    ~ActiveBlocksView() override;  // unsubscribes
    ActiveBlocksView(const ActiveBlocksView&) = delete;
    ActiveBlocksView& operator=(const ActiveBlocksView&) = delete;

    bool login_blocked(std::string_view canonical_login) const override;
    bool client_blocked(std::string_view canonical_ip) const override;

    std::uint64_t rebuilds() const;  // including the first
    std::size_t login_count() const;
    std::size_t client_count() const;

private:
    struct State;
    // Shared with the listener, which may still run on another thread while
    // this object goes away.
    std::shared_ptr<State> m_state;
    mitigation::ActiveBlocks& m_blocks;
    std::size_t m_subscription = 0;
};

}  // namespace saslguard::receiver::containment
