#pragma once
// Finding a user's queued messages and acting on them with postsuper.
//
// A user's messages are the ones whose queue file records the user's SASL
// login (`named_attribute: sasl_username=…` in `postcat -e`, written by smtpd
// after a successful AUTH; postdrop drops such records from local submissions,
// "ignoring attribute record", so no local user can forge one). The envelope sender never makes a
// message the user's: another user may send with the same sender, a spammer with any. Explicitly
// named senders (saslguardctl --sender) add messages that record no login at all (sendmail,
// mynetworks), never one another user authenticated for.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"
#include "saslguard/receiver/incident.hpp"
#include "saslguard/receiver/mitigation/command_runner.hpp"

namespace saslguard::receiver::mitigation {

struct QueueEntry {
    std::string queue_name;  // maildrop|incoming|active|deferred|hold|corrupt
    std::string queue_id;
    std::string sender;
    std::int64_t arrival_time = 0;  // unix seconds (0 when unknown)
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

// One queue file as `postcat -e [-h]` shows it: what the alert message samples.
struct PostcatMessage {
    std::string queue_id;
    std::string sasl_login;      // named_attribute: sasl_username (as recorded)
    std::string client_address;  // named_attribute: client_address
    std::vector<std::string> recipients;
    std::string subject;  // the Subject: header, unfolded, raw (-h only; "" otherwise)
};
// Every message of `postcat -e [-h]` output, in order. Records it does not know
// are skipped; a message without a valid queue id is left out.
std::vector<PostcatMessage> parse_postcat_messages(std::string_view text);
// The sample the admin's message shows: distinct recipient domains, client
// addresses by messages, distinct subjects by frequency (at most 5, first seen
// first on ties). Subjects are kept as recorded (RFC 2047 words undecoded).
QueueSample summarize_queue_sample(const std::vector<PostcatMessage>& messages);

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
        std::string sasl_login;            // canonical login: its messages (by recorded login)
        std::vector<std::string> senders;  // validated envelope senders (exact, case-insensitive)
                                           // of messages that record no login
    };
    // Queue ids of matching messages in `scope`, sorted and unique. Every
    // message in scope is read with postcat (200 per run).
    Result<std::vector<std::string>> find(const Match& match, Scope scope);

    // How many queued messages (any queue) record `login` (canonical) as their
    // SASL login, counting up to `enough` and reading at most `max_read` queue
    // files: the messages whose sender is the login's address first, then the
    // newest. Fails when the queue cannot be listed or read.
    Result<std::size_t> count_by_login(const std::string& login, std::size_t enough,
                                       std::size_t max_read = 5000);

    // Up to `max_messages` queued messages (any queue) that record `login`
    // (canonical) as their SASL login, in the order count_by_login reads them,
    // reading at most `max_read` queue files. With `headers`, postcat -h also
    // reads each message's headers (the Subject); without, only the envelope.
    Result<std::vector<PostcatMessage>> messages_of_login(const std::string& login,
                                                          std::size_t max_messages, bool headers,
                                                          std::size_t max_read = 1000);

    enum class Op { Hold, Release, Delete };
    // postsuper -c DIR -h|-H|-d - with the ids on stdin. Every id is validated
    // first; one bad id fails the whole call before anything runs.
    Result<void> apply(Op op, const std::vector<std::string>& queue_ids);

private:
    Result<std::map<std::string, std::string>> sasl_logins(const std::vector<std::string>& ids);
    // postcat over `ids` in batches; a batch that fails (a message left the queue
    // meanwhile) is read one id at a time. `on_output` gets each run's stdout.
    Result<void> postcat(const std::vector<std::string>& ids, bool headers,
                         const std::function<void(std::string_view)>& on_output);
    // Queue entries with a valid id: the login's own address as sender first, then the newest.
    Result<std::vector<QueueEntry>> reading_order(const std::string& login, std::size_t max_read);

    CommandRunner& m_runner;
    QueueSource& m_source;
    std::string m_postsuper;
    std::string m_postcat;
    std::string m_config_dir;
    std::chrono::milliseconds m_timeout;
};

}  // namespace saslguard::receiver::mitigation
