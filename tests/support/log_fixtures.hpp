#pragma once
// Loads the Postfix log fixtures (tests/fixtures/postfix-logs/NAME.log) and the
// expectations written beside them (NAME.expect):
//   lines N                 non-comment lines in the .log
//   event KIND N            parse_line results by EventKind name
//   metric SERIES VALUE     a line that must appear in the exporter's output
// Lines starting with '#' in either file are comments.
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace saslguard::test {

inline const std::vector<std::string>& log_fixture_names() {
    static const std::vector<std::string> names = {"real-postfix-3.7", "adapted-variants"};
    return names;
}

inline std::string log_fixture_path(const std::string& name, const char* ext) {
    return std::string(SASLGUARD_FIXTURES_DIR) + "/postfix-logs/" + name + ext;
}

inline std::vector<std::string> log_fixture_lines(const std::string& name) {
    std::ifstream in(log_fixture_path(name, ".log"), std::ios::binary);
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);)
        if (l.empty() || l[0] != '#') lines.push_back(l);
    return lines;
}

struct LogExpectations {
    std::size_t lines = 0;
    std::map<std::string, std::size_t> events;
    std::vector<std::string> metrics;
};

inline LogExpectations log_fixture_expectations(const std::string& name) {
    std::ifstream in(log_fixture_path(name, ".expect"));
    LogExpectations e;
    for (std::string l; std::getline(in, l);) {
        if (l.empty() || l[0] == '#') continue;
        std::istringstream s(l);
        std::string what;
        s >> what;
        if (what == "lines") {
            s >> e.lines;
        } else if (what == "event") {
            std::string kind;
            std::size_t n = 0;
            s >> kind >> n;
            e.events[kind] = n;
        } else if (what == "metric") {
            e.metrics.push_back(l.substr(7));
        }
    }
    return e;
}

}  // namespace saslguard::test
