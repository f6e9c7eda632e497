#pragma once
/// Single-producer single-consumer ring of variable-length frames in shared memory
/// (feeder → merger). Frames are 8-byte aligned with an 8-byte header; a padding frame
/// fills the end of the buffer when a frame would not fit before the wrap, so every
/// frame is contiguous and can be read in place (zero copy: the writer never overwrites
/// unread bytes). Head and tail are 64-bit monotonic byte positions on their own cache
/// lines. The writer keeps a private copy of the tail and reloads it only when that copy
/// says the ring is full. The reader never loads the head: a frame is published by the
/// release store of its 8-byte header word, and the word after the last published frame is
/// always zero, so the reader polls the header at its own position. Only the frame's own
/// cache lines cross between the cores; the head stays in the writer's cache (it is
/// stored for tools and backlog()). Cost: the ring holds at most capacity - 8 bytes of
/// frames (the zero word must fit).
///
/// Full ring: the write fails, the drop is counted in the segment (`overflows`), and the
/// caller carries on — the feeder never blocks on the merger.
#include "mdbus/detail/align.hpp"
#include "mdbus/doorbell.hpp"
#include "mdbus/shm_segment.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>

namespace mdbus {

/// Control block after the segment header. Producer and consumer fields on separate lines.
struct spsc_ring_control {
  // Producer line: written only by the writer.
  alignas(kCacheLine) std::atomic<std::uint64_t> head;  ///< end of the last committed frame
  std::atomic<std::uint64_t> overflows;                 ///< frames dropped because the ring was full
  std::atomic<std::uint64_t> oversize;                  ///< frames refused as larger than max_payload
  std::uint8_t producer_pad[kCacheLine - 24];
  // Consumer line: written only by the reader.
  alignas(kCacheLine) std::atomic<std::uint64_t> tail;  ///< start of the first unread frame
  std::uint8_t consumer_pad[kCacheLine - 8];
};
static_assert(sizeof(spsc_ring_control) == 2 * kCacheLine);
static_assert(offsetof(spsc_ring_control, tail) == kCacheLine);

/// Frame header: payload length (bytes, excluding this header) and a user type; type 0 is
/// the padding frame at the wrap, whose length is the bytes it fills including its header.
/// Read and written as one 64-bit word; all-zero means "not published yet".
struct spsc_frame_header {
  std::uint32_t length;
  std::uint32_t type;
};
static_assert(sizeof(spsc_frame_header) == 8);

inline constexpr std::uint64_t kSpscFrameAlign = 8;
inline constexpr std::size_t kSpscDataOffset = kSegmentHeaderSize + sizeof(spsc_ring_control);

/// Geometry of an SPSC ring. capacity: power of two, >= 4 KiB; max_payload: at least 1
/// and one aligned frame must fit in a quarter of the capacity.
struct spsc_ring_geometry {
  std::uint64_t capacity = 0;
  std::uint64_t max_payload = 0;
};

/// Empty string if valid, else the reason.
std::string check_geometry(const spsc_ring_geometry& g);

/// A ring's positions as a reader loads them before trusting the ring: tail, then head
/// (both acquire).
struct spsc_control_words {
  std::uint64_t tail = 0;
  std::uint64_t head = 0;
};

/// Loads `c` in the order above.
spsc_control_words load_control_words(const spsc_ring_control& c) noexcept;

/// Why these positions cannot come from this ring's writer and reader ("" when they can): not
/// frame-aligned, tail past head, and — when `tail_owned` (the caller holds the reader lock,
/// so tail cannot move) — more than a ring's capacity unread. Only rules that hold under any
/// interleaving with a live writer and reader. Pure.
std::string check_control(const spsc_control_words& w, const spsc_ring_geometry& g, bool tail_owned);

enum class spsc_read_status {
  ok,
  empty,
  corrupt,  ///< a frame header contradicts the geometry or the head: the writer is broken
};

struct spsc_frame {
  std::uint32_t type = 0;
  std::span<const std::byte> payload;
};

namespace detail {

inline constexpr std::uint64_t spsc_frame_bytes(std::uint64_t payload) noexcept {
  return detail::align_up(sizeof(spsc_frame_header) + payload, kSpscFrameAlign);
}

// A frame header is one 64-bit word: length in the low half, type in the high half. The
// word at the position after the last published frame is always 0 ("nothing yet"): the
// writer zeroes it before it publishes the frame in front of it, and the reader stops there.
// A padding frame stores type 0 and, as its length, the bytes to the end of the buffer
// including its own header (>= 8), so its word is never 0 either.
inline constexpr std::uint64_t spsc_pack_header_word(std::uint32_t length, std::uint32_t type) noexcept {
  return std::uint64_t{length} | (std::uint64_t{type} << 32);
}
inline std::uint64_t spsc_load_header_word(const std::byte* p) noexcept {
  // acquire: pairs with publish_header_word; the payload written before it is visible.
  return __atomic_load_n(reinterpret_cast<const std::uint64_t*>(p), __ATOMIC_ACQUIRE);
}
inline void spsc_publish_header_word(std::byte* p, std::uint64_t word) noexcept {
  // release: publishes the payload (and the zeroed next header) written before it.
  __atomic_store_n(reinterpret_cast<std::uint64_t*>(p), word, __ATOMIC_RELEASE);
}
inline void spsc_clear_header_word(std::byte* p) noexcept {
  __atomic_store_n(reinterpret_cast<std::uint64_t*>(p), std::uint64_t{0}, __ATOMIC_RELAXED);
}


}  // namespace detail

class spsc_ring_writer {
 public:
  spsc_ring_writer() = default;
  /// Creates the segment or adopts a dead writer's ring (resuming at its head).
  /// Throws segment_error.
  static spsc_ring_writer create(const std::string& name, const spsc_ring_geometry& g, mode_t mode = 0600);

  /// Reserve `length` contiguous payload bytes. Empty span when the ring is full (counted
  /// in `overflows`) or `length` > max_payload (counted in `oversize`): the frame is dropped.
  [[nodiscard]] std::span<std::byte> try_claim(std::uint32_t length) noexcept;

  /// Publish the claimed frame with its type (!= 0) and the bytes actually used
  /// (<= the claimed length).
  void commit(std::uint32_t type, std::uint32_t used_length) noexcept;

  /// claim + copy + commit. False when dropped (full or oversize, both counted).
  [[nodiscard]] bool try_write(std::uint32_t type, std::span<const std::byte> payload) noexcept;

  /// The doorbell the reader sleeps on (the merger's input bell, doorbell.hpp), or nullptr.
  /// The writer keeps the pointer only: whoever mapped the bell keeps it mapped.
  void attach_doorbell(doorbell_line* bell) noexcept { bell_ = bell; }
  /// After a batch of commits: wakes the reader if it sleeps (a fence and one load when it
  /// does not). Commits do not ring by themselves, so a batch pays the fence once; with
  /// nothing committed since the last notify it does nothing at all (a sleeping reader is
  /// not woken for nothing).
  void notify() noexcept {
    if (bell_ == nullptr || head_ == rung_head_) return;
    rung_head_ = head_;
    doorbell_ring(*bell_);
  }

  [[nodiscard]] shm_segment& segment() noexcept { return segment_; }
  [[nodiscard]] const spsc_ring_geometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] std::uint64_t overflows() const noexcept;

 private:
  shm_segment segment_;
  spsc_ring_control* control_ = nullptr;
  std::byte* data_ = nullptr;
  spsc_ring_geometry geometry_{};
  std::uint64_t mask_ = 0;
  std::uint64_t head_ = 0;         // private copy of control_->head (we are its only writer)
  std::uint64_t cached_tail_ = 0;  // last tail we loaded; reloaded only when we look full
  std::uint64_t claim_pos_ = 0;    // position of the claimed frame's header
  std::uint32_t claim_len_ = 0;
  doorbell_line* bell_ = nullptr;  // the reader's doorbell, rung by notify()
  std::uint64_t rung_head_ = 0;    // head_ at the last notify()
};

class spsc_ring_reader {
 public:
  spsc_ring_reader() = default;

  /// Attach as the ring's one reader: maps read-write (the tail lives in the segment) and
  /// takes the reader lock, so a second consumer is refused rather than silently
  /// stealing frames. Validates header and geometry.
  static attach_status try_open(const std::string& name, spsc_ring_reader& out, std::string& reason);
  /// Throwing form; waits up to wait_ms for the writer to create the ring.
  static spsc_ring_reader open(const std::string& name, int wait_ms = 0);

  /// Look at the next frame without consuming it. The payload stays valid until release().
  [[nodiscard]] spsc_read_status peek(spsc_frame& out) noexcept;
  /// Consume the frame returned by the last successful peek() and publish the new tail.
  void release() noexcept;
  /// Consume the peeked frame without publishing the tail: the writer may not reuse it yet.
  /// For a reader that keeps some consumed frames (the merger's holds): it publishes the
  /// tail itself with publish_tail_at(), once per batch.
  void advance() noexcept { read_pos_ = pending_pos_; }
  /// Publish `pos` as the tail (clamped to position()): the writer may reuse what lies before
  /// it. A restarted reader resumes there, so frames after it are read again.
  void publish_tail_at(std::uint64_t pos) noexcept;
  /// Frames the writer dropped because the ring was full (its `overflows` counter).
  [[nodiscard]] std::uint64_t overflows() const noexcept;

  /// Calls on_frame(const spsc_frame&) for up to max_frames frames, then publishes the
  /// tail once (one store for the whole batch). Returns the number of frames delivered;
  /// stops early on empty or corrupt (see last_status()).
  template <class F>
  std::size_t poll(F&& on_frame, std::size_t max_frames) noexcept {
    std::size_t n = 0;
    spsc_frame f;
    while (n < max_frames) {
      last_status_ = peek(f);
      if (last_status_ != spsc_read_status::ok) break;
      on_frame(static_cast<const spsc_frame&>(f));
      read_pos_ = pending_pos_;
      ++n;
    }
    if (n > 0) publish_tail();
    return n;
  }
  [[nodiscard]] spsc_read_status last_status() const noexcept { return last_status_; }

  /// Bytes committed but not yet consumed (from the reader's view).
  [[nodiscard]] std::uint64_t backlog() const noexcept;
  [[nodiscard]] shm_segment& segment() noexcept { return segment_; }
  [[nodiscard]] const spsc_ring_geometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] std::uint64_t position() const noexcept { return read_pos_; }

 private:
  void publish_tail() noexcept;

  shm_segment segment_;
  spsc_ring_control* control_ = nullptr;
  const std::byte* data_ = nullptr;
  spsc_ring_geometry geometry_{};
  std::uint64_t mask_ = 0;
  std::uint64_t read_pos_ = 0;     // start of the next unconsumed frame
  std::uint64_t pending_pos_ = 0;  // end of the frame handed out by peek()
  spsc_read_status last_status_ = spsc_read_status::empty;
};

// ---- hot path, inline --------------------------------------------------------------------

inline std::span<std::byte> spsc_ring_writer::try_claim(std::uint32_t length) noexcept {
  if (length > geometry_.max_payload) {
    control_->oversize.store(control_->oversize.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return {};
  }
  const std::uint64_t frame = detail::spsc_frame_bytes(length);
  const std::uint64_t index = head_ & mask_;
  const std::uint64_t to_end = geometry_.capacity - index;
  const std::uint64_t padding = frame > to_end ? to_end : 0;
  // + the next frame's header word, which commit() zeroes: it must not be unread bytes.
  const std::uint64_t needed = padding + frame + sizeof(spsc_frame_header);
  if (head_ + needed - cached_tail_ > geometry_.capacity) {
    // acquire: pairs with the reader's release of tail; the bytes before it are free to reuse.
    cached_tail_ = control_->tail.load(std::memory_order_acquire);
    if (head_ + needed - cached_tail_ > geometry_.capacity) {
      // Single writer: a relaxed load+store is enough and cheaper than an atomic RMW.
      control_->overflows.store(control_->overflows.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return {};
    }
  }
  claim_pos_ = head_ + padding;
  claim_len_ = length;
  return {data_ + (claim_pos_ & mask_) + sizeof(spsc_frame_header), length};
}

inline void spsc_ring_writer::commit(std::uint32_t type, std::uint32_t used_length) noexcept {
  if (used_length > claim_len_) used_length = claim_len_;
  const std::uint64_t end = claim_pos_ + detail::spsc_frame_bytes(used_length);
  // The reader stops at the first zero word: zero the next header before this one publishes
  // (stale bytes from an earlier lap could look like a frame).
  detail::spsc_clear_header_word(data_ + (end & mask_));
  detail::spsc_publish_header_word(data_ + (claim_pos_ & mask_), detail::spsc_pack_header_word(used_length, type));
  if (claim_pos_ != head_) {
    // A padding frame fills the end of the buffer; published after the frame at the start,
    // so a reader that passes it finds that frame complete. The reader waits on this word
    // (it is at the old head) until then.
    const std::uint64_t to_end = claim_pos_ - head_;
    detail::spsc_publish_header_word(data_ + (head_ & mask_), detail::spsc_pack_header_word(static_cast<std::uint32_t>(to_end), kPaddingType));
  }
  head_ = end;
  // For tools and backlog(): the reader itself never reads head.
  control_->head.store(head_, std::memory_order_release);
}

inline spsc_read_status spsc_ring_reader::peek(spsc_frame& out) noexcept {
  std::uint64_t pos = read_pos_;
  for (int step = 0; step < 2; ++step) {  // at most one padding frame before a real one
    const std::uint64_t index = pos & mask_;
    const std::uint64_t to_end = geometry_.capacity - index;
    const std::uint64_t word = detail::spsc_load_header_word(data_ + index);
    if (word == 0) {
      read_pos_ = pos;  // past any padding for good
      pending_pos_ = pos;
      return spsc_read_status::empty;
    }
    const auto length = static_cast<std::uint32_t>(word);
    const auto type = static_cast<std::uint32_t>(word >> 32);
    if (type == kPaddingType) {
      if (length != to_end) return spsc_read_status::corrupt;
      pos += to_end;
      continue;
    }
    const std::uint64_t frame = detail::spsc_frame_bytes(length);
    if (length > geometry_.max_payload || frame > to_end) return spsc_read_status::corrupt;
    out.type = type;
    out.payload = {data_ + index + sizeof(spsc_frame_header), length};
    read_pos_ = pos;  // skip the padding for good
    pending_pos_ = pos + frame;
    return spsc_read_status::ok;
  }
  return spsc_read_status::corrupt;  // two padding frames in a row
}

}  // namespace mdbus
