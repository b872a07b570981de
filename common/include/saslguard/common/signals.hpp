#pragma once
// Orderly shutdown on SIGINT/SIGTERM. Call block_shutdown_signals() first thing in
// main (before threads start, so every thread inherits the mask), then
// wait_for_shutdown_signal() in the main thread once the daemon is running.
namespace saslguard {

void block_shutdown_signals();
// Blocks until SIGINT or SIGTERM arrives; returns the signal number.
int wait_for_shutdown_signal();

}  // namespace saslguard
