#pragma once
/// A read-only follower of a feeder (SPSC) ring, for shmcat: it maps the ring read-only,
/// takes no lock (the merger keeps its reader lock) and never stores a byte, so watching a
/// live feeder cannot steal frames from the merger or slow it down.
///
/// It follows its own position, not the merger's tail, so it also shows frames the merger
/// has already consumed, as long as the feeder has not overwritten them. The SPSC ring has
/// no lap detection of its own (its one reader is never overtaken), so the observer makes
/// one: after copying a frame it reloads the writer's `head`; the frame is intact if
/// `head + margin <= pos + capacity`, where margin covers the frame the writer may be
/// building past `head` (padding, one max-size frame and the zeroed next header word).
/// Otherwise the copy may be torn: it is discarded and reported as `overtaken`, and the
/// observer jumps to `head`.
///
/// Why that check is sound: the writer stores `head` (release) after each commit and
/// before it writes the next frame, and x86-64 makes stores visible in program order. If
/// the copy saw any byte of a frame written after the one that ends at head H, the reload
/// sees a head >= H, and that frame lies below H + margin. Caveat, stated in the README:
/// the feeder writes frame bodies with plain stores, so in the C++ memory model this read
/// is a data race (benign on x86-64, where it is checked afterwards; TSan would flag it).
#include "mdbus/shm_segment.hpp"
#include "bus/spsc_ring.hpp"

#include <cstdint>
#include <span>
#include <string>

namespace mdbus::shmcat {

enum class observe_status {
  ok,
  empty,      ///< nothing committed past our position yet
  overtaken,  ///< the writer overwrote (or may have) what we were reading; moved to head
  corrupt,    ///< a frame header contradicts the geometry while not overtaken
};

struct observe_result {
  observe_status status = observe_status::empty;
  std::uint32_t type = 0;
  std::uint32_t length = 0;         ///< payload bytes copied
  std::uint64_t position = 0;       ///< ring position of the frame
  std::uint64_t missed_bytes = 0;   ///< overtaken: ring bytes skipped
};

class spsc_observer {
 public:
  spsc_observer() = default;

  /// Maps `name` read-only and validates header and geometry. Throws segment_error.
  static spsc_observer open(const std::string& name);

  /// Start at the merger's tail (the unconsumed backlog) or at the writer's head (new frames only).
  void start_at_tail() noexcept;
  void start_at_head() noexcept;

  /// Copy the next frame's payload into `out` (at least max_payload bytes).
  [[nodiscard]] observe_result try_read(std::span<std::byte> out) noexcept;

  [[nodiscard]] std::uint64_t position() const noexcept { return pos_; }
  [[nodiscard]] std::uint64_t head() const noexcept;
  [[nodiscard]] const spsc_ring_geometry& geometry() const noexcept { return geometry_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }

 private:
  [[nodiscard]] bool overtaken_at(std::uint64_t head) const noexcept { return head + margin_ > pos_ + geometry_.capacity; }
  observe_result jump_to(std::uint64_t head) noexcept;

  shm_segment segment_;
  const spsc_ring_control* control_ = nullptr;
  const std::byte* data_ = nullptr;
  spsc_ring_geometry geometry_{};
  std::uint64_t mask_ = 0;
  std::uint64_t margin_ = 0;
  std::uint64_t pos_ = 0;
};

}  // namespace mdbus::shmcat
