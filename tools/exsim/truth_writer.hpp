#pragma once
/// Appends the ground-truth log (format in truth_format.hpp). Buffered; the server flushes it
/// every few milliseconds so a verifier can follow the file while exsim runs.
///
/// gen_time_ns is exact: an event is appended when it is generated, unstamped, and stamped
/// with the wall clock (ns) of the first socket write after it (stamp_written(), called by
/// the server just before it hands a connection's bytes to the socket) — the moment the
/// event leaves exsim, with nothing of the generating tick's millisecond in it. An event no
/// write follows within kUnwrittenAfterNs (no subscriber; every subscriber stalled) keeps its
/// generation time. Entries reach the file in order, and only once stamped.
#include <cstdio>
#include <string>
#include <vector>

#include "tools/exsim/stream_registry.hpp"
#include "tools/exsim/truth_format.hpp"

namespace mdbus::exsim {

class truth_writer {
 public:
  /// Creates (truncates) the file and writes the header and stream table. Throws std::runtime_error.
  truth_writer(const std::string& path, const stream_registry& streams, std::uint64_t seed, std::int64_t now_ns);
  truth_writer(const truth_writer&) = delete;
  truth_writer& operator=(const truth_writer&) = delete;
  ~truth_writer();  ///< flushes everything (unwritten events with their generation time); reports (never throws) a write error

  /// How long an event waits for a socket write before it is logged with its generation time.
  static constexpr std::int64_t kUnwrittenAfterNs = 5'000'000;

  /// An event generated at `gen_ns` (CLOCK_REALTIME); stamped later by stamp_written().
  void append(const stream_info& s, std::string_view payload, const event_meta& meta, std::uint32_t conn_id,
              std::int64_t gen_ns);
  /// A socket write is about to happen at `now_ns` (CLOCK_REALTIME): every event appended
  /// since the last write takes it as its time. Cheap when there is nothing to stamp.
  void stamp_written(std::int64_t now_ns) noexcept {
    if (unstamped_ < buf_.size()) stamp(now_ns);
  }
  [[nodiscard]] bool has_unstamped() const noexcept { return unstamped_ < buf_.size(); }
  /// Writes the stamped entries to the file (and the kernel), so readers see them; entries
  /// left unwritten for kUnwrittenAfterNs by `now_ns` go too, with their generation time.
  void flush(std::int64_t now_ns) noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept { return next_index_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<truth_entry> buf_;
  std::size_t unstamped_ = 0;  ///< buf_[unstamped_..] wait for a write (gen_time_ns holds their generation time)
  std::uint64_t next_index_ = 0;
  bool failed_ = false;

  void stamp(std::int64_t now_ns) noexcept;
  void write_out(std::size_t n) noexcept;  ///< the first n entries of buf_ to the file
};

}  // namespace mdbus::exsim
