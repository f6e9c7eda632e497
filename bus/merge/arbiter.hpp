#pragma once
/// Hot-hot arbitration of one venue's two slots into one stream of records, each published
/// once, as soon as its first copy arrives ("first arrival wins"). Per stream (venue,
/// channel, symbol) it keeps the last sequence published and judges every offered record
/// by the stream's sequence_rule: a duplicate is dropped and counted against its slot; a
/// record that leaves a hole is held for the hole-fill window in case the other slot
/// delivers the missing messages; when the window passes unfilled, a gap record is
/// published, then the held record. Loss is never silent.
///
/// Pure logic: no shared memory, no clock. The daemon feeds it records from the feeder
/// rings (offer) and calls tick() with its clock; tests drive it directly. All memory is
/// allocated by the constructor (stream table, hold buffers, content windows); offer() and
/// tick() never allocate.
#include "bus/merge/sequence_rule.hpp"
#include "bus/records.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mdbus::merge {

/// Where the arbiter's decisions go (the daemon: the output broadcast ring).
class merge_output {
 public:
  /// A record to publish as it is, won by `winner`.
  virtual void publish(std::span<const std::byte> record, slot_id winner) noexcept = 0;
  /// A hole neither slot filled in time.
  virtual void publish_gap(const gap_record& gap) noexcept = 0;

 protected:
  ~merge_output() = default;
};

struct arbiter_options {
  std::int64_t hole_fill_window_ns = 3'000'000;  ///< how long a hole waits for the other slot
  /// Stream table capacity: the configured streams plus headroom. Memory is allocated up
  /// front: about hold_bytes_per_stream + 24 B x hold_records_per_stream per stream (1024
  /// streams with the defaults: 19 MiB).
  std::size_t max_streams = 1024;
  std::size_t hold_bytes_per_stream = 16 * 1024;  ///< records held behind a hole, per stream
  std::size_t hold_records_per_stream = 128;
  std::size_t content_window = 64;  ///< remembered (time, content) hashes per sequence-less stream
};

inline constexpr std::size_t kSlots = 2;

struct stream_stats {
  std::array<std::uint64_t, kSlots> published{};   ///< first arrivals, by winning slot
  std::array<std::uint64_t, kSlots> duplicates{};  ///< later copies dropped, by slot
  std::uint64_t holes_filled = 0;  ///< holes the other slot closed within the window
  std::uint64_t gaps = 0;          ///< gap records published
  std::uint64_t resets = 0;        ///< venue sequence resets followed
  std::uint64_t rebases = 0;       ///< snapshots that moved the sequence past a hole or a start
};

/// Why offer() refused a record outright (counted in arbiter_stats).
enum class offer_refusal : std::uint8_t { none, no_stream_room, bad_slot, hold_full };

struct arbiter_stats {
  std::uint64_t offered = 0;
  std::uint64_t published = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t gaps = 0;
  std::uint64_t holes_filled = 0;
  std::uint64_t no_stream_room = 0;  ///< records of a stream beyond max_streams: dropped
  std::uint64_t bad_slot = 0;        ///< records claiming a slot other than a or b: dropped
  std::uint64_t hold_overflows = 0;  ///< holes resolved early because the hold buffer was full
};

class arbiter {
 public:
  arbiter(const arbiter_options& options, merge_output& out);

  /// Judge one validated record from slot `from` at merger time `now_ns`.
  void offer(const record_view& record, slot_id from, std::int64_t now_ns) noexcept;

  /// Resolve holds whose window has passed by `now_ns`: gap record, then the held records.
  void tick(std::int64_t now_ns) noexcept;

  /// Earliest time a hold expires, or INT64_MAX when nothing is held: when to call tick().
  [[nodiscard]] std::int64_t next_deadline() const noexcept { return next_deadline_; }

  [[nodiscard]] const arbiter_stats& stats() const noexcept { return stats_; }
  /// Stats of one stream; nullptr if the arbiter has not seen it.
  [[nodiscard]] const stream_stats* stream(venue v, channel c, std::string_view symbol) const noexcept;
  [[nodiscard]] std::size_t stream_count() const noexcept { return used_streams_; }

 private:
  struct stream_key {
    venue v;
    channel c;
    std::array<char, kSymbolCapacity> symbol;
    bool operator==(const stream_key&) const noexcept = default;
  };
  struct key_hash {
    std::size_t operator()(const stream_key& k) const noexcept;
  };
  struct held_record {
    std::uint32_t offset;  ///< in the stream's hold buffer
    std::uint32_t size;
    slot_id from;
    std::int64_t arrived_ns;
  };
  struct stream_state {
    bool has_last = false;
    std::uint64_t last = 0;
    // Per slot, a split snapshot in progress: its later parts follow the first part's verdict.
    struct open_parts {
      bool open = false;
      bool published = false;
      std::uint64_t seq = 0;
    };
    std::array<open_parts, kSlots> parts{};
    // Records held behind a hole, in arrival order; bytes packed in `hold`.
    std::vector<std::byte> hold;
    std::size_t hold_used = 0;
    std::vector<held_record> held;
    // Sequence-less streams: recent content hashes (ring).
    std::vector<std::uint64_t> recent;
    std::size_t recent_next = 0;
    stream_stats stats;
  };
  enum class verdict : std::uint8_t { duplicate, next, hole, reset, rebase };

  stream_state* find_or_add(const record_header& h) noexcept;
  verdict judge(stream_state& s, const record_view& r) const noexcept;
  /// Publish, update the stream's sequence; `v` is next, reset or rebase.
  void accept(stream_state& s, const record_view& r, slot_id from, verdict v) noexcept;
  void hold(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns) noexcept;
  /// Publish or drop held records the stream can now take; repeat until none moves.
  void drain(stream_state& s) noexcept;
  /// Give up waiting on the hole before the held record with the lowest sequence.
  void force_oldest_hole(stream_state& s, std::int64_t now_ns) noexcept;
  void remove_held(stream_state& s, std::size_t index) noexcept;
  void update_deadline() noexcept;
  [[nodiscard]] std::uint64_t content_hash(const record_view& r) const noexcept;

  arbiter_options options_;
  merge_output& out_;
  std::vector<stream_state> streams_;
  std::size_t used_streams_ = 0;
  std::unordered_map<stream_key, std::uint32_t, key_hash> index_;
  std::vector<std::uint32_t> holding_;  ///< streams with held records
  std::int64_t next_deadline_;
  arbiter_stats stats_;
};

}  // namespace mdbus::merge
