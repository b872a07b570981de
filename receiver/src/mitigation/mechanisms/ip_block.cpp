// block_ips / unblock_ips: client addresses in saslguard's check_client_access map.
#include "map_usage.hpp"
#include "saslguard/common/format.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"

namespace saslguard::receiver::mitigation {
namespace {

class IpBlock final : public Mechanism {
public:
    explicit IpBlock(const MechanismDeps& d)
        : m_settings(d.settings),
          m_map(d.settings.client_access_map, d.settings.map_type, d.settings.postfix_config_dir,
                d.settings.program("postmap"), d.runner, d.settings.command_timeout, ip_keys()),
          m_usage(d.settings, d.runner) {}

    Result<Effect> apply(const ActionDescriptor&, const ActionTarget& t) override {
        return run(t, true, false);
    }
    Result<Effect> revert(const ActionDescriptor&, const ActionTarget& t) override {
        return run(t, false, false);
    }
    Result<Effect> dry_run(const ActionDescriptor& action, const ActionTarget& t) override {
        return run(t, action.forward, true);
    }

    std::string describe() const override {
        return m_map.table_name() + " (check_client_access), postmap";
    }

private:
    Result<Effect> run(const ActionTarget& t, bool block, bool dry) {
        MapEntries put;
        std::vector<std::string> erase;
        for (const auto& ip : t.ips) {
            if (block)
                put[ip] = m_settings.ip_reject_text;
            else
                erase.push_back(ip);
        }
        auto u = dry ? m_map.preview(put, erase) : m_map.update(put, erase);
        if (!u) return u.error();
        Effect e;
        e.affected = block ? u->added : u->removed;
        (block ? e.in_force : e.lifted) = t.ips;  // IPs of one action are lifted together
        std::string verb =
            block ? (dry ? "would block " : "blocked ") : (dry ? "would unblock " : "unblocked ");
        e.summary = verb + format::counted(e.affected.size(), "client IP");
        if (e.affected.size() < t.ips.size())
            e.summary += " (" + std::to_string(t.ips.size() - e.affected.size()) +
                         (block ? " already blocked)" : " not blocked)");
        if (block && !dry) e.summary += m_usage.warning(m_map);
        return e;
    }

    const MitigationSettings& m_settings;
    AccessMap m_map;
    MapUsage m_usage;
};

}  // namespace

MechanismSpec ip_block_spec() {
    ActionDescriptor block;
    block.kind = ActionKind::BlockIps;
    block.undo = ActionKind::UnblockIps;
    block.label = "⛔ Block IPs";
    block.cli_verb = "block-ips";
    block.help = "reject client IPs (check_client_access map)";
    block.target = TargetKind::Ips;
    block.block_kind = "ip";
    block.mechanism = "ip_block";
    // One press could cut off a whole network's submission: Telegram asks first,
    // and the confirming button names every address (issue #15).
    block.confirm = true;

    ActionDescriptor unblock = block;
    unblock.kind = ActionKind::UnblockIps;
    unblock.undo.reset();
    unblock.forward = false;
    unblock.confirm = false;
    unblock.label = "↩ Unblock IPs";
    unblock.cli_verb = "unblock-ips";
    unblock.help = "";
    unblock.automatic = Automatic::Never;
    unblock.lifts = true;

    return {"ip_block", {block, unblock}, [](const MechanismDeps& d) {
                return std::make_unique<IpBlock>(d);
            }};
}

}  // namespace saslguard::receiver::mitigation
