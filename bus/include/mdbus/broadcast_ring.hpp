#pragma once
/// Single-writer, many-reader broadcast ring (merger → strategies, tools). The writer never
/// waits for anyone; readers need no registration and map the segment read-only.
///
/// How a reader knows a frame is ready, with one cache line: every frame header carries a
/// stamp = (frame sequence number + 1), stored last with release. A reader at sequence s
/// waits for stamp s+1 at its position. Stale bytes can never fake that stamp: before
/// publishing a frame the writer zeroes the stamp word where the *next* header will go, and
/// older stamps are all smaller.
///
/// How a reader knows it was lapped, with certainty: the writer only overwrites bytes after
/// moving `reclaim` (the oldest position still intact) past them — the reclaim store, then
/// the new bytes as release stores. A reader copies a frame out with acquire loads and then
/// checks that its position is still >= reclaim; if any new byte reached the copy, the
/// release/acquire pair guarantees the reader sees the moved reclaim. Reclaim advances in chunks of
/// capacity/8, so the line holding it changes rarely and stays in the readers' caches: the
/// check costs a cache hit, not a second cross-core transfer per frame. The price is that
/// a reader is declared lapped up to capacity/8 + one frame earlier than strictly needed.
///
/// Reads copy out (never zero copy): the bytes could be overwritten while the caller looks
/// at them, and no torn byte may reach a caller. Payload words are moved with 8-byte
/// release stores / acquire loads (plain moves on x86-64) so the seqlock pattern is
/// race-free in the C++ model without fences, and TSan can check it.
#include "mdbus/detail/align.hpp"
#include "mdbus/reader_table.hpp"
#include "mdbus/shm_segment.hpp"

#include <atomic>
#include <cstdint>
#include <span>

namespace mdbus {

struct broadcast_ring_control {
  // Writer line: stored every frame, read by readers only when they start or resume at the
  // newest frame, and by tools.
  alignas(kCacheLine) std::atomic<std::uint64_t> head;  ///< end of the last published frame
  std::atomic<std::uint64_t> next_seq;                  ///< sequence the next frame will get
  /// Start of the last published frame + 1; 0 = nothing published yet (a zero-filled
  /// segment, as created, reads as empty).
  std::atomic<std::uint64_t> last_frame;
  std::uint8_t writer_pad[kCacheLine - 24];
  // Reclaim line: changes once per capacity/8 bytes written; read by every read.
  alignas(kCacheLine) std::atomic<std::uint64_t> reclaim;  ///< oldest intact frame start
  std::uint8_t reclaim_pad[kCacheLine - 8];
};
static_assert(sizeof(broadcast_ring_control) == 2 * kCacheLine);
static_assert(offsetof(broadcast_ring_control, reclaim) == kCacheLine);

struct broadcast_frame_header {
  std::uint64_t stamp;   ///< frame sequence + 1; 0 = nothing published here
  std::uint32_t length;  ///< payload bytes
  std::uint32_t type;    ///< 0 = padding at the wrap (carries the stamp of the frame after it)
};
static_assert(sizeof(broadcast_frame_header) == 16);

inline constexpr std::uint64_t kBroadcastFrameAlign = 16;
inline constexpr std::size_t kBroadcastDataOffset = kSegmentHeaderSize + sizeof(broadcast_ring_control);

/// capacity: power of two >= 4096; one aligned frame of max_payload must fit in capacity/4.
struct broadcast_ring_geometry {
  std::uint64_t capacity = 0;
  std::uint64_t max_payload = 0;
};

std::string check_geometry(const broadcast_ring_geometry& g);

/// A ring's control words as a reader loads them before trusting the ring, in this order:
/// reclaim and last_frame with acquire, then head and next_seq.
struct broadcast_control_words {
  std::uint64_t reclaim = 0;
  std::uint64_t last_frame = 0;
  std::uint64_t head = 0;
  std::uint64_t next_seq = 0;
};

/// Loads `c` in the order above.
broadcast_control_words load_control_words(const broadcast_ring_control& c) noexcept;

/// Why these words cannot come from a writer of this layout ("" when they can): positions
/// not frame-aligned, reclaim past head, a last frame at or past head, a last frame with no
/// sequence published. Only rules a live writer keeps under any interleaving with the loads
/// above, so a reader attaching to a busy ring is never refused by mistake. Pure.
std::string check_control(const broadcast_control_words& w);

class broadcast_ring_writer {
 public:
  broadcast_ring_writer() = default;
  /// Creates the ring, or adopts a dead writer's ring and continues its sequence; also creates
  /// (or adopts) its reader table `<name>.readers` with the same mode. The writer never reads
  /// the table: it only makes it exist so readers can register (reader_table.hpp).
  static broadcast_ring_writer create(const std::string& name, const broadcast_ring_geometry& g, mode_t mode = 0600);

  /// Publish one frame (type != 0). False only if payload > max_payload. Never waits.
  [[nodiscard]] bool write(std::uint32_t type, std::span<const std::byte> payload) noexcept;

  /// After a batch of writes: wakes the readers that sleep on the ring's doorbell (the reader
  /// table's first line), if any — a fence and one load when none does (doorbell.hpp). With
  /// nothing written since the last notify it does nothing at all, as the SPSC writer's.
  void notify() noexcept {
    doorbell_line* d = readers_.doorbell();
    if (d == nullptr || seq_ == rung_seq_) return;
    rung_seq_ = seq_;
    doorbell_ring(*d);
  }
  /// From an idle path: clears the doorbell bits of readers that died asleep (reader_table).
  std::uint32_t sweep_dead_sleepers() noexcept { return readers_.sweep_dead_sleepers(); }

  [[nodiscard]] shm_segment& segment() noexcept { return segment_; }
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return seq_; }
  [[nodiscard]] std::uint64_t head() const noexcept { return head_; }
  [[nodiscard]] const reader_table& readers() const noexcept { return readers_; }

 private:
  void reclaim_up_to(std::uint64_t limit) noexcept;

  shm_segment segment_;
  reader_table readers_;
  broadcast_ring_control* control_ = nullptr;
  std::byte* data_ = nullptr;
  broadcast_ring_geometry geometry_{};
  std::uint64_t mask_ = 0;
  std::uint64_t head_ = 0;
  std::uint64_t seq_ = 0;
  std::uint64_t rung_seq_ = 0;  // seq_ at the last notify()
  std::uint64_t reclaim_ = 0;
};

enum class broadcast_read_status {
  ok,
  empty,
  lapped,     ///< the reader fell too far behind; it has moved on per its lap policy
  too_small,  ///< the frame is larger than the buffer; nothing consumed, `length` says how much is needed
  corrupt,    ///< a header contradicts the geometry while the reader is not lapped
};

enum class start_position { oldest, newest };
enum class lap_policy { resume_oldest, resume_newest };

struct broadcast_read_result {
  broadcast_read_status status = broadcast_read_status::empty;
  std::uint32_t type = 0;
  std::uint32_t length = 0;          ///< payload bytes copied (or needed, for too_small)
  std::uint64_t seq = 0;             ///< sequence of the frame read
  std::uint64_t missed_frames = 0;   ///< for lapped: frames skipped
  std::uint64_t missed_bytes = 0;    ///< for lapped: ring bytes skipped
};

class broadcast_ring_reader {
 public:
  broadcast_ring_reader() = default;
  static attach_status try_open(const std::string& name, broadcast_ring_reader& out, std::string& reason,
                                start_position start = start_position::newest,
                                lap_policy policy = lap_policy::resume_oldest);
  /// try_open checks the header, the geometry against the segment's size and the control
  /// words (check_control) before it reads a frame: a ring that fails any is `incompatible`.
  /// Throwing form; waits up to wait_ms for the writer to create the ring.
  static broadcast_ring_reader open(const std::string& name, start_position start = start_position::newest,
                                    lap_policy policy = lap_policy::resume_oldest, int wait_ms = 0);

  /// Copy the next frame's payload into `out`. On `lapped` nothing is copied; the reader has
  /// already repositioned (per its lap policy) and the next call reads from there.
  [[nodiscard]] broadcast_read_result try_read(std::span<std::byte> out) noexcept;

  /// Peek before copy, for readers that filter on a frame's first bytes (a record header):
  /// copies only the first min(head.size(), length) payload bytes of the next frame into
  /// `head` and validates them exactly as try_read validates a whole copy (the reclaim check
  /// after the copy), without consuming the frame. On ok, `length` is the whole payload's
  /// length (`type`, `seq` as for try_read); follow with skip_peeked() to drop the frame
  /// without copying the rest, or read_peeked() to copy the rest. Any other status is what
  /// try_read would have returned, with the same effect (lapped has repositioned).
  [[nodiscard]] broadcast_read_result try_peek(std::span<std::byte> head) noexcept;
  /// Drops the frame of the last ok try_peek (no copy, no shared-memory access). Without one,
  /// does nothing.
  void skip_peeked() noexcept;
  /// Copies the rest of the frame of the last ok try_peek into `out` — the buffer given to
  /// try_peek, whose first bytes already hold the peeked prefix (they are not copied again) —
  /// and validates the whole copy, prefix included, with one more reclaim check: ok consumes
  /// the frame and `out` holds exactly the published payload; lapped means the frame was
  /// overwritten after the peek (nothing valid in `out`, reader repositioned). too_small:
  /// `out` is shorter than the frame, nothing consumed. Without a peek, same as try_read.
  [[nodiscard]] broadcast_read_result read_peeked(std::span<std::byte> out) noexcept;

  [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }
  [[nodiscard]] std::uint64_t next_seq() const noexcept { return seq_; }
  /// Frames published that this reader has not read yet (approximate while the writer runs).
  [[nodiscard]] std::uint64_t lag_frames() const noexcept;
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }
  [[nodiscard]] const broadcast_ring_geometry& geometry() const noexcept { return geometry_; }

 private:
  struct frame_ref {
    const std::byte* payload;
    std::uint32_t length;
    std::uint32_t type;
  };
  bool reposition(start_position where) noexcept;
  broadcast_read_result lapped() noexcept;
  broadcast_read_result unless_lapped(broadcast_read_status s, std::uint32_t length) noexcept;
  /// ok: `f` is the published frame at pos_ (past a padding frame); else the result to return.
  broadcast_read_result next_frame(frame_ref& f) noexcept;
  /// Consumes `f` (copied and validated): the ok result.
  broadcast_read_result finish(const frame_ref& f) noexcept;

  shm_segment segment_;
  const broadcast_ring_control* control_ = nullptr;
  const std::byte* data_ = nullptr;
  broadcast_ring_geometry geometry_{};
  std::uint64_t mask_ = 0;
  std::uint64_t pos_ = 0;
  std::uint64_t seq_ = 0;
  lap_policy policy_ = lap_policy::resume_oldest;
  // The frame of the last ok try_peek, at pos_; cleared by any other read.
  frame_ref peeked_{nullptr, 0, 0};
  std::uint32_t peeked_bytes_ = 0;  ///< payload bytes already copied by the peek
  std::uint64_t prefetched_ = 0;  ///< try_peek: ring position up to which lines were prefetched
};

}  // namespace mdbus
