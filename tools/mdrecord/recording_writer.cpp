#include "tools/mdrecord/recording_writer.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mdbus/records.hpp"

namespace mdbus::recording {

namespace {

ZSTD_CCtx* cctx_of(void* p) { return static_cast<ZSTD_CCtx*>(p); }

std::string errno_text() { return std::strerror(errno); }

void pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset, const std::filesystem::path& path) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      throw recording_error(path.string() + ": write failed: " + errno_text());
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
}

void truncate_to(int fd, std::uint64_t size, const std::filesystem::path& path) {
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw recording_error(path.string() + ": truncate failed: " + errno_text());
}

int create_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) throw recording_error(path.string() + ": cannot create: " + errno_text());
  return fd;
}

/// Span number of a publish time, or INT64_MIN for "no time" (such records never cut).
std::int64_t span_key(std::int64_t publish_ns, std::int64_t span_ns) {
  return publish_ns > 0 && span_ns > 0 ? publish_ns / span_ns : INT64_MIN;
}

}  // namespace

recording_writer::recording_writer(writer_options o) : o_(std::move(o)) {
  std::error_code ec;
  std::filesystem::create_directories(o_.dir, ec);
  if (ec) throw recording_error(o_.dir.string() + ": cannot create directory: " + ec.message());
  if (std::filesystem::exists(data_path(0)))
    throw recording_error(o_.dir.string() + ": already holds a recording (" + data_path(0).filename().string() + ")");
  cctx_.reset(ZSTD_createCCtx());
  if (!cctx_) throw recording_error("zstd: cannot create a compression context");
  ZSTD_CCtx_setParameter(cctx_of(cctx_.get()), ZSTD_c_compressionLevel, o_.level);
  ZSTD_CCtx_setParameter(cctx_of(cctx_.get()), ZSTD_c_checksumFlag, 1);  // each block verifies on decompression
  block_.reserve(o_.block_bytes + 65536);
}

recording_writer::~recording_writer() noexcept {
  try {
    close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdrecord: closing the recording failed: %s\n", e.what());
  }
  if (data_fd_ >= 0) ::close(data_fd_);
  if (index_fd_ >= 0) ::close(index_fd_);
}

void recording_writer::cctx_deleter::operator()(void* p) const noexcept { ZSTD_freeCCtx(cctx_of(p)); }

std::filesystem::path recording_writer::data_path(std::uint32_t file) const {
  char name[32];
  std::snprintf(name, sizeof name, "mdrec-%06u.zst", file);
  return o_.dir / name;
}

std::filesystem::path recording_writer::index_path(std::uint32_t file) const {
  char name[32];
  std::snprintf(name, sizeof name, "mdrec-%06u.idx", file);
  return o_.dir / name;
}

void recording_writer::add_record(std::uint32_t frame_type, std::span<const std::byte> frame, std::int64_t publish_ns) {
  add_entry(entry_kind::record, frame_type, frame, publish_ns);
  ++stats_.records;
}

void recording_writer::add_lap(std::uint64_t missed_frames, std::uint64_t missed_bytes, bool corrupt) {
  lap_marker m{missed_frames, missed_bytes, last_publish_ns_, corrupt ? 1U : 0U, 0};
  add_entry(entry_kind::lap, 0, std::as_bytes(std::span<const lap_marker, 1>(&m, 1)), 0);
  ++stats_.laps;
  stats_.missed_frames += missed_frames;
}

void recording_writer::add_entry(entry_kind kind, std::uint32_t frame_type, std::span<const std::byte> payload,
                                 std::int64_t publish_ns) {
  if (closed_) throw recording_error(o_.dir.string() + ": recording already closed");
  const std::int64_t bkey = span_key(publish_ns, o_.block_span_ns);
  const std::int64_t fkey = span_key(publish_ns, o_.file_span_ns);
  // Boundaries depend on the entries only (sizes, publish times), never on timing.
  const bool rotate = file_open_ && (file_entry_bytes_ >= o_.file_bytes ||
                                     (fkey != INT64_MIN && file_span_key_ != INT64_MIN && fkey != file_span_key_));
  const bool cut = rotate || block_.size() >= o_.block_bytes ||
                   (bkey != INT64_MIN && block_span_key_ != INT64_MIN && bkey != block_span_key_);
  if (cut) close_block();
  if (rotate) close_file();
  if (!file_open_) open_file();

  entry_header h{static_cast<std::uint32_t>(kind), static_cast<std::uint32_t>(payload.size()), frame_type, 0};
  const auto* hb = reinterpret_cast<const std::byte*>(&h);
  block_.insert(block_.end(), hb, hb + sizeof h);
  block_.insert(block_.end(), payload.begin(), payload.end());
  if (block_entry_.entries == 0) block_entry_.first_entry = next_entry_;
  ++block_entry_.entries;
  if (kind == entry_kind::lap) ++block_entry_.laps;
  if (publish_ns > 0) {
    if (block_entry_.first_publish_ns == 0) block_entry_.first_publish_ns = publish_ns;
    block_entry_.last_publish_ns = publish_ns;
    block_span_key_ = bkey;
    file_span_key_ = fkey;
    last_publish_ns_ = publish_ns;
  }
  const std::uint64_t bytes = sizeof h + payload.size();
  file_entry_bytes_ += bytes;
  stats_.entry_bytes += bytes;
  ++stats_.entries;
  ++next_entry_;
  dirty_ = true;
}

void recording_writer::open_file() {
  const auto dpath = data_path(file_);
  const auto ipath = index_path(file_);
  data_fd_ = create_file(dpath);
  index_fd_ = create_file(ipath);
  // The header rides in a zstd skippable frame, so the file stays one valid zstd stream.
  const std::uint32_t skip[2] = {kSkippableMagic, sizeof(file_header)};
  const file_header fh{kFileMagic, kFormatVersion, kRecordLayoutVersion, file_, 0, o_.ring_capacity, o_.ring_max_payload,
                       next_entry_};
  pwrite_all(data_fd_, skip, sizeof skip, 0, dpath);
  pwrite_all(data_fd_, &fh, sizeof fh, sizeof skip, dpath);
  const index_header ih{kIndexMagic, kFormatVersion, file_};
  pwrite_all(index_fd_, &ih, sizeof ih, 0, ipath);
  block_offset_ = sizeof skip + sizeof fh;
  block_number_ = 0;
  file_entry_bytes_ = 0;
  file_span_key_ = INT64_MIN;
  file_open_ = true;
  ++stats_.files;
}

void recording_writer::write_block(bool final) {
  const auto dpath = data_path(file_);
  compressed_.resize(ZSTD_compressBound(block_.size()));
  const std::size_t n = ZSTD_compress2(cctx_of(cctx_.get()), compressed_.data(), compressed_.size(), block_.data(), block_.size());
  if (ZSTD_isError(n)) throw recording_error(dpath.string() + ": zstd: " + ZSTD_getErrorName(n));
  // Same offset as any provisional write of this block, then truncate: the file ends up as if
  // the block had been written once.
  pwrite_all(data_fd_, compressed_.data(), n, block_offset_, dpath);
  truncate_to(data_fd_, block_offset_ + n, dpath);
  block_entry_.offset = block_offset_;
  block_entry_.compressed = static_cast<std::uint32_t>(n);
  block_entry_.uncompressed = static_cast<std::uint32_t>(block_.size());
  const auto ipath = index_path(file_);
  const std::uint64_t slot = sizeof(index_header) + std::uint64_t{block_number_} * sizeof(index_entry);
  pwrite_all(index_fd_, &block_entry_, sizeof block_entry_, slot, ipath);
  truncate_to(index_fd_, slot + sizeof(index_entry), ipath);
  dirty_ = false;
  if (!final) return;
  block_offset_ += n;
  ++block_number_;
  ++stats_.blocks;
  stats_.compressed_bytes += n;
  block_.clear();
  block_entry_ = {};
  block_span_key_ = INT64_MIN;
}

void recording_writer::flush() {
  if (file_open_ && !block_.empty() && dirty_) write_block(false);
}

void recording_writer::close_block() {
  if (file_open_ && !block_.empty()) write_block(true);
}

void recording_writer::close_file() {
  if (!file_open_) return;
  close_block();
  const bool ok = ::fsync(data_fd_) == 0 && ::fsync(index_fd_) == 0;
  ::close(data_fd_);
  ::close(index_fd_);
  data_fd_ = index_fd_ = -1;
  file_open_ = false;
  ++file_;
  if (!ok) throw recording_error(data_path(file_ - 1).string() + ": fsync failed: " + errno_text());
}

void recording_writer::close() {
  if (closed_) return;
  closed_ = true;
  if (stats_.files == 0) open_file();  // an empty recording is still a recording: one header-only file
  close_file();
}

}  // namespace mdbus::recording
