#pragma once
// The text of the read-only command replies (/status /top /queue /blocked), in
// parse_mode HTML: every value escaped, counts whole, the host named. Pure
// functions of what the CommandBackend returned, so golden tests pin them.
#include <string>
#include <vector>

#include "saslguard/receiver/telegram/bot.hpp"

namespace saslguard::receiver::telegram {

std::string render_status(const StatusInfo& status, const std::string& host);
std::string render_top(const std::vector<UserCount>& top, const std::string& host);
std::string render_queue(const QueueInfo& queue, const std::string& host);
std::string render_blocked(const std::vector<BlockInfo>& blocks, const std::string& host);

}  // namespace saslguard::receiver::telegram
