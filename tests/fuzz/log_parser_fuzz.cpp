// libFuzzer harness: one syslog line through the Postfix log-line parser.
// The parser returns views into the line; every view must lie inside it (a
// view past the end is a read ASan sees only when we touch it, so we do).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "saslguard/postfix/log_parser.hpp"

namespace {
void check_inside(std::string_view line, std::string_view part) {
    if (part.empty()) return;
    if (part.data() < line.data() || part.data() + part.size() > line.data() + line.size())
        std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace saslguard::postfix;
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const Event e = parse_line(line);
    for (std::string_view v :
         {e.host, e.syslog_name, e.program, e.queue_id, e.client_host, e.client_ip, e.sasl_method,
          e.sasl_username, e.address, e.relay, e.reject_stage})
        check_inside(line, v);
    (void)to_string(e.kind);
    (void)to_string(e.status);
    (void)to_string(e.timestamp.format);
    TimestampResolver resolver(1700000000);
    (void)resolver.resolve(e.timestamp);
    return 0;
}
