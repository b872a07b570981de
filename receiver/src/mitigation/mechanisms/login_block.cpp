// block_login / unblock_login: the SASL login in saslguard's check_sasl_access map.
#include "map_usage.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::mitigation {
namespace {

class LoginBlock final : public Mechanism {
public:
    explicit LoginBlock(const MechanismDeps& d)
        : m_settings(d.settings),
          m_map(d.settings.sasl_access_map, d.settings.map_type, d.settings.postfix_config_dir,
                d.settings.program("postmap"), d.runner, d.settings.command_timeout, login_keys()),
          m_usage(d.settings, d.runner) {}

    Result<Effect> apply(const ActionDescriptor&, const ActionTarget& t) override {
        const std::string& user = t.username;
        auto u = m_map.update({{user, m_settings.reject_text}}, {});
        if (!u) return u.error();
        Effect e = changed(*u, user);
        e.in_force = {user};  // also when it was already there: the expiry is refreshed
        e.summary =
            (u->changed() ? "blocked login " + user : "login " + user + " was already blocked") +
            m_usage.warning(m_map);
        return e;
    }

    Result<Effect> revert(const ActionDescriptor&, const ActionTarget& t) override {
        const std::string& user = t.username;
        auto u = m_map.update({}, {user});
        if (!u) return u.error();
        Effect e = changed(*u, user);
        e.lifted = {user};
        e.summary = u->changed() ? "unblocked login " + user : "login " + user + " was not blocked";
        return e;
    }

    Result<Effect> dry_run(const ActionDescriptor& action, const ActionTarget& t) override {
        const std::string& user = t.username;
        const bool block = action.forward;
        auto u =
            block ? m_map.preview({{user, m_settings.reject_text}}, {}) : m_map.preview({}, {user});
        if (!u) return u.error();
        Effect e = changed(*u, user);
        if (block)
            e.summary = u->changed() ? "would block login " + user
                                     : "login " + user + " is already blocked";
        else
            e.summary =
                u->changed() ? "would unblock login " + user : "login " + user + " is not blocked";
        return e;
    }

    std::string describe() const override {
        return m_map.table_name() + " (check_sasl_access), postmap";
    }

private:
    static Effect changed(const MapUpdate& u, const std::string& user) {
        Effect e;
        if (u.changed()) e.affected = {user};
        return e;
    }

    const MitigationSettings& m_settings;
    AccessMap m_map;
    MapUsage m_usage;
};

}  // namespace

MechanismSpec login_block_spec() {
    ActionDescriptor block;
    block.kind = ActionKind::BlockLogin;
    block.undo = ActionKind::UnblockLogin;
    block.label = "🚫 Block login";
    block.cli_verb = "block-login";
    block.help = "reject USER's SASL logins (check_sasl_access map)";
    block.bot_command = "/block";
    block.bot_help = "reject the SASL login";
    block.block_kind = "login";
    block.mechanism = "login_block";

    ActionDescriptor unblock = block;
    unblock.kind = ActionKind::UnblockLogin;
    unblock.undo.reset();
    unblock.forward = false;
    unblock.label = "↩ Undo block login";
    unblock.cli_verb = "unblock-login";
    unblock.help = "";
    unblock.bot_command = "/unblock";
    unblock.bot_help = "lift it";
    unblock.automatic = Automatic::Never;
    unblock.lifts = true;

    return {"login_block", {block, unblock}, [](const MechanismDeps& d) {
                return std::make_unique<LoginBlock>(d);
            }};
}

}  // namespace saslguard::receiver::mitigation
