#include "saslguard/postfix/showq.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <thread>

namespace saslguard::postfix {

namespace {

// Header attributes of one message; all but forced_expire are required.
enum HeaderBit : unsigned {
    kQueueName = 1u << 0,
    kQueueId = 1u << 1,
    kTime = 1u << 2,
    kSize = 1u << 3,
    kForcedExpire = 1u << 4,
    kSender = 1u << 5,
};
constexpr unsigned kRequiredHeader = kQueueName | kQueueId | kTime | kSize | kSender;

constexpr std::string_view kProtoName = "protocol";
constexpr std::string_view kProtoShowq = "mail_queue_list_protocol";

bool parse_int(const std::string& text, std::int64_t& out) {
    if (text.empty()) return false;
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
}

// Attribute names and values in error messages: short and printable, since
// they may be anything the peer sent.
std::string printable(std::string_view s) {
    std::string out;
    for (char c : s.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u >= 0x20 && u < 0x7f) ? c : '?';
    }
    if (s.size() > 64) out += "...";
    return out;
}

}  // namespace

ShowqParser::ShowqParser(Callback on_message, ShowqOptions options)
    : m_on_message(std::move(on_message)), m_options(options) {}

Result<void> ShowqParser::fail(std::string message) {
    m_state = State::Failed;
    m_error =
        "showq protocol error at byte " + std::to_string(m_offset) + ": " + std::move(message);
    return make_error(m_error);
}

Result<void> ShowqParser::feed(std::string_view bytes) {
    if (m_state == State::Failed) return make_error(m_error);
    while (!bytes.empty()) {
        if (m_state == State::Done) return fail("data after the end of the queue listing");
        // Copy up to the next NUL into the field being read: memchr keeps this
        // loop at memcpy speed for the 10+ MB a large queue produces.
        const auto* nul = static_cast<const char*>(std::memchr(bytes.data(), '\0', bytes.size()));
        const std::size_t take = nul ? static_cast<std::size_t>(nul - bytes.data()) : bytes.size();
        std::string& field = m_field == Field::Name ? m_name : m_value;
        if (field.size() + take > m_options.max_field_bytes)
            return fail("attribute " + std::string(m_field == Field::Name ? "name" : "value") +
                        " longer than " + std::to_string(m_options.max_field_bytes) + " bytes");
        field.append(bytes.data(), take);
        m_offset += take;
        bytes.remove_prefix(take);
        if (!nul) break;
        // The NUL ends the field.
        bytes.remove_prefix(1);
        ++m_offset;
        Result<void> r;
        if (m_field == Field::Name) {
            if (m_name.empty())
                r = on_record_end();
            else
                m_field = Field::Value;
        } else {
            r = on_attribute();
            m_name.clear();
            m_value.clear();
            m_field = Field::Name;
        }
        if (!r) return r;
    }
    return {};
}

Result<void> ShowqParser::on_attribute() {
    switch (m_state) {
        case State::Greeting:
            if (m_name == kProtoName) {
                if (m_value != kProtoShowq)
                    return fail("not the showq service (protocol \"" + printable(m_value) + "\")");
                m_greeting_seen = true;
                return {};
            }
            // Postfix before 3.4 sends no greeting: the listing starts at once.
            if (m_greeting_seen || m_name != "queue_name")
                return fail("unexpected attribute \"" + printable(m_name) +
                            "\" before the listing");
            m_state = State::Messages;
            return on_attribute();
        case State::Messages:
            if (m_name != "queue_name")
                return fail("message record starts with \"" + printable(m_name) +
                            "\", not queue_name");
            m_state = State::InMessage;
            m_header_fields = 0;
            m_message.recipients.clear();
            m_message.forced_expire = false;
            [[fallthrough]];
        case State::InMessage: {
            const std::string_view name = m_name;
            auto set_bit = [&](unsigned bit) -> Result<void> {
                if (m_header_fields & bit) return fail("duplicate attribute \"" + m_name + "\"");
                m_header_fields |= bit;
                return {};
            };
            if (name == "recipient") {
                if (!(m_header_fields & kSender)) return fail("recipient before sender");
                if (m_options.keep_recipients &&
                    m_message.recipients.size() < m_options.max_recipients)
                    m_message.recipients.push_back(m_value);
                return {};
            }
            if (name == "reason") return {};  // delay reason of the recipient before: not kept
            if (name == "queue_name") {
                if (auto r = set_bit(kQueueName); !r) return r;
                m_message.queue_name.swap(m_value);
                return {};
            }
            if (name == "queue_id") {
                if (auto r = set_bit(kQueueId); !r) return r;
                m_message.queue_id.swap(m_value);
                return {};
            }
            if (name == "sender") {
                if (auto r = set_bit(kSender); !r) return r;
                m_message.sender.swap(m_value);
                return {};
            }
            if (name == "time" || name == "size" || name == "forced_expire") {
                std::int64_t v = 0;
                if (!parse_int(m_value, v) || v < 0)
                    return fail("attribute \"" + m_name + "\" is not a number: \"" +
                                printable(m_value) + "\"");
                if (name == "time") {
                    if (auto r = set_bit(kTime); !r) return r;
                    m_message.arrival_time = v;
                } else if (name == "size") {
                    if (auto r = set_bit(kSize); !r) return r;
                    m_message.size = v;
                } else {
                    if (auto r = set_bit(kForcedExpire); !r) return r;
                    m_message.forced_expire = v != 0;
                }
                return {};
            }
            return {};  // an attribute a newer Postfix added: skipped
        }
        case State::Done:
        case State::Failed:
            break;
    }
    return fail("internal: attribute in state " + std::to_string(static_cast<int>(m_state)));
}

Result<void> ShowqParser::on_record_end() {
    switch (m_state) {
        case State::Greeting:
            if (!m_greeting_seen) {
                // An empty listing from a Postfix that sends no greeting.
                m_state = State::Done;
                return {};
            }
            m_state = State::Messages;
            return {};
        case State::Messages:
            m_state = State::Done;
            return {};
        case State::InMessage:
            if ((m_header_fields & kRequiredHeader) != kRequiredHeader)
                return fail("message record without queue_name, queue_id, time, size and sender");
            ++m_messages;
            m_state = State::Messages;
            if (m_on_message) m_on_message(m_message);
            return {};
        case State::Done:
        case State::Failed:
            break;
    }
    return fail("internal: record end in state " + std::to_string(static_cast<int>(m_state)));
}

Result<void> ShowqParser::finish() const {
    switch (m_state) {
        case State::Done:
            return {};
        case State::Failed:
            return make_error(m_error);
        case State::Greeting:
            return make_error("showq answer ended before the greeting (" +
                              std::to_string(m_offset) + " bytes)");
        case State::Messages:
        case State::InMessage:
            break;
    }
    return make_error(
        "showq answer cut after " + std::to_string(m_messages) + " messages (" +
        std::to_string(m_offset) + " bytes, " +
        (m_state == State::InMessage || !m_name.empty() ? "mid-record" : "between records") + ")");
}

namespace {

class Fd {
public:
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (m_fd >= 0) ::close(m_fd);
    }
    int get() const { return m_fd; }

private:
    int m_fd;
};

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

std::string errno_text(int err) {
    return std::strerror(err);
}

// Waits for `events` on fd until the deadline; false on timeout.
Result<bool> wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        const int ms = remaining_ms(deadline);
        if (ms == 0) return false;
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, ms);
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return make_error("poll: " + errno_text(errno));
    }
}

Result<void> connect_unix(int fd, const std::string& path, Clock::time_point deadline) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) return make_error("socket path too long");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    for (;;) {
        if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return {};
        const int err = errno;
        if (err == EINTR) continue;
        if (err == EAGAIN) {
            // The listen backlog is full (master busy): retry briefly until the deadline.
            if (remaining_ms(deadline) == 0)
                return make_error("connect: timed out (listen queue full)");
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        if (err == EINPROGRESS) {
            auto ready = wait_fd(fd, POLLOUT, deadline);
            if (!ready) return ready.error();
            if (!*ready) return make_error("connect: timed out");
            int so_error = 0;
            socklen_t len = sizeof(so_error);
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
            if (so_error != 0) return make_error("connect: " + errno_text(so_error));
            return {};
        }
        return make_error("connect: " + errno_text(err) +
                          (err == ECONNREFUSED || err == ENOENT ? " (is Postfix running?)" : ""));
    }
}

}  // namespace

Result<std::size_t> read_showq(const std::string& socket_path,
                               const std::function<void(const QueuedMessage&)>& on_message,
                               std::chrono::milliseconds timeout, const ShowqOptions& options) {
    const auto deadline = Clock::now() + timeout;
    auto with_path = [&](const std::string& what) {
        return make_error("showq " + socket_path + ": " + what);
    };

    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) return with_path("socket: " + errno_text(errno));
    if (auto c = connect_unix(fd.get(), socket_path, deadline); !c)
        return with_path(c.error().message);

    // Blocking reads in slices of at most 100 ms (SO_RCVTIMEO), so the deadline
    // and the cancel flag are checked often. showq flushes after every message
    // (~250 bytes): SO_RCVLOWAT lets one read() take many messages instead of
    // one wakeup and three syscalls per message.
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) < 0)
        return with_path("fcntl: " + errno_text(errno));
    const timeval slice{0, 100 * 1000};
    const int lowat = 64 * 1024;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof(slice)) < 0)
        return with_path("setsockopt: " + errno_text(errno));
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVLOWAT, &lowat,
                       sizeof(lowat));  // an optimization only

    ShowqParser parser(on_message, options);
    auto timed_out = [&] {
        return "timed out after " + std::to_string(timeout.count()) + " ms (" +
               std::to_string(parser.messages()) + " messages read)";
    };
    constexpr std::size_t kBufBytes = 256 * 1024;
    const auto buf = std::make_unique<char[]>(kBufBytes);
    while (!parser.done()) {
        // Checked per chunk, not only when idle: a big queue keeps the socket
        // readable for seconds, and a peer dribbling bytes must not outlive the deadline.
        if (options.cancel && options.cancel->load()) return with_path("cancelled");
        if (Clock::now() >= deadline) return with_path(timed_out());
        const ssize_t n = ::read(fd.get(), buf.get(), kBufBytes);
        if (n > 0) {
            if (auto r = parser.feed(std::string_view(buf.get(), static_cast<std::size_t>(n))); !r)
                return with_path(r.error().message);
            continue;
        }
        if (n == 0) break;  // EOF: finish() says whether it was complete
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;  // a slice passed
        return with_path("read: " + errno_text(errno));
    }
    if (auto r = parser.finish(); !r) return with_path(r.error().message);
    return parser.messages();
}

}  // namespace saslguard::postfix
