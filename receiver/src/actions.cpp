#include "saslguard/receiver/actions.hpp"

#include "saslguard/receiver/incident.hpp"

#include <mutex>
#include <ostream>
#include <set>
#include <string>

namespace saslguard::receiver {

std::ostream& operator<<(std::ostream& os, ActionKind kind) {
    return os << kind.name();
}

std::optional<ActionKind> action_kind_from_string(std::string_view name) {
    if (name.empty() || name.size() > 32) return std::nullopt;
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || c == '_')) return std::nullopt;
    // Names read back are interned once, so every ActionKind views static storage.
    static std::mutex mutex;
    static std::set<std::string, std::less<>> names;
    std::lock_guard lock(mutex);
    auto it = names.find(name);
    if (it == names.end()) it = names.emplace(name).first;
    return ActionKind(std::string_view(*it));
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
