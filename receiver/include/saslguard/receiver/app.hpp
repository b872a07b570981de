#pragma once
// saslguard-receiver wired together: store, intake, worker, HTTP listener, metrics.
// main.cpp only parses flags, loads the config and runs an App.
//
// Wiring points (call before start()):
//   set_executor(...)   the ActionExecutor the worker calls in auto mode
//                       (default: LogExecutor, which changes nothing)
//   add_notifier(...)   one more Notifier beside the always-on LogNotifier
#include <memory>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/actions.hpp"
#include "saslguard/receiver/config.hpp"

namespace saslguard::receiver {

class Notifier;

// The executor used until a real one is wired: validates nothing, changes
// nothing, logs the request and reports "not executed". ok=false so an operator
// never mistakes it for a block that is in force.
class LogExecutor final : public ActionExecutor {
public:
    ActionOutcome execute(const ActionRequest& request) override;
};

class App {
public:
    explicit App(Config config);
    ~App();
    App(const App&) = delete;
    App& operator=(const App&) = delete;

    void set_executor(std::shared_ptr<ActionExecutor> executor);
    void add_notifier(std::shared_ptr<Notifier> notifier);

    // Opens and migrates the state database, recovers, starts the worker and the
    // HTTP listener. Fails (nothing left running) when the port or the database is unusable.
    Result<void> start();
    void stop();  // stops accepting, lets the intake finish its batch, stops the worker

    int port() const;  // bound port (listen_address may say :0 in tests)
    const Config& config() const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

}  // namespace saslguard::receiver
