#pragma once
// The contract between who decides (policy worker, Telegram callbacks,
// saslguardctl) and who acts (mitigation on Postfix and the SASL backend).
// Deciders build an ActionRequest; an ActionExecutor validates, applies or
// reverts, records it in the action log, and returns an ActionOutcome.
// Executors never throw.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saslguard::receiver {

// An action kind, named by its stable wire name ("block_login"): what the
// action log, the decisions, the Telegram buttons and the metrics carry. What
// each kind does, its undo, its label, CLI verb and bot command is described
// once, in the mitigation catalog (mitigation/catalog.hpp); this is only the
// name. Cheap to copy; compares by name.
class ActionKind {
public:
    constexpr ActionKind() = default;
    // From a string literal (static storage); any other name goes through
    // action_kind_from_string().
    constexpr explicit ActionKind(std::string_view literal) : m_name(literal) {}
    constexpr std::string_view name() const { return m_name; }
    constexpr bool empty() const { return m_name.empty(); }
    friend constexpr bool operator==(ActionKind a, ActionKind b) { return a.m_name == b.m_name; }
    friend constexpr bool operator<(ActionKind a, ActionKind b) { return a.m_name < b.m_name; }

    // The kinds saslguard ships, for code and tests that name one.
    static const ActionKind BlockLogin, UnblockLogin, HoldMail, ReleaseMail, DeleteMail,
        LockAccount, UnlockAccount, BlockIps, UnblockIps;

private:
    std::string_view m_name;
};

inline constexpr ActionKind ActionKind::BlockLogin{"block_login"};
inline constexpr ActionKind ActionKind::UnblockLogin{"unblock_login"};
inline constexpr ActionKind ActionKind::HoldMail{"hold_mail"};
inline constexpr ActionKind ActionKind::ReleaseMail{"release_mail"};
inline constexpr ActionKind ActionKind::DeleteMail{"delete_mail"};
inline constexpr ActionKind ActionKind::LockAccount{"lock_account"};
inline constexpr ActionKind ActionKind::UnlockAccount{"unlock_account"};
inline constexpr ActionKind ActionKind::BlockIps{"block_ips"};
inline constexpr ActionKind ActionKind::UnblockIps{"unblock_ips"};

inline std::string_view to_string(ActionKind kind) {
    return kind.name();
}
std::ostream& operator<<(std::ostream& os, ActionKind kind);

// A kind from a name read back (the store, a callback row, the YAML): 1..32
// bytes of [a-z_]; nullopt otherwise. Whether the catalog knows it is the
// catalog's question (mitigation::catalog().find()).
std::optional<ActionKind> action_kind_from_string(std::string_view name);

struct ActionRequest {
    ActionKind kind{};
    std::string username;  // SASL login name (attacker-controlled: validated by the executor)
    std::vector<std::string> ips;  // for BlockIps/UnblockIps (validated, bounded by config)
    std::vector<std::string>
        senders;                   // envelope senders whose queued mail Hold/Release/Delete act on
    std::int64_t incident_id = 0;  // 0 when not tied to an incident (e.g. saslguardctl)
    std::string actor;             // "auto", "telegram:<user id>", "cli:<unix user>"
    std::string reason;            // why, for the audit trail
    bool dry_run = false;          // validate and describe, change nothing
    std::optional<std::chrono::seconds> expires_after;  // revert automatically after this long
    // The row of the action log this request executes (the worker plans its
    // automatic actions before running them); 0: the executor records a new row.
    std::int64_t action_id = 0;
};

struct ActionOutcome {
    bool ok = false;
    std::int64_t action_id = 0;  // audit record id (0 when not recorded)
    std::string
        summary;  // one human line: "blocked login alice@example.com", "would hold 12 messages"
    std::string error;                  // when !ok: what failed, with exit status and stderr
    std::vector<std::string> affected;  // queue ids, IPs, … that were changed
};

class ActionExecutor {
public:
    virtual ~ActionExecutor() = default;
    virtual ActionOutcome execute(const ActionRequest& request) = 0;
};

}  // namespace saslguard::receiver
