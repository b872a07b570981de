#pragma once
// Splits a byte stream into lines for the log sources (file tailer, stdin,
// journal pipe). A partial last line is held until its newline arrives. A line
// longer than `max_line` bytes (a corrupt or hostile log) is dropped whole and
// reported once, so memory stays bounded whatever the input.
#include <cstddef>
#include <string>
#include <string_view>

namespace saslguard::exporter {

// Receives what a source reads. Implemented by the App (feeds LogMetrics) and by tests.
class LineConsumer {
public:
    virtual ~LineConsumer() = default;
    virtual void line(std::string_view line) = 0;  // without '\n'
    virtual void dropped_line() = 0;               // a line over the size limit
    virtual void rotated() = 0;                    // the source followed a rotation/truncation
};

class LineSplitter {
public:
    static constexpr std::size_t kDefaultMaxLine = 64 * 1024;
    LineSplitter() = default;
    explicit LineSplitter(std::size_t max_line) : m_max(max_line) {}

    void feed(const char* data, std::size_t n, LineConsumer& out);
    // End of a finished stream: delivers the unterminated last line, if any.
    void flush(LineConsumer& out);
    // Forgets the partial line (the stream was truncated under it).
    void reset();
    bool has_partial() const { return !m_partial.empty() || m_discarding; }

private:
    std::string m_partial;
    bool m_discarding = false;  // inside an over-long line: skip to the next '\n'
    std::size_t m_max = kDefaultMaxLine;
};

}  // namespace saslguard::exporter
