#pragma once
/// Reader for exsim's ground-truth log (format in truth_format.hpp). Header-only so a
/// verifier links nothing but mdbus::exsim_truth.
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/exsim/truth_format.hpp"

namespace mdbus::exsim {

/// A stream of the truth file, decoded.
struct truth_stream {
  std::uint16_t id = 0;
  venue venue_id = venue::unknown;
  channel channel_id = channel::unknown;
  std::uint8_t depth_levels = 0;
  std::string symbol;  ///< "BTCUSDT", "BTC-USDT"
  std::string name;    ///< "btcusdt@depth@100ms", "books:BTC-USDT"
};

/// Error opening or parsing a truth file; the message names the file.
class truth_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a truth log, also while exsim is still appending to it: next() returns entries
/// as they become complete and stops (nullopt) at a partial trailing entry.
class truth_reader {
 public:
  /// Opens and validates the header and stream table. Throws truth_error.
  explicit truth_reader(const std::string& path) : path_(path) {
    file_ = std::fopen(path.c_str(), "rb");
    if (file_ == nullptr) throw truth_error("truth log " + path + ": cannot open");
    truth_file_header h{};
    if (std::fread(&h, sizeof h, 1, file_) != 1) fail("short header");
    if (std::memcmp(h.magic, kTruthMagic, sizeof h.magic) != 0) fail("bad magic");
    if (h.version != kTruthVersion) fail("unsupported version " + std::to_string(h.version));
    if (h.entry_size != sizeof(truth_entry)) fail("entry size " + std::to_string(h.entry_size));
    if (h.stream_record_size != sizeof(truth_stream_record)) fail("bad stream record size");
    if (h.stream_count > 65535) fail("stream count out of range");
    if (h.entries_offset != sizeof h + std::uint64_t{h.stream_count} * sizeof(truth_stream_record))
      fail("entries offset does not match the stream table");
    header_ = h;
    streams_.reserve(h.stream_count);
    for (std::uint32_t i = 0; i < h.stream_count; ++i) {
      truth_stream_record r{};
      if (std::fread(&r, sizeof r, 1, file_) != 1) fail("short stream table");
      if (r.stream_id != i) fail("stream table out of order at " + std::to_string(i));
      truth_stream s;
      s.id = r.stream_id;
      s.venue_id = static_cast<venue>(r.venue);
      s.channel_id = static_cast<channel>(r.channel);
      s.depth_levels = r.depth_levels;
      s.symbol.assign(r.symbol, strnlen(r.symbol, sizeof r.symbol));
      s.name.assign(r.name, strnlen(r.name, sizeof r.name));
      streams_.push_back(std::move(s));
    }
    offset_ = h.entries_offset;
  }
  truth_reader(const truth_reader&) = delete;
  truth_reader& operator=(const truth_reader&) = delete;
  ~truth_reader() {
    if (file_ != nullptr) std::fclose(file_);
  }

  const truth_file_header& header() const noexcept { return header_; }
  const std::vector<truth_stream>& streams() const noexcept { return streams_; }

  /// The stream with the venue's stream name ("btcusdt@trade", "books:BTC-USDT"), if any.
  const truth_stream* find(std::string_view name) const noexcept {
    for (const auto& s : streams_)
      if (s.name == name) return &s;
    return nullptr;
  }

  /// The next complete entry, or nullopt at the (current) end of the file. Call again later
  /// to follow a file that is still being written. Throws truth_error on a corrupt entry.
  std::optional<truth_entry> next() {
    truth_entry e{};
    if (std::fseek(file_, static_cast<long>(offset_), SEEK_SET) != 0) return std::nullopt;
    if (std::fread(&e, sizeof e, 1, file_) != 1) {
      std::clearerr(file_);
      return std::nullopt;
    }
    if (e.stream_id >= streams_.size()) fail("entry " + std::to_string(index()) + ": stream id out of range");
    offset_ += sizeof e;
    return e;
  }

  /// Index of the entry next() returns next (entries are numbered by position).
  [[nodiscard]] std::uint64_t index() const noexcept { return (offset_ - header_.entries_offset) / sizeof(truth_entry); }

  /// Every complete entry from the current position on.
  std::vector<truth_entry> read_all() {
    std::vector<truth_entry> out;
    while (auto e = next()) out.push_back(*e);
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw truth_error("truth log " + path_ + ": " + what);
  }

  std::string path_;
  std::FILE* file_ = nullptr;
  truth_file_header header_{};
  std::vector<truth_stream> streams_;
  std::uint64_t offset_ = 0;
};

}  // namespace mdbus::exsim
