#include "line_splitter.hpp"

#include <cstring>

namespace saslguard::exporter {

void LineSplitter::feed(const char* data, std::size_t n, LineConsumer& out) {
    const char* p = data;
    const char* end = data + n;
    while (p < end) {
        const char* nl =
            static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        if (!nl) {
            // No newline in the rest: keep it as the partial line (bounded).
            std::size_t rest = static_cast<std::size_t>(end - p);
            if (!m_discarding && m_partial.size() + rest > m_max) {
                m_partial.clear();
                m_partial.shrink_to_fit();
                m_discarding = true;
                out.dropped_line();
            }
            if (!m_discarding) m_partial.append(p, rest);
            return;
        }
        std::size_t len = static_cast<std::size_t>(nl - p);
        if (m_discarding) {
            m_discarding = false;
        } else if (!m_partial.empty()) {
            if (m_partial.size() + len > m_max) {
                out.dropped_line();
            } else {
                m_partial.append(p, len);
                out.line(m_partial);
            }
            m_partial.clear();
        } else if (len > m_max) {
            out.dropped_line();
        } else {
            out.line(std::string_view(p, len));  // common case: no copy
        }
        p = nl + 1;
    }
}

void LineSplitter::flush(LineConsumer& out) {
    if (!m_partial.empty()) out.line(m_partial);
    reset();
}

void LineSplitter::reset() {
    m_partial.clear();
    m_discarding = false;
}

}  // namespace saslguard::exporter
