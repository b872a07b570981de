#pragma once
// Reading the Postfix queue through the showq(8) service: the unix socket that
// `postqueue -p` and `postqueue -j` themselves read (public/showq under the
// queue directory). Nothing here runs a command, opens a queue file or needs
// more privilege than postqueue does.
//
// Wire format (Postfix 3.x, attr_print0 over the socket; every string ends in
// a NUL byte, numbers are decimal text):
//
//   protocol\0mail_queue_list_protocol\0\0              greeting (one record;
//                                                       older 3.x may omit it)
//   queue_name\0deferred\0queue_id\0ABC\0time\0<epoch>\0size\0<bytes>\0
//   forced_expire\0<0|1>\0sender\0<addr>\0              message header, then
//   recipient\0<addr>\0reason\0<why or empty>\0         zero or more recipients
//   \0                                                  end of that message
//   ...                                                 more messages
//   \0                                                  end of the listing
//
// Unknown attributes inside a message are skipped (a newer Postfix may add some).
//
// showq has already made addresses "printable" (control bytes become '?'), but
// with SMTPUTF8 a sender may carry any UTF-8 and, from a broken client, bytes
// that are not UTF-8: the parser passes them through unchanged; whoever turns
// them into label values or map keys must sanitize or validate them.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "saslguard/common/result.hpp"

namespace saslguard::postfix {

// The queues showq reports, in the order the exporter publishes them.
inline constexpr std::array<std::string_view, 5> kShowqQueues = {"active", "deferred", "hold",
                                                                 "incoming", "maildrop"};

// One queued message as showq reports it.
struct QueuedMessage {
    std::string queue_name;               // one of kShowqQueues
    std::string queue_id;                 // e.g. "4XyZ1k2AbCz7" (long ids) or "A1B2C3D4E5"
    std::int64_t arrival_time = 0;        // unix seconds
    std::int64_t size = 0;                // message size in bytes (content, as postqueue shows)
    std::string sender;                   // envelope sender; "MAILER-DAEMON" for <>
    std::vector<std::string> recipients;  // envelope recipients (empty unless kept)
    bool forced_expire = false;           // postsuper -e/-f marked it for expiry
};

// What the parser keeps and how large anything may be. A value past a limit is
// a protocol error, not an allocation: showq is local, but the bytes of an
// address come from the Internet.
struct ShowqOptions {
    bool keep_recipients = true;              // false: recipients are skipped (cheaper)
    std::size_t max_recipients = 10000;       // per message; further ones are dropped, not an error
    std::size_t max_field_bytes = 64 * 1024;  // one attribute name or value
    // read_showq only: when set and true, the read stops within ~100 ms with an
    // Error ("cancelled"), so a daemon can shut down during a stalled showq.
    const std::atomic<bool>* cancel = nullptr;
};

// Incremental, allocation-light parser of a showq byte stream. Feed it chunks
// of any size, in order (a record may span chunks); each complete message is
// passed to the callback, by a reference valid only during the call.
//
// Contract:
// - feed() returns an Error on the first protocol violation (unknown record
//   shape, a non-numeric number, a field over the limit, bytes after the end of
//   the listing); the parser then stays failed and ignores further input.
// - finish() says whether the stream was complete: it fails if the end-of-listing
//   marker was never seen (a showq answer cut mid-record, or cut between records).
// - Messages already delivered to the callback before an error stay delivered: a
//   caller that must not publish a partial listing collects first and commits
//   only when finish() succeeds.
class ShowqParser {
public:
    using Callback = std::function<void(const QueuedMessage&)>;

    explicit ShowqParser(Callback on_message, ShowqOptions options = {});

    Result<void> feed(std::string_view bytes);
    Result<void> finish() const;

    bool done() const { return m_state == State::Done; }
    std::size_t messages() const { return m_messages; }

private:
    enum class State { Greeting, Messages, InMessage, Done, Failed };
    enum class Field { Name, Value };

    Result<void> on_attribute();   // m_name/m_value complete
    Result<void> on_record_end();  // an empty name: end of a record
    Result<void> fail(std::string message);

    Callback m_on_message;
    ShowqOptions m_options;
    State m_state = State::Greeting;
    Field m_field = Field::Name;
    std::string m_name;
    std::string m_value;
    QueuedMessage m_message;
    unsigned m_header_fields = 0;  // bit set of the header attributes seen
    bool m_greeting_seen = false;
    std::string m_error;  // set once failed
    std::size_t m_messages = 0;
    std::uint64_t m_offset = 0;  // bytes consumed, for error messages
};

// Connects to the showq unix socket at `socket_path`, streams every queued
// message to `on_message` and returns how many there were.
//
// Fails with an Error (never throws, never blocks past the deadline) when the
// socket is missing, refuses (Postfix stopped), the answer is not the showq
// protocol, is cut mid-record, or the whole exchange takes longer than
// `timeout` (connect included). As with ShowqParser, messages seen before a
// failure have already been passed to `on_message`.
Result<std::size_t> read_showq(const std::string& socket_path,
                               const std::function<void(const QueuedMessage&)>& on_message,
                               std::chrono::milliseconds timeout, const ShowqOptions& options = {});

}  // namespace saslguard::postfix
