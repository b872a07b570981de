#pragma once
// The catalog of mitigations: one descriptor per action kind, and the
// mechanism that carries it out. Everything else that needs to know about a
// kind reads it here: the executor (what to run, which block it puts in force
// or lifts, whether it may expire or run automatically), the configuration
// (which kinds policy.auto_actions may name), the policy (expiry), the
// Telegram bot (buttons, labels, confirmations, Undo, commands), saslguardctl
// (verbs and help) and the metrics (label values).
//
// ADDING A MITIGATION: write one file under receiver/src/mitigation/mechanisms/
// with its descriptors and its Mechanism class, and add its spec to the list in
// catalog.cpp (and the file to receiver/CMakeLists.txt).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/mitigation/mechanism.hpp"

namespace saslguard::receiver::mitigation {

// What a kind acts on: the login (username) or client IPs.
enum class TargetKind { Login, Ips };

// Whether the automatic policy may run a kind (policy.auto_actions).
enum class Automatic {
    Allowed,
    OptIn,  // only with policy.allow_auto_delete: true (delete_mail)
    Never,  // the undo kinds
};

struct ActionDescriptor {
    ActionKind kind;                 // the wire name: "block_login"
    std::optional<ActionKind> undo;  // the kind that reverts it; none: it cannot be undone
    bool forward = true;             // applies a mitigation; false: the undo of one
    std::string_view label;          // the Telegram button: "🚫 Block login"
    std::string_view cli_verb;       // saslguardctl: "block-login"
    std::string_view help;           // saslguardctl --help: "reject USER's SASL logins (…)"
    std::string_view bot_command;    // "/block"; "" = no bot command
    std::string_view bot_help;       // the /help line: "reject the SASL login"
    TargetKind target = TargetKind::Login;
    bool uses_senders = false;  // acts on mail by envelope sender too (the queue kinds)
    bool confirm = false;       // Telegram asks "are you sure" with a second button first
    Automatic automatic = Automatic::Allowed;
    std::string_view block_kind;  // the block it puts in force or lifts: login|ip|hold|account
    bool lifts = false;           // lifts block_kind (undo kinds; delete_mail lifts "hold")
    std::string_view mechanism;   // the Mechanism that runs it

    bool destructive() const { return forward && !undo; }  // cannot be undone
};

// A mechanism as the catalog lists it: its name, the kinds it carries out and
// how to build it.
struct MechanismSpec {
    std::string_view name;
    std::vector<ActionDescriptor> actions;
    std::function<std::unique_ptr<Mechanism>(const MechanismDeps&)> make;
};

class Catalog {
public:
    explicit Catalog(std::vector<MechanismSpec> specs);
    Catalog(const Catalog&) = delete;  // actions() points into the specs
    Catalog& operator=(const Catalog&) = delete;

    const std::vector<MechanismSpec>& mechanisms() const { return m_specs; }
    // Every descriptor, in catalog order (each mechanism's, in the list's order).
    const std::vector<const ActionDescriptor*>& actions() const { return m_actions; }
    // The kinds that apply a mitigation, in catalog order.
    std::vector<ActionKind> forward_kinds() const;
    // The block kinds (login, hold, account, ip), in catalog order.
    std::vector<std::string_view> block_kinds() const;

    const ActionDescriptor* find(ActionKind kind) const;
    const ActionDescriptor* find_verb(std::string_view cli_verb) const;
    const ActionDescriptor* find_bot_command(std::string_view command) const;
    // The forward kind a block of `block_kind` comes from ("login" → block_login).
    const ActionDescriptor* applier_of_block(std::string_view block_kind) const;
    // The forward kind `undo_kind` reverts (unblock_login → block_login).
    const ActionDescriptor* undone_by(ActionKind undo_kind) const;

private:
    std::vector<MechanismSpec> m_specs;
    std::vector<const ActionDescriptor*> m_actions;
};

// The catalog of the mitigations saslguard ships (catalog.cpp).
const Catalog& catalog();

// Kinds as "a, b, c" for messages.
std::string kinds_text(const std::vector<ActionKind>& kinds);

}  // namespace saslguard::receiver::mitigation
