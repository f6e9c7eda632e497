#include "tools/mdrecord/recording_reader.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

namespace mdbus::recording {

namespace {

ZSTD_DCtx* dctx_of(void* p) { return static_cast<ZSTD_DCtx*>(p); }

std::vector<std::byte> read_all(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw recording_error(p.string() + ": cannot open");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::size_t>(in.tellg());
  in.seekg(0);
  std::vector<std::byte> v(size);
  if (size != 0 && !in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(size)))
    throw recording_error(p.string() + ": read failed");
  return v;
}

bool is_data_file(const std::filesystem::path& p) {
  const std::string n = p.filename().string();
  return n.size() == 16 && n.rfind("mdrec-", 0) == 0 && n.substr(12) == ".zst";
}

}  // namespace

recording_reader::recording_reader(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (is_data_file(e.path())) files_.push_back(e.path());
    std::sort(files_.begin(), files_.end());
    if (files_.empty()) throw recording_error(path.string() + ": no recording here (no mdrec-NNNNNN.zst)");
  } else if (std::filesystem::exists(path, ec)) {
    files_.push_back(path);
  } else {
    throw recording_error(path.string() + ": does not exist");
  }
  dctx_.reset(ZSTD_createDCtx());
  if (!dctx_) throw recording_error("zstd: cannot create a decompression context");
  if (!open_next_file()) throw recording_error(files_.front().string() + ": empty");
  first_header_ = {};
  std::memcpy(&first_header_, data_.data() + 8, sizeof first_header_);
}

recording_reader::~recording_reader() noexcept = default;

void recording_reader::dctx_deleter::operator()(void* p) const noexcept { ZSTD_freeDCtx(dctx_of(p)); }

bool recording_reader::open_next_file() {
  if (file_pos_ >= files_.size()) return false;
  const auto& p = files_[file_pos_++];
  data_ = read_all(p);
  std::uint32_t skip[2] = {0, 0};
  file_header h{};
  if (data_.size() < sizeof skip + sizeof h) throw recording_error(p.string() + ": not an mdbus recording (too short for its header)");
  std::memcpy(skip, data_.data(), sizeof skip);
  std::memcpy(&h, data_.data() + sizeof skip, sizeof h);
  if (skip[0] != kSkippableMagic || skip[1] != sizeof h || h.magic != kFileMagic)
    throw recording_error(p.string() + ": not an mdbus recording (bad magic)");
  if (h.format_version != kFormatVersion)
    throw recording_error(p.string() + ": recording format " + std::to_string(h.format_version) + ", this build reads " +
                          std::to_string(kFormatVersion));
  data_pos_ = sizeof skip + sizeof h;
  block_.clear();
  block_pos_ = 0;
  ordinal_ = h.first_entry;
  return true;
}

bool recording_reader::next_block() {
  for (;;) {
    if (data_pos_ >= data_.size()) {
      if (truncated_ || !open_next_file()) return false;
      continue;
    }
    const std::byte* src = data_.data() + data_pos_;
    const std::size_t avail = data_.size() - data_pos_;
    const std::size_t frame = ZSTD_findFrameCompressedSize(src, avail);
    const unsigned long long size = ZSTD_getFrameContentSize(src, avail);
    if (ZSTD_isError(frame) || size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
      // A block cut short: the recorder died while writing it. Everything before is good.
      truncated_ = true;
      return false;
    }
    block_.resize(size);
    const std::size_t n = ZSTD_decompressDCtx(dctx_of(dctx_.get()), block_.data(), block_.size(), src, frame);
    if (ZSTD_isError(n) || n != size)
      throw recording_error(files_[file_pos_ - 1].string() + ": block at " + std::to_string(data_pos_) +
                            " does not decompress: " + (ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short"));
    data_pos_ += frame;
    block_pos_ = 0;
    if (!block_.empty()) return true;
  }
}

bool recording_reader::next(entry& out) {
  if (block_pos_ >= block_.size() && !next_block()) return false;
  entry_header h{};
  if (block_.size() - block_pos_ < sizeof h)
    throw recording_error(files_[file_pos_ - 1].string() + ": entry header cut short in a block");
  std::memcpy(&h, block_.data() + block_pos_, sizeof h);
  if (h.length > block_.size() - block_pos_ - sizeof h || (h.kind != static_cast<std::uint32_t>(entry_kind::record) &&
                                                            h.kind != static_cast<std::uint32_t>(entry_kind::lap)))
    throw recording_error(files_[file_pos_ - 1].string() + ": bad entry (kind " + std::to_string(h.kind) + ", length " +
                          std::to_string(h.length) + ")");
  out.kind = static_cast<entry_kind>(h.kind);
  out.frame_type = h.frame_type;
  out.payload = std::span<const std::byte>(block_.data() + block_pos_ + sizeof h, h.length);
  out.ordinal = ordinal_++;
  out.file = static_cast<std::uint32_t>(file_pos_ - 1);
  block_pos_ += sizeof h + h.length;
  return true;
}

std::vector<index_entry> recording_reader::read_index(const std::filesystem::path& data_file) {
  auto idx = data_file;
  idx.replace_extension(".idx");
  const auto bytes = read_all(idx);
  index_header h{};
  if (bytes.size() < sizeof h) throw recording_error(idx.string() + ": too short");
  std::memcpy(&h, bytes.data(), sizeof h);
  if (h.magic != kIndexMagic || h.format_version != kFormatVersion) throw recording_error(idx.string() + ": not an mdbus index");
  std::vector<index_entry> v((bytes.size() - sizeof h) / sizeof(index_entry));
  if (!v.empty()) std::memcpy(v.data(), bytes.data() + sizeof h, v.size() * sizeof(index_entry));
  return v;
}

}  // namespace mdbus::recording
