#pragma once
/// What `mdbridge subscribe` writes into its ring for each JetStream message, decided apart
/// from NATS and shared memory (issue 18), so every case is unit-tested:
/// * a message at or below the last stream sequence written is a redelivery: skipped;
/// * a jump in the stream sequence (messages removed by the stream's limits before this
///   subscriber read them) becomes a gap record first: reason bridge_lost, venue unknown
///   (records of any stream may be lost), last_seq_held / first_seq_after = the stream
///   sequences around the hole;
/// * a payload that is not a valid record is never written (counted);
/// * each venue stream stays in its venue order. The stream holds what the publishing bridges
///   stored first, and two buses do not run in step: a bridge that starts (or restarts) while
///   its bus is behind the other's stores records older than those already stored. A record
///   with a venue sequence below the last one written for its stream is not written:
///   - below the stream's first record written by this subscriber, it is history from before
///     this subscriber's start of the stream; a book delta at or below the book snapshot
///     written is in that snapshot (the other bus's book started earlier): superseded, counted,
///     nothing lost;
///   - above it, the stream already went on without it: a gap record of the stream (reason
///     bridge_lost, last_seq_held = the last sequence written, first_seq_after = the late
///     record's) says so, and the record is counted.
///   A gap record of the stream (the merger's: a loss, a sequence reset) starts it afresh;
/// * a book snapshot older than the book its stream already has is dropped: both buses
///   publish their own REST snapshots (they differ, so JetStream keeps both), and a consumer
///   must not be sent back to an older book while the deltas run on. After a gap record of
///   the stream (or a bridge_lost gap) the next snapshot always goes through.
#include "mdbus/records.hpp"
#include "bus/stream_key.hpp"

#include <array>
#include <cstdint>
#include <unordered_map>

namespace mdbus::bridge {

struct inflow_counts {
  std::uint64_t written = 0;          ///< records to write
  std::uint64_t redelivered = 0;      ///< at or below the last stream sequence written
  std::uint64_t holes = 0;            ///< stream-sequence jumps (a bridge_lost gap each)
  std::uint64_t missing = 0;          ///< stream messages inside those jumps
  std::uint64_t not_records = 0;      ///< payloads record_view refused
  std::uint64_t stale_snapshots = 0;  ///< snapshots behind their stream's book
  std::uint64_t superseded = 0;       ///< older than their stream's first record here, or in its snapshot
  std::uint64_t late = 0;             ///< records behind their stream's last one here (a gap record each)
};

class inflow {
 public:
  /// `last_written`: the last stream sequence already in the ring (0: none; the first message
  /// then starts the run without a hole). `hole_reported`: a bridge_lost gap for the hole
  /// before the next message is already in the ring (a restart between writing it and the
  /// record itself).
  explicit inflow(std::uint64_t last_written = 0, bool hole_reported = false) noexcept
      : last_(last_written), hole_reported_(hole_reported) {}

  struct decision {
    bool write = false;  ///< write the message's record
    bool gap = false;    ///< write `gap_bytes` (a bridge_lost gap record) first
    gap_record gap_bytes{};
  };

  /// Judge the message with stream sequence `stream_seq` and payload `payload`.
  [[nodiscard]] decision offer(std::uint64_t stream_seq, std::span<const std::byte> payload, std::int64_t now_ns) noexcept;

  [[nodiscard]] std::uint64_t last_stream_seq() const noexcept { return last_; }
  [[nodiscard]] const inflow_counts& counts() const noexcept { return counts_; }

 private:
  struct stream_mark {
    std::uint64_t first = 0;      ///< venue sequence of the first record written (since a gap)
    std::uint64_t last = 0;       ///< venue sequence of the last record written
    bool has_last = false;
    std::uint64_t snap = 0;       ///< sequence of the last book snapshot written (since a gap)
    bool has_snap = false;
    std::uint64_t open_part = 0;  ///< a split snapshot being written: its sequence (parts share it)
    bool open = false;
    bool after_gap = true;        ///< no book yet, or a gap since: the next snapshot goes through
    std::uint64_t epoch = 0;      ///< gap_epoch_ when last seen
  };
  enum class verdict { write, stale_snapshot, superseded, late };
  verdict judge(const record_view& r) noexcept;

  std::uint64_t last_ = 0;
  bool hole_reported_ = false;
  std::uint64_t gap_epoch_ = 0;  ///< bumped by a bridge_lost gap: every stream starts afresh
  std::unordered_map<stream_key, stream_mark, stream_key_hash> streams_;
  inflow_counts counts_;
};

}  // namespace mdbus::bridge
