#pragma once
// FileTailer follows a log file the way `tail -F` does, one poll() at a time.
// poll() never blocks and never sleeps: the caller (the exporter's log thread,
// or a test) decides when to look again, so tests wake it explicitly.
//
// What each poll() does, in order:
//  1. No file open: open the path. The first file seen at start-up is read from
//     its end (unless from_start); a file that appears later is new, and is read
//     from its beginning. A missing file is not an error: poll again later.
//  2. Truncation (copytruncate): the open file (same inode) is now shorter than
//     our offset. Read again from offset 0; a partial line held from before the
//     truncation is dropped (its end went to the copy). Counted as a rotation.
//     Lines written between logrotate's copy and its truncate are lost: that is
//     inherent to copytruncate. A truncation followed, before the next poll, by
//     more bytes than our old offset cannot be seen (poll often enough).
//  3. Read the open file to its end; a partial last line waits for its newline.
//  4. Rotation by rename (logrotate "create", `postfix logrotate`): the path now
//     names another inode (or nothing). The old descriptor is read to its end
//     first — the writer may still be appending to it until it reopens — so the
//     rotated file is finished before the new one starts. The old file is kept
//     open and drained for `rotate_grace_polls` more polls (writers that reopen
//     late), then its unterminated last line, if any, is delivered and it is
//     closed. The new file is read from its beginning. Counted as a rotation.
//     While the path names nothing, the old file keeps being read.
#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

#include "line_splitter.hpp"

namespace saslguard::exporter {

class FileTailer {
public:
    FileTailer(std::string path, bool from_start, LineConsumer& consumer,
               int rotate_grace_polls = 0, std::size_t max_line = LineSplitter::kDefaultMaxLine);
    ~FileTailer();
    FileTailer(const FileTailer&) = delete;
    FileTailer& operator=(const FileTailer&) = delete;

    // Reads everything available now (see the class comment). Returns the bytes read.
    std::size_t poll();

    bool is_open() const { return m_cur.fd >= 0; }
    std::uint64_t rotations() const { return m_rotations; }

private:
    struct Open {
        int fd = -1;
        dev_t dev = 0;
        ino_t ino = 0;
        off_t offset = 0;
        LineSplitter splitter;
        int grace_left = 0;
    };
    bool open_current(bool at_end);
    std::size_t drain(Open& f);
    void close(Open& f, bool flush_partial);

    std::string m_path;
    LineConsumer& m_out;
    int m_grace;
    std::size_t m_max_line;
    bool m_first_open;
    Open m_cur;
    std::vector<Open> m_old;  // rotated files still being drained
    std::vector<char> m_buf;
    std::uint64_t m_rotations = 0;
};

}  // namespace saslguard::exporter
