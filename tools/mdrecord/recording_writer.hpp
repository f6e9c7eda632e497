#pragma once
/// Writes a recording (format: recording_format.hpp): entries are gathered into blocks, each
/// block compressed as one zstd frame, files rotated, an index entry per block.
///
/// Durability without giving up determinism: the open block is written *provisionally*
/// (compressed as it stands, at the position where the block starts, file truncated after it)
/// whenever flush() is called — mdrecord does so every --flush-ms. A crash therefore loses at
/// most one flush interval, and since the next write of that block goes to the same offset
/// and truncates again, the final file is the same as if no provisional write had happened.
#include "tools/mdrecord/recording_format.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace mdbus::recording {

/// A set-up or I/O failure; the message names the file.
class recording_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct writer_options {
  std::filesystem::path dir;                       ///< created if missing; must hold no recording yet
  std::uint64_t ring_capacity = 0;                 ///< recorded ring's geometry, into the file headers
  std::uint64_t ring_max_payload = 0;
  std::size_t block_bytes = std::size_t{1} << 20;  ///< close a block at this many entry bytes
  std::int64_t block_span_ns = 10'000'000'000;     ///< … or when a record's publish time enters a new span
  std::uint64_t file_bytes = std::uint64_t{256} << 20;  ///< rotate at this many entry bytes
  std::int64_t file_span_ns = 3'600'000'000'000;   ///< … or when publish time enters a new span
  int level = 3;                                   ///< zstd compression level
};

struct writer_stats {
  std::uint64_t entries = 0, records = 0, laps = 0, missed_frames = 0;
  std::uint64_t entry_bytes = 0, compressed_bytes = 0;  ///< compressed: closed blocks only
  std::uint32_t files = 0, blocks = 0;
};

class recording_writer {
 public:
  explicit recording_writer(writer_options o);
  ~recording_writer() noexcept;  ///< closes (reports, never throws)
  recording_writer(const recording_writer&) = delete;
  recording_writer& operator=(const recording_writer&) = delete;

  /// One ring frame, as read. `publish_ns`: its record's publish time (0 if not a record).
  void add_record(std::uint32_t frame_type, std::span<const std::byte> frame, std::int64_t publish_ns);
  /// Frames the recorder lost (a lap), so a reader of the file sees the hole.
  void add_lap(std::uint64_t missed_frames, std::uint64_t missed_bytes, bool corrupt);
  /// Write the open block provisionally (see above). Cheap when nothing changed.
  void flush();
  /// Close the last block and the files. Further calls do nothing.
  void close();

  [[nodiscard]] const writer_stats& stats() const noexcept { return stats_; }
  [[nodiscard]] std::filesystem::path data_path(std::uint32_t file) const;
  [[nodiscard]] std::filesystem::path index_path(std::uint32_t file) const;

 private:
  void add_entry(entry_kind kind, std::uint32_t frame_type, std::span<const std::byte> payload, std::int64_t publish_ns);
  void open_file();
  void write_block(bool final);
  void close_block();
  void close_file();

  writer_options o_;
  struct cctx_deleter {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, cctx_deleter> cctx_;  ///< ZSTD_CCtx, reused; freed even if the constructor throws
  int data_fd_ = -1, index_fd_ = -1;
  std::uint32_t file_ = 0;
  bool file_open_ = false;
  bool closed_ = false;
  std::uint64_t file_entry_bytes_ = 0;
  std::int64_t file_span_key_ = INT64_MIN;
  std::uint64_t block_offset_ = 0;   ///< where the open block's frame goes
  std::uint32_t block_number_ = 0;   ///< index slot of the open block
  std::vector<std::byte> block_;     ///< open block's entries, uncompressed
  std::vector<std::byte> compressed_;
  index_entry block_entry_{};
  std::int64_t block_span_key_ = INT64_MIN;
  bool dirty_ = false;               ///< block_ changed since it was last written
  std::int64_t last_publish_ns_ = 0;
  std::uint64_t next_entry_ = 0;
  writer_stats stats_;
};

}  // namespace mdbus::recording
