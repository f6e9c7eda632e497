#include "tools/exsim/truth_writer.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mdbus::exsim {
namespace {
constexpr std::size_t kFlushEntries = 4096;

void copy_padded(char* dst, std::size_t cap, const std::string& src) {
  std::memset(dst, 0, cap);
  std::memcpy(dst, src.data(), std::min(cap, src.size()));
}
}  // namespace

truth_writer::truth_writer(const std::string& path, const stream_registry& streams, std::uint64_t seed,
                           std::int64_t now_ns)
    : path_(path) {
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr) throw std::runtime_error("truth log " + path + ": " + std::strerror(errno));
  truth_file_header h{};
  std::memcpy(h.magic, kTruthMagic, sizeof h.magic);
  h.version = kTruthVersion;
  h.entry_size = sizeof(truth_entry);
  h.stream_count = static_cast<std::uint32_t>(streams.size());
  h.stream_record_size = sizeof(truth_stream_record);
  h.entries_offset = sizeof h + streams.size() * sizeof(truth_stream_record);
  h.seed = seed;
  h.start_time_ns = now_ns;
  bool ok = std::fwrite(&h, sizeof h, 1, file_) == 1;
  for (const auto& s : streams.all()) {
    truth_stream_record r{};
    r.stream_id = s.id;
    r.venue = static_cast<std::uint8_t>(s.venue_id);
    r.channel = static_cast<std::uint8_t>(s.channel_id);
    r.depth_levels = s.depth_levels;
    copy_padded(r.symbol, sizeof r.symbol, s.symbol);
    copy_padded(r.name, sizeof r.name, s.name);
    ok = ok && std::fwrite(&r, sizeof r, 1, file_) == 1;
  }
  ok = ok && std::fflush(file_) == 0;
  if (!ok) {
    std::fclose(file_);
    throw std::runtime_error("truth log " + path + ": cannot write header");
  }
  buf_.reserve(kFlushEntries);
}

truth_writer::~truth_writer() {
  unstamped_ = buf_.size();  // never written: they keep their generation time
  write_out(buf_.size());
  if (file_ != nullptr) std::fclose(file_);
}

void truth_writer::append(const stream_info& s, std::string_view payload, const event_meta& meta,
                          std::uint32_t conn_id, std::int64_t gen_ns) {
  truth_entry e{};
  ++next_index_;
  e.first_seq = meta.first_seq;
  e.last_seq = meta.last_seq;
  e.prev_seq = meta.prev_seq;
  e.event_time_ms = meta.event_time_ms;
  e.gen_time_ns = gen_ns;
  e.payload_hash = truth_hash(payload);
  e.payload_len = static_cast<std::uint32_t>(payload.size());
  e.conn_id = conn_id;
  e.stream_id = s.id;
  e.venue = static_cast<std::uint8_t>(s.venue_id);
  e.channel = static_cast<std::uint8_t>(s.channel_id);
  e.flags = meta.flags;
  buf_.push_back(e);
  // A full buffer goes out as far as it is stamped (the rest waits for its write).
  if (buf_.size() >= kFlushEntries && unstamped_ > 0) write_out(unstamped_);
}

void truth_writer::stamp(std::int64_t now_ns) noexcept {
  for (std::size_t i = unstamped_; i < buf_.size(); ++i) buf_[i].gen_time_ns = now_ns;
  unstamped_ = buf_.size();
}

void truth_writer::flush(std::int64_t now_ns) noexcept {
  // Unstamped entries are in generation order: those no write followed in time go as they are.
  while (unstamped_ < buf_.size() && now_ns - buf_[unstamped_].gen_time_ns >= kUnwrittenAfterNs) ++unstamped_;
  write_out(unstamped_);
}

void truth_writer::write_out(std::size_t n) noexcept {
  if (n == 0 || file_ == nullptr) return;
  const bool ok = std::fwrite(buf_.data(), sizeof(truth_entry), n, file_) == n && std::fflush(file_) == 0;
  if (!ok && !failed_) {
    failed_ = true;
    std::fprintf(stderr, "exsim: truth log %s: write failed: %s\n", path_.c_str(), std::strerror(errno));
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
  unstamped_ -= n;
}

}  // namespace mdbus::exsim
