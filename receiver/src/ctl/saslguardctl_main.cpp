// saslguardctl: see saslguard/receiver/mitigation/ctl.hpp.
#include <iostream>

#include "saslguard/receiver/mitigation/ctl.hpp"

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    return saslguard::receiver::mitigation::run_ctl(args, std::cout, std::cerr);
}
