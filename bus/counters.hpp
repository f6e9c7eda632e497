#pragma once
/// Named 64-bit counters in one shared segment per bus (`mdbus.<bus>.counters`), modelled on
/// Aeron's counters file. Any process registers counters without locks (a CAS claims a slot)
/// and updates its own; tools list every counter by name. One metadata record (256 bytes)
/// and one value cache line per slot: processes never share a value line, so counting in
/// one never slows another.
///
/// Ownership: each counter has one writer, the process that registered it (its pid is in
/// the metadata). A restarted process that registers the same label takes over the old
/// slot if its owner is dead, and the value carries on — totals survive restarts.
#include "mdbus/shm_segment.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mdbus {

inline constexpr std::size_t kCounterLabelMax = 231;  // + NUL fits the 256-byte record

enum class counter_state : std::uint32_t { free = 0, reserved = 1, allocated = 2 };

struct counter_metadata {
  std::atomic<std::uint32_t> state;  ///< counter_state; allocated is stored last (release)
  std::uint32_t type_id;             ///< free for the registrant's use (e.g. counter vs gauge)
  std::atomic<std::int64_t> owner_pid;
  std::int64_t registered_ns;        ///< CLOCK_REALTIME
  char label[kCounterLabelMax + 1];  ///< NUL-terminated
};
static_assert(sizeof(counter_metadata) == 256);
static_assert(offsetof(counter_metadata, label) == 24);

struct counter_value {
  alignas(kCacheLine) std::atomic<std::int64_t> value;
  std::uint8_t pad[kCacheLine - 8];
};
static_assert(sizeof(counter_value) == kCacheLine);

/// A registered counter. Cheap to copy; valid while its counters_segment lives.
class counter {
 public:
  counter() = default;
  /// One writer per counter (its owner), so a relaxed load + store is enough and avoids a
  /// locked instruction on the hot path.
  void add(std::int64_t n = 1) noexcept {
    value_->store(value_->load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::int64_t v) noexcept { value_->store(v, std::memory_order_relaxed); }
  /// Raise to v if v is larger (a peak gauge).
  void set_max(std::int64_t v) noexcept {
    if (v > value_->load(std::memory_order_relaxed)) value_->store(v, std::memory_order_relaxed);
  }
  [[nodiscard]] std::int64_t get() const noexcept { return value_->load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
  [[nodiscard]] bool valid() const noexcept { return value_ != nullptr; }

 private:
  friend class counters_segment;
  counter(std::atomic<std::int64_t>* v, std::uint32_t id) noexcept : value_(v), id_(id) {}
  std::atomic<std::int64_t>* value_ = nullptr;
  std::uint32_t id_ = 0;
};

/// What a tool sees of one counter.
struct counter_entry {
  std::uint32_t id;
  std::uint32_t type_id;
  std::int64_t owner_pid;
  bool owner_alive;
  std::string_view label;  ///< points into the mapping
  std::int64_t value;
};

class counters_segment {
 public:
  counters_segment() = default;

  /// The bus owner (supervisor) creates it, or adopts its own dead predecessor's segment
  /// with every counter intact. Throws segment_error.
  static counters_segment create(const std::string& name, std::uint32_t max_counters, mode_t mode = 0600);
  /// Processes that register counters open read-write; tools open read-only.
  /// Throws segment_error (waits up to wait_ms for the creator).
  static counters_segment open(const std::string& name, access_mode mode, int wait_ms = 0);

  /// Register (or take over, see above) the counter named `label`. Throws segment_error if
  /// the label is empty or too long, the segment is full, or it is mapped read-only.
  /// Constant time after the first call, which indexes the segment's labels once (a merger
  /// registers ten counters per stream: thousands of streams must not cost a scan each).
  /// Takeover finds the counters that existed at the first call (a restarted process's dead
  /// predecessor's) and this process's own; a label another live process registers later is
  /// its counter, not ours.
  counter register_counter(std::string_view label, std::uint32_t type_id = 0);
  /// Free the slot (the value is forgotten).
  void release(const counter& c) noexcept;
  /// Free the slots of owners that no longer exist. Returns how many.
  std::size_t reclaim_dead() noexcept;

  /// Calls f(const counter_entry&) for every allocated counter, in slot order.
  template <class F>
  void for_each(F&& f) const {
    for (std::uint32_t i = 0; i < max_counters_; ++i) {
      const counter_metadata& m = meta_[i];
      // acquire: pairs with the registrant's release of `allocated`; the label is complete.
      if (m.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(counter_state::allocated)) continue;
      const auto pid = m.owner_pid.load(std::memory_order_relaxed);
      counter_entry e{i, m.type_id, pid, pid_alive(pid), label_of(m), values_[i].value.load(std::memory_order_relaxed)};
      f(static_cast<const counter_entry&>(e));
    }
  }
  /// Value of the counter with this exact label, if registered. Scans the segment: a reader
  /// that asks often keeps locate()'s slot and reads it with value_if().
  [[nodiscard]] std::optional<std::int64_t> find(std::string_view label) const;
  /// Slot of the counter with this exact label (the first), if registered. Scans the segment.
  [[nodiscard]] std::optional<std::uint32_t> locate(std::string_view label) const;
  /// Value of slot `id` while it holds the counter `label` (not released, not reused under
  /// another label since locate()); nullopt otherwise. Constant time.
  [[nodiscard]] std::optional<std::int64_t> value_if(std::uint32_t id, std::string_view label) const noexcept;

  [[nodiscard]] std::uint32_t max_counters() const noexcept { return max_counters_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }

  static bool pid_alive(std::int64_t pid) noexcept;

 private:
  static std::string_view label_of(const counter_metadata& m) noexcept;
  void bind(shm_segment seg);

  shm_segment segment_;
  counter_metadata* meta_ = nullptr;
  counter_value* values_ = nullptr;
  std::uint32_t max_counters_ = 0;
  // Process-local, for register_counter: the labels of the allocated slots (indexed at the
  // first registration, then ours as we add them), and where to look for a free slot next.
  std::unordered_map<std::string, std::uint32_t> index_;
  bool indexed_ = false;
  std::uint32_t free_hint_ = 0;
};

/// Total segment size for `max_counters` slots.
constexpr std::uint64_t counters_segment_size(std::uint64_t max_counters) noexcept {
  return kSegmentHeaderSize + max_counters * (sizeof(counter_metadata) + sizeof(counter_value));
}
/// An absurd header beyond this is refused (320 bytes a counter: 84 MB, 26 000 streams).
inline constexpr std::uint32_t kMaxCountersLimit = 1 << 18;

}  // namespace mdbus
