// lock_account / unlock_account: the SASL backend stops (or resumes)
// authenticating the account (sasl_backend.hpp: sasldb, saslauthd_shadow, command).
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/mitigation/sasl_backend.hpp"

namespace saslguard::receiver::mitigation {
namespace {

constexpr const char* kNoBackend =
    "mitigation.sasl_backend is none: cannot lock or unlock accounts";

class AccountLock final : public Mechanism {
public:
    AccountLock(const MechanismDeps& d, std::unique_ptr<SaslBackend> backend)
        : m_settings(d.settings), m_in_force(d.in_force), m_backend(std::move(backend)) {}

    Result<Effect> apply(const ActionDescriptor& action, const ActionTarget& t) override {
        if (!m_backend) return make_error(kNoBackend);
        const bool ours = m_in_force(action.block_kind, t.username);
        auto r = m_backend->lock(t.username);
        if (!r) return r.error();
        Effect e = done(*r, t.username);
        // An account someone else had locked is not ours to unlock on expiry.
        if (r->changed || ours) e.in_force = {t.username};
        return e;
    }

    Result<Effect> revert(const ActionDescriptor&, const ActionTarget& t) override {
        if (!m_backend) return make_error(kNoBackend);
        auto r = m_backend->unlock(t.username);
        if (!r) return r.error();
        Effect e = done(*r, t.username);
        e.lifted = {t.username};
        return e;
    }

    Result<Effect> dry_run(const ActionDescriptor& action, const ActionTarget& t) override {
        if (!m_backend) return make_error(kNoBackend);
        auto d = m_backend->describe(t.username, action.forward);
        if (!d) return d.error();
        Effect e;
        e.summary = *d;
        return e;
    }

    std::string describe() const override {
        std::string what = "the SASL backend: " + std::string(to_string(m_settings.sasl_backend));
        if (m_settings.sasl_backend == SaslBackendKind::Sasldb)
            what += " " + m_settings.sasldb_path;
        return what;
    }

private:
    static Effect done(const BackendChange& r, const std::string& user) {
        Effect e;
        e.summary = r.summary;
        if (r.changed) e.affected = {user};
        return e;
    }

    const MitigationSettings& m_settings;
    std::function<bool(std::string_view, const std::string&)> m_in_force;
    std::unique_ptr<SaslBackend> m_backend;  // null: sasl_backend none
};

}  // namespace

MechanismSpec account_lock_spec() {
    ActionDescriptor lock;
    lock.kind = ActionKind::LockAccount;
    lock.undo = ActionKind::UnlockAccount;
    lock.label = "🔒 Lock account";
    lock.cli_verb = "lock-account";
    lock.help = "stop USER authenticating in the SASL backend";
    lock.confirm = true;  // hard to take back for a real user: asks first
    lock.block_kind = "account";
    lock.mechanism = "account_lock";

    ActionDescriptor unlock = lock;
    unlock.kind = ActionKind::UnlockAccount;
    unlock.undo.reset();
    unlock.forward = false;
    unlock.label = "↩ Unlock account";
    unlock.cli_verb = "unlock-account";
    unlock.help = "";
    unlock.confirm = false;
    unlock.automatic = Automatic::Never;
    unlock.lifts = true;

    return {
        "account_lock", {lock, unlock}, [](const MechanismDeps& d) -> std::unique_ptr<Mechanism> {
            auto backend = make_sasl_backend(d.settings, d.runner);
            // validate(settings) ran before: the only failure left is none at all.
            return std::make_unique<AccountLock>(
                d, backend ? std::move(*backend) : std::unique_ptr<SaslBackend>{});
        }};
}

}  // namespace saslguard::receiver::mitigation
