#pragma once
// saslguard-receiver wired together: the state store, the intake, the worker,
// the mitigation executor with its expiry, the Telegram bot, the HTTP listener
// and the metrics. run_receiver() (daemon.hpp) parses flags, loads the config
// and runs an App; tests build one directly.
//
// Wiring points (call before start()):
//   set_executor(...)   the ActionExecutor for the worker and the Telegram bot
//                       (default: the real mitigation, MitigationService, which
//                       also reverts expired blocks)
//   add_notifier(...)   one more Notifier beside the always-on LogNotifier
#include <memory>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"

namespace saslguard::receiver {

class Notifier;

class App {
public:
    explicit App(Config config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    void set_executor(std::shared_ptr<ActionExecutor> executor);
    void add_notifier(std::shared_ptr<Notifier> notifier);

    // Opens the state store (migrating it), marks actions a crash left running
    // as interrupted, then starts the mitigation's expiry, the Telegram bot, the
    // worker and the HTTP listener. Fails (nothing left running) when the port,
    // the store or the mitigation settings are unusable.
    Result<void> start();
    void stop();  // stops accepting, lets the intake finish its batch, stops the rest

    int port() const;  // bound port (listen_address may say :0 in tests)
    const Config& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
