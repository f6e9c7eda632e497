#pragma once
/// Single-producer single-consumer ring of variable-length frames in shared memory
/// (feeder → merger). Frames are 8-byte aligned with an 8-byte header; a padding frame
/// fills the end of the buffer when a frame would not fit before the wrap, so every
/// frame is contiguous and can be read in place (zero copy: the writer never overwrites
/// unread bytes). Head and tail are 64-bit monotonic byte positions on their own cache
/// lines; each side keeps a private copy of the other's position and reloads it only when
/// that copy says the ring is full (writer) or empty (reader).
///
/// Full ring: the write fails, the drop is counted in the segment (`overflows`), and the
/// caller carries on — the feeder never blocks on the merger.
#include "bus/detail/align.hpp"
#include "bus/shm_segment.hpp"

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
/// the padding frame at the wrap.
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

enum class spsc_read_status {
  ok,
  empty,
  corrupt,  ///< a frame header contradicts the geometry or the head: the writer is broken
};

struct spsc_frame {
  std::uint32_t type = 0;
  std::span<const std::byte> payload;
};

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
  std::uint64_t cached_head_ = 0;  // last head we loaded; reloaded only when we look empty
  spsc_read_status last_status_ = spsc_read_status::empty;
};

}  // namespace mdbus
