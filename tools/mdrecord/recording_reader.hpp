#pragma once
/// Reads a recording (format: recording_format.hpp) entry by entry: every data file of a
/// directory in order, or one data file. Validates headers and every entry's bounds; a last
/// block cut short (a recorder that crashed mid-write) ends the reading and sets truncated().
#include "tools/mdrecord/recording_format.hpp"
#include "tools/mdrecord/recording_writer.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace mdbus::recording {

struct entry {
  entry_kind kind = entry_kind::record;
  std::uint32_t frame_type = 0;
  std::span<const std::byte> payload;  ///< valid until the next call to next()
  std::uint64_t ordinal = 0;           ///< position in the recording, from 0
  std::uint32_t file = 0;
};

class recording_reader {
 public:
  /// `path`: a recording directory or one `mdrec-NNNNNN.zst`. Throws recording_error naming
  /// the file for anything unreadable or not a recording of this format.
  explicit recording_reader(const std::filesystem::path& path);
  ~recording_reader() noexcept;
  recording_reader(const recording_reader&) = delete;
  recording_reader& operator=(const recording_reader&) = delete;

  /// The next entry, or false at the end. Throws recording_error for a corrupt block.
  bool next(entry& out);

  [[nodiscard]] const std::vector<std::filesystem::path>& files() const noexcept { return files_; }
  /// Header of the first data file (ring geometry, layout version).
  [[nodiscard]] const file_header& first_header() const noexcept { return first_header_; }
  [[nodiscard]] bool truncated() const noexcept { return truncated_; }

  /// A data file's index entries (from its .idx), for tools.
  static std::vector<index_entry> read_index(const std::filesystem::path& data_file);

 private:
  bool open_next_file();
  bool next_block();

  std::vector<std::filesystem::path> files_;
  std::size_t file_pos_ = 0;
  file_header first_header_{};
  std::vector<std::byte> data_;   ///< current file, compressed
  std::size_t data_pos_ = 0;
  std::vector<std::byte> block_;  ///< current block, decompressed
  std::size_t block_pos_ = 0;
  struct dctx_deleter {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, dctx_deleter> dctx_;  ///< ZSTD_DCtx, reused; freed even if the constructor throws
  std::uint64_t ordinal_ = 0;
  bool truncated_ = false;
};

}  // namespace mdbus::recording
