// hold_mail / release_mail and delete_mail: the user's queued messages, found
// by the SASL login recorded in each queue file (never by an envelope sender
// another user could use too), acted on with postsuper (queue.hpp).
#include "saslguard/common/format.hpp"
#include "saslguard/receiver/mitigation/catalog.hpp"
#include "saslguard/receiver/mitigation/queue.hpp"

namespace saslguard::receiver::mitigation {
namespace {

// What holding, releasing and deleting share: finding the user's messages.
class QueueMail : public Mechanism {
public:
    explicit QueueMail(const MechanismDeps& d)
        : m_settings(d.settings),
          m_runner(d.runner),
          m_queue(d.runner, d.queue_source, d.settings.program("postsuper"),
                  d.settings.program("postcat"), d.settings.postfix_config_dir,
                  d.settings.command_timeout) {}

    std::string describe() const override {
        return "the Postfix queue of " + m_settings.postfix_config_dir +
               " (showq or postqueue -j, postcat, postsuper)";
    }

    // One of the three postsuper operations and how its outcome reads.
    struct Step {
        PostfixQueue::Scope scope;
        PostfixQueue::Op op;
        const char* done;   // "held"
        const char* would;  // "would hold"
    };

protected:
    // Finds the messages, refuses a runaway match, and acts unless `dry`.
    Result<Effect> run(const ActionTarget& t, const Step& step, bool dry) {
        // The user's own messages: those whose queue file records its SASL login
        // (queue.hpp); named senders add only messages that record no login.
        PostfixQueue::Match match;
        match.sasl_login = t.username;  // canonical (the Mitigator's)
        match.senders = t.senders;
        auto ids = m_queue.find(match, step.scope);
        if (!ids) return make_error("reading the queue: " + ids.error().message);
        if (ids->size() > m_settings.max_queue_ids)
            return make_error("refusing: " + format::counted(ids->size(), "message") +
                              " matched, more than max_queue_ids " +
                              std::to_string(m_settings.max_queue_ids));
        Effect e;
        e.affected = *ids;
        const std::string what =
            format::counted(ids->size(), "queued message") + " of " + t.username;
        if (dry) {
            e.summary = std::string(step.would) + " " + what;
            return e;
        }
        if (auto r = m_queue.apply(step.op, *ids); !r) return r.error();
        e.summary = std::string(step.done) + " " + what;
        return e;
    }

    // postsuper -H moves released mail to the deferred queue, where it would
    // wait for the next queue run (queue_run_delay, 300 s by default): ask for
    // its delivery now (postqueue -i per message; -f, the whole queue, for
    // more than a few). A failure here loses nothing: it says so and the
    // queue run delivers it later.
    void deliver_now(Effect& e) {
        if (e.affected.empty()) return;
        const std::string bin = m_settings.program("postqueue");
        std::vector<std::vector<std::string>> calls;
        if (e.affected.size() <= kDeliverEach)
            for (const auto& id : e.affected)
                calls.push_back({bin, "-c", m_settings.postfix_config_dir, "-i", id});
        else
            calls.push_back({bin, "-c", m_settings.postfix_config_dir, "-f"});
        ProcessOptions opt;
        opt.timeout = m_settings.command_timeout;
        for (const auto& argv : calls)
            if (auto r = m_runner.run(argv, opt); !r.success()) {
                e.summary +=
                    " (delivery at the next queue run: " + argv[0] + " " + argv[3] + " failed)";
                return;
            }
    }

    static constexpr std::size_t kDeliverEach = 20;
    const MitigationSettings& m_settings;
    CommandRunner& m_runner;
    PostfixQueue m_queue;
};

const QueueMail::Step kHold{PostfixQueue::Scope::NotHeld, PostfixQueue::Op::Hold, "held",
                            "would hold"};
const QueueMail::Step kRelease{PostfixQueue::Scope::Held, PostfixQueue::Op::Release, "released",
                               "would release"};
const QueueMail::Step kDelete{PostfixQueue::Scope::Any, PostfixQueue::Op::Delete, "deleted",
                              "would delete"};

// hold_mail puts the user's mail on hold (a "hold" block while any is held);
// release_mail takes every held message of the user off hold.
class QueueHold final : public QueueMail {
public:
    using QueueMail::QueueMail;
    Result<Effect> apply(const ActionDescriptor&, const ActionTarget& t) override {
        auto e = run(t, kHold, false);
        if (e && !e->affected.empty()) e->in_force = {t.username};
        return e;
    }
    Result<Effect> revert(const ActionDescriptor&, const ActionTarget& t) override {
        auto e = run(t, kRelease, false);
        if (e) {
            e->lifted = {t.username};
            deliver_now(*e);
        }
        return e;
    }
    Result<Effect> dry_run(const ActionDescriptor& action, const ActionTarget& t) override {
        return run(t, action.forward ? kHold : kRelease, true);
    }
};

// delete_mail: gone for good (no undo); whatever was held is no longer held.
class QueueDelete final : public QueueMail {
public:
    using QueueMail::QueueMail;
    Result<Effect> apply(const ActionDescriptor&, const ActionTarget& t) override {
        auto e = run(t, kDelete, false);
        if (e) e->lifted = {t.username};
        return e;
    }
    Result<Effect> revert(const ActionDescriptor&, const ActionTarget&) override {
        return make_error("deleted mail cannot be brought back");
    }
    Result<Effect> dry_run(const ActionDescriptor&, const ActionTarget& t) override {
        return run(t, kDelete, true);
    }
};

}  // namespace

MechanismSpec queue_hold_spec() {
    ActionDescriptor hold;
    hold.kind = ActionKind::HoldMail;
    hold.undo = ActionKind::ReleaseMail;
    hold.label = "⏸ Hold mail";
    hold.cli_verb = "hold-mail";
    hold.help = "put USER's queued mail on hold (postsuper -h)";
    hold.bot_command = "/hold";
    hold.bot_help = "hold the user's queued mail";
    hold.block_kind = "hold";
    hold.uses_senders = true;
    hold.mechanism = "queue_hold";

    ActionDescriptor release = hold;
    release.kind = ActionKind::ReleaseMail;
    release.undo.reset();
    release.forward = false;
    release.label = "↩ Release held mail";
    release.cli_verb = "release-mail";
    release.help = "release USER's held mail (postsuper -H)";
    release.bot_command = "/release";
    release.bot_help = "release it";
    release.automatic = Automatic::Never;
    release.lifts = true;

    return {"queue_hold", {hold, release}, [](const MechanismDeps& d) {
                return std::make_unique<QueueHold>(d);
            }};
}

MechanismSpec queue_delete_spec() {
    ActionDescriptor del;
    del.kind = ActionKind::DeleteMail;
    del.label = "🗑 Delete queued mail";
    del.cli_verb = "delete-mail";
    del.help = "delete USER's queued mail (postsuper -d); needs --yes";
    del.confirm = true;
    del.automatic = Automatic::OptIn;
    del.block_kind = "hold";  // deleted mail is no longer held
    del.lifts = true;
    del.uses_senders = true;
    del.mechanism = "queue_delete";
    return {"queue_delete", {del}, [](const MechanismDeps& d) {
                return std::make_unique<QueueDelete>(d);
            }};
}

}  // namespace saslguard::receiver::mitigation
