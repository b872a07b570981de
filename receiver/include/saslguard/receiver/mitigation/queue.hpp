#pragma once
// Finding a user's queued messages and acting on them with postsuper.
//
// Messages are matched by envelope sender (from the showq service, via
// `postqueue -j`) and, when asked, by the SASL login Postfix recorded in each
// queue file (`named_attribute: sasl_username=…` in `postcat -e`): the login is
// authoritative even when a spammer forges the envelope sender.
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"

namespace saslguard::receiver::mitigation {

struct QueueEntry {
    std::string queue_name;  // maildrop|incoming|active|deferred|hold|corrupt
    std::string queue_id;
    std::string sender;
};

class QueueSource {
public:
    virtual ~QueueSource() = default;
    // Every message currently queued. Fails when the queue cannot be read.
    virtual Result<std::vector<QueueEntry>> list() = 0;
};

// Reads the queue through `postqueue -c DIR -j` (one JSON object per line;
// entries whose queue id or queue name is not well formed are skipped).
class PostqueueSource final : public QueueSource {
public:
    PostqueueSource(CommandRunner& runner, std::string postqueue, std::string config_dir,
                    std::chrono::milliseconds timeout)
        : m_runner(runner),
          m_postqueue(std::move(postqueue)),
          m_config_dir(std::move(config_dir)),
          m_timeout(timeout) {}
    Result<std::vector<QueueEntry>> list() override;

private:
    CommandRunner& m_runner;
    std::string m_postqueue;
    std::string m_config_dir;
    std::chrono::milliseconds m_timeout;
};

// Reads the queue straight from the showq socket (common's read_showq), without
// spawning postqueue. Preferred whenever the socket path is known.
class ShowqSource final : public QueueSource {
public:
    ShowqSource(std::string socket_path, std::chrono::milliseconds timeout)
        : m_socket(std::move(socket_path)), m_timeout(timeout) {}
    Result<std::vector<QueueEntry>> list() override;

private:
    std::string m_socket;
    std::chrono::milliseconds m_timeout;
};

// Pure parsers, exposed for tests.
std::vector<QueueEntry> parse_postqueue_json(std::string_view text);
// queue id → SASL login, from `postcat -e` output of one or more queue files.
std::map<std::string, std::string> parse_postcat_sasl_logins(std::string_view text);

class PostfixQueue {
public:
    PostfixQueue(CommandRunner& runner, QueueSource& source, std::string bin_postsuper,
                 std::string bin_postcat, std::string config_dir, std::chrono::milliseconds timeout)
        : m_runner(runner),
          m_source(source),
          m_postsuper(std::move(bin_postsuper)),
          m_postcat(std::move(bin_postcat)),
          m_config_dir(std::move(config_dir)),
          m_timeout(timeout) {}

    enum class Scope { NotHeld, Held, Any };
    struct Match {
        std::vector<std::string> senders;  // validated envelope senders (exact, case-insensitive)
        std::string sasl_login;            // validated login; "" = do not match by login
    };
    // Queue ids of matching messages in `scope`, sorted and unique.
    Result<std::vector<std::string>> find(const Match& match, Scope scope);

    enum class Op { Hold, Release, Delete };
    // postsuper -c DIR -h|-H|-d - with the ids on stdin. Every id is validated
    // first; one bad id fails the whole call before anything runs.
    Result<void> apply(Op op, const std::vector<std::string>& queue_ids);

private:
    Result<std::map<std::string, std::string>> sasl_logins(const std::vector<std::string>& ids);

    CommandRunner& m_runner;
    QueueSource& m_source;
    std::string m_postsuper;
    std::string m_postcat;
    std::string m_config_dir;
    std::chrono::milliseconds m_timeout;
};

}  // namespace saslguard::receiver::mitigation
