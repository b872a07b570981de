#include "map_usage.hpp"

namespace saslguard::receiver::mitigation {

std::string MapUsage::warning(const AccessMap& map) {
    if (m_known_used) return "";
    const std::string postconf = m_settings.program("postconf");
    const std::string& dir = m_settings.postfix_config_dir;
    ProcessOptions opt;
    opt.timeout = m_settings.command_timeout;
    std::string seen;
    for (const auto& argv :
         {std::vector<std::string>{postconf, "-c", dir, "-x", "-h", "smtpd_client_restrictions",
                                   "smtpd_helo_restrictions", "smtpd_sender_restrictions",
                                   "smtpd_relay_restrictions", "smtpd_recipient_restrictions",
                                   "smtpd_data_restrictions", "smtpd_end_of_data_restrictions"},
          std::vector<std::string>{postconf, "-c", dir, "-P", "-x"}}) {
        auto r = m_runner.run(argv, opt);
        if (!r.success()) return "";  // cannot tell: do not cry wolf
        seen += r.out;
        seen += '\n';
    }
    // A table name is followed by a separator (space, comma, newline) in postconf's output.
    const std::string name = map.table_name();
    for (std::size_t at = seen.find(name); at != std::string::npos; at = seen.find(name, at + 1)) {
        char next = at + name.size() < seen.size() ? seen[at + name.size()] : '\n';
        if (next == ' ' || next == ',' || next == '\n' || next == '\t') {
            m_known_used = true;
            return "";
        }
    }
    return " (WARNING: " + name +
           " is not used in main.cf or master.cf: this has no effect until it is, "
           "see docs/mitigation.md)";
}

}  // namespace saslguard::receiver::mitigation
