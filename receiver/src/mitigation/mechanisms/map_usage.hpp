#pragma once
// Whether Postfix uses one of saslguard's access maps (private to the map
// mechanisms): a block written into a map main.cf and master.cf never name has
// no effect, and the outcome says so.
#include <string>

#include "saslguard/receiver/mitigation/access_map.hpp"
#include "saslguard/receiver/mitigation/settings.hpp"

namespace saslguard::receiver::mitigation {

class MapUsage {
public:
    MapUsage(const MitigationSettings& settings, CommandRunner& runner)
        : m_settings(settings), m_runner(runner) {}
    // "" when main.cf or master.cf uses `map` (remembered once seen, for the
    // life of the process) or when postconf cannot tell; otherwise a warning to
    // append to the outcome.
    std::string warning(const AccessMap& map);

private:
    const MitigationSettings& m_settings;
    CommandRunner& m_runner;
    bool m_known_used = false;
};

}  // namespace saslguard::receiver::mitigation
