#pragma once
/// Appends the ground-truth log (format in truth_format.hpp). Buffered; the server flushes it
/// every few milliseconds so a verifier can follow the file while exsim runs.
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
  ~truth_writer();  ///< flushes; reports (never throws) a write error

  void append(const stream_info& s, std::string_view payload, const event_meta& meta, std::uint32_t conn_id,
              std::int64_t gen_ns);
  /// Writes buffered entries to the file (and the kernel), so readers see them.
  void flush() noexcept;
  [[nodiscard]] std::uint64_t count() const noexcept { return next_index_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::vector<truth_entry> buf_;
  std::uint64_t next_index_ = 0;
  bool failed_ = false;
};

}  // namespace mdbus::exsim
