#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::mitigation {

// The mechanisms, each in its own file under mechanisms/.
MechanismSpec login_block_spec();
MechanismSpec queue_hold_spec();
MechanismSpec queue_delete_spec();
MechanismSpec account_lock_spec();
MechanismSpec ip_block_spec();

const Catalog& catalog() {
    // THE LIST. Its order is the order of buttons, of saslguardctl's commands
    // and of the kinds in messages. A new mitigation: its spec here.
    static const Catalog kCatalog({
        login_block_spec(),
        queue_hold_spec(),
        queue_delete_spec(),
        account_lock_spec(),
        ip_block_spec(),
    });
    return kCatalog;
}

Catalog::Catalog(std::vector<MechanismSpec> specs) : m_specs(std::move(specs)) {
    for (const auto& s : m_specs)
        for (const auto& a : s.actions) m_actions.push_back(&a);
}

std::vector<ActionKind> Catalog::forward_kinds() const {
    std::vector<ActionKind> out;
    for (const auto* a : m_actions)
        if (a->forward) out.push_back(a->kind);
    return out;
}

std::vector<std::string_view> Catalog::block_kinds() const {
    std::vector<std::string_view> out;
    for (const auto* a : m_actions)
        if (a->forward && !a->lifts && !a->block_kind.empty()) out.push_back(a->block_kind);
    return out;
}

const ActionDescriptor* Catalog::find(ActionKind kind) const {
    for (const auto* a : m_actions)
        if (a->kind == kind) return a;
    return nullptr;
}

const ActionDescriptor* Catalog::find_verb(std::string_view verb) const {
    for (const auto* a : m_actions)
        if (!verb.empty() && a->cli_verb == verb) return a;
    return nullptr;
}

const ActionDescriptor* Catalog::find_bot_command(std::string_view command) const {
    for (const auto* a : m_actions)
        if (!command.empty() && a->bot_command == command) return a;
    return nullptr;
}

const ActionDescriptor* Catalog::applier_of_block(std::string_view block_kind) const {
    for (const auto* a : m_actions)
        if (a->forward && !a->lifts && a->undo && a->block_kind == block_kind) return a;
    return nullptr;
}

const ActionDescriptor* Catalog::undone_by(ActionKind undo_kind) const {
    for (const auto* a : m_actions)
        if (a->forward && a->undo == undo_kind) return a;
    return nullptr;
}

std::string kinds_text(const std::vector<ActionKind>& kinds) {
    std::string out;
    for (std::size_t i = 0; i < kinds.size(); ++i) {
        if (i > 0) out += ", ";
        out += std::string(to_string(kinds[i]));
    }
    return out;
}

}  // namespace saslguard::receiver::mitigation
