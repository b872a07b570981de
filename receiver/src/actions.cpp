#include "saslguard/receiver/actions.hpp"

#include "saslguard/receiver/incident.hpp"

#include <array>
#include <utility>

namespace saslguard::receiver {
namespace {

// One table for both directions so a name can never drift from its kind.
constexpr std::array<std::pair<ActionKind, std::string_view>, 9> kNames{{
    {ActionKind::BlockLogin, "block_login"},
    {ActionKind::UnblockLogin, "unblock_login"},
    {ActionKind::HoldMail, "hold_mail"},
    {ActionKind::ReleaseMail, "release_mail"},
    {ActionKind::DeleteMail, "delete_mail"},
    {ActionKind::LockAccount, "lock_account"},
    {ActionKind::UnlockAccount, "unlock_account"},
    {ActionKind::BlockIps, "block_ips"},
    {ActionKind::UnblockIps, "unblock_ips"},
}};

}  // namespace

std::string_view to_string(ActionKind kind) {
    for (const auto& [k, name] : kNames)
        if (k == kind) return name;
    return "unknown";
}

std::optional<ActionKind> action_kind_from_string(std::string_view name) {
    for (const auto& [k, n] : kNames)
        if (n == name) return k;
    return std::nullopt;
}

std::optional<ActionKind> inverse(ActionKind kind) {
    switch (kind) {
        case ActionKind::BlockLogin:
            return ActionKind::UnblockLogin;
        case ActionKind::UnblockLogin:
            return ActionKind::BlockLogin;
        case ActionKind::HoldMail:
            return ActionKind::ReleaseMail;
        case ActionKind::ReleaseMail:
            return ActionKind::HoldMail;
        case ActionKind::DeleteMail:
            return std::nullopt;  // deleted mail cannot come back
        case ActionKind::LockAccount:
            return ActionKind::UnlockAccount;
        case ActionKind::UnlockAccount:
            return ActionKind::LockAccount;
        case ActionKind::BlockIps:
            return ActionKind::UnblockIps;
        case ActionKind::UnblockIps:
            return ActionKind::BlockIps;
    }
    return std::nullopt;
}

bool is_destructive(ActionKind kind) {
    return kind == ActionKind::DeleteMail;
}

std::string_view to_string(Mode mode) {
    switch (mode) {
        case Mode::Notify:
            return "notify";
        case Mode::Confirm:
            return "confirm";
        case Mode::Auto:
            return "auto";
    }
    return "notify";
}

std::optional<Mode> mode_from_string(std::string_view name) {
    if (name == "notify") return Mode::Notify;
    if (name == "confirm") return Mode::Confirm;
    if (name == "auto") return Mode::Auto;
    return std::nullopt;
}

}  // namespace saslguard::receiver
