// saslguard-receiver: Alertmanager webhook → incidents → policy → mitigation → admins.
// Thin on purpose: everything is in the libraries (daemon.hpp and below).
#include <iostream>

#include "saslguard/receiver/daemon.hpp"

int main(int argc, char** argv) {
    return saslguard::receiver::run_receiver({argv + 1, argv + argc}, std::cout, std::cerr);
}
