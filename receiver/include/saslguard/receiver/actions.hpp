#pragma once
// The contract between who decides (policy worker, Telegram callbacks,
// saslguardctl) and who acts (mitigation on Postfix and the SASL backend).
// Deciders build an ActionRequest; an ActionExecutor validates, applies or
// reverts, audits, and returns an ActionOutcome. Executors never throw.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace saslguard::receiver {

enum class ActionKind {
    BlockLogin,  // check_sasl_access map: REJECT the SASL login name
    UnblockLogin,
    HoldMail,     // postsuper -h for the user's queued messages
    ReleaseMail,  // postsuper -H
    DeleteMail,   // postsuper -d (destructive: confirm; never automatic unless configured)
    LockAccount,  // SASL backend: stop the account authenticating
    UnlockAccount,
    BlockIps,  // check_client_access map: REJECT the client IPs
    UnblockIps,
};

// Stable wire/storage names: "block_login", "unblock_login", "hold_mail", "release_mail",
// "delete_mail", "lock_account", "unlock_account", "block_ips", "unblock_ips".
std::string_view to_string(ActionKind kind);
std::optional<ActionKind> action_kind_from_string(std::string_view name);
// The kind that undoes `kind` (BlockLogin → UnblockLogin, …); DeleteMail has none.
std::optional<ActionKind> inverse(ActionKind kind);
bool is_destructive(ActionKind kind);  // DeleteMail

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
