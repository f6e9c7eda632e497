#pragma once
/// The broadcast ring's optional reader table: a separate segment `<ring name>.readers` in
/// which each reader that wants to be seen keeps one cache line — its pid, a short name, its
/// position, next sequence, laps and missed frames, and when it last refreshed the line — so
/// tools (shmcat info) can show every reader's lag. Readers map the ring itself read-only,
/// hence a segment of its own that they map read-write.
///
/// Nothing depends on it: the ring writer creates it and never reads it, a reader that
/// cannot register (table missing, not writable for it, full) reads exactly as before, and
/// a tool that finds no table just shows no readers.
///
/// Claim protocol (one CAS, no lock): a slot's `pid` is 0 when free. A reader takes a free
/// slot, or one whose pid is dead (kill(pid, 0) fails with ESRCH: the reader crashed without
/// releasing), with a CAS to -pid ("claiming"), resets the line, then stores +pid with
/// release. A tool shows a slot only once its pid is positive, so it never sees a new
/// reader's pid next to a dead reader's figures. Releasing is a CAS from +pid back to 0, so
/// a forked child that inherited the object can never free its parent's slot. Two readers
/// racing for one slot: one CAS wins, the other moves on to the next slot.
///
/// Cost to a reader: after the claim, only relaxed stores to its own line, at most once per
/// poll (position and sequence when they changed; the time every kTouchEvery polls and when
/// it idles). The line stays in the reader's cache in the modified state, so a store costs
/// about a cycle; only when a tool has just read the line does the next store fetch it back.
/// No reader ever touches another's line, and the ring writer touches none.
///
/// Doorbell: the table's first line (before the slots) is the ring's doorbell (doorbell.hpp):
/// the ring writer rings it after each batch, and a reader in idle mode `wait` sleeps on it
/// under the bit of its slot (slots 0..63; a reader in a higher slot, or unregistered, cannot
/// sleep and backs off instead). Consumers map the ring read-only, so the line that they write
/// to announce their sleep lives here, in the segment they map read-write.
///
/// Limits: pids are those of the readers' pid namespace (readers and tools must share it);
/// a dead reader's pid reused by an unrelated process makes its slot look alive until that
/// process ends (the update time then stops moving, which tools show); a reader still
/// registered but unreaped (a zombie) counts as alive.
#include "mdbus/doorbell.hpp"
#include "mdbus/shm_segment.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus {

inline constexpr std::uint32_t kReaderTableSlots = 64;      ///< default slot count
inline constexpr std::uint32_t kMaxReaderTableSlots = 4096;  ///< an absurd header beyond this is refused
inline constexpr std::size_t kReaderNameMax = 16;            ///< name bytes; longer names are cut
inline constexpr std::string_view kReaderTableSuffix = ".readers";

/// One reader's line. Every field is an atomic so a tool reading while the owner stores is
/// defined behaviour; fields are individually current, not a consistent snapshot.
struct alignas(kCacheLine) reader_slot {
  /// 0 free; -p being claimed by process p (other fields not reset yet); p owned by p.
  std::atomic<std::int64_t> pid;
  std::atomic<std::uint64_t> position;       ///< ring byte position of the next frame to read
  std::atomic<std::uint64_t> next_seq;       ///< ring sequence of the next frame to read
  std::atomic<std::uint64_t> laps;           ///< times this reader was lapped
  std::atomic<std::uint64_t> missed_frames;  ///< frames lost to laps, summed
  std::atomic<std::int64_t> update_ns;       ///< CLOCK_MONOTONIC of the owner's last refresh
  std::atomic<std::uint64_t> name[2];        ///< kReaderNameMax chars, NUL-padded
};
static_assert(sizeof(reader_slot) == kCacheLine);
static_assert(alignof(reader_slot) == kCacheLine);
static_assert(offsetof(reader_slot, name) == 48);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// "<ring name>.readers".
[[nodiscard]] std::string reader_table_name(std::string_view ring_name);
[[nodiscard]] constexpr std::uint64_t reader_table_size(std::uint32_t slots) noexcept {
  return kSegmentHeaderSize + sizeof(doorbell_line) + std::uint64_t{slots} * sizeof(reader_slot);
}

/// What a tool sees of one registered slot.
struct reader_entry {
  std::uint32_t slot = 0;
  std::int64_t pid = 0;
  bool alive = false;  ///< the pid exists (kill(pid, 0))
  std::string name;
  std::uint64_t position = 0;
  std::uint64_t next_seq = 0;
  std::uint64_t laps = 0;
  std::uint64_t missed_frames = 0;
  std::int64_t update_ns = 0;  ///< CLOCK_MONOTONIC
};

/// The table segment. The ring writer creates it; tools open it read-only; registrations
/// open it read-write.
class reader_table {
 public:
  reader_table() = default;

  /// Writer side (broadcast_ring_writer::create): creates `<ring_name>.readers`, or adopts
  /// the one a dead writer left (live readers keep their slots). Throws segment_error.
  static reader_table create(const std::string& ring_name, mode_t mode, std::uint32_t slots = kReaderTableSlots);

  /// One attempt, never throws for a missing or unusable table: ok, await (not there) or
  /// incompatible (`reason` says why: permission, bad geometry, ...).
  static attach_status try_open(const std::string& ring_name, access_mode mode, reader_table& out,
                                std::string& reason);

  /// Every slot whose owner has finished its claim (pid > 0), alive or not. Allocates: tools only.
  [[nodiscard]] std::vector<reader_entry> readers() const;

  [[nodiscard]] std::uint32_t slots() const noexcept { return slots_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }
  [[nodiscard]] bool valid() const noexcept { return slot_ != nullptr; }

  /// The ring's doorbell (the line before the slots); nullptr when not mapped.
  [[nodiscard]] doorbell_line* doorbell() noexcept { return doorbell_; }
  [[nodiscard]] const doorbell_line* doorbell() const noexcept { return doorbell_; }

  /// Writer side (read-write mapping), from an idle path: frees the slot of every reader that
  /// died asleep (its doorbell bit still set, its pid gone), with the same CAS a new reader
  /// claims such a slot with, and clears its bit, so the writer stops waking nobody. Returns
  /// the slots freed.
  std::uint32_t sweep_dead_sleepers() noexcept;

 private:
  friend class reader_registration;
  void bind(shm_segment seg);

  shm_segment segment_;
  doorbell_line* doorbell_ = nullptr;  ///< the line after the header
  reader_slot* slot_ = nullptr;  ///< slots_ lines after the doorbell
  std::uint32_t slots_ = 0;
};

/// One reader's claimed slot: what a reader (the consumer API) holds. Move-only; releases
/// the slot when destroyed. An empty registration (valid() false) accepts every call and
/// does nothing, so a reader can update unconditionally.
class reader_registration {
 public:
  /// How many polls between refreshes of update_ns (a clock read costs ~20 ns; a poll ~10).
  static constexpr std::uint32_t kTouchEvery = 64;

  reader_registration() = default;
  reader_registration(reader_registration&& other) noexcept;
  reader_registration& operator=(reader_registration&& other) noexcept;
  reader_registration(const reader_registration&) = delete;
  reader_registration& operator=(const reader_registration&) = delete;
  ~reader_registration() noexcept { release(); }

  /// Best effort, never throws: claims a slot in `<ring_name>.readers` under `name` (cut to
  /// kReaderNameMax). On failure returns an empty registration and says why in `why`
  /// (no table, permission denied, table full). Set-up path: opens and maps the table.
  static reader_registration claim(const std::string& ring_name, std::string_view name, std::string& why) noexcept;

  [[nodiscard]] bool valid() const noexcept { return slot_ != nullptr; }
  [[nodiscard]] std::uint32_t slot() const noexcept { return index_; }
  /// The ring's doorbell and this reader's bit on it; nullptr / 0 when this reader cannot
  /// sleep on it (not registered, or a slot beyond kDoorbellReaders).
  [[nodiscard]] doorbell_line* doorbell() noexcept { return sleeper_bit() != 0 ? table_.doorbell_ : nullptr; }
  [[nodiscard]] std::uint64_t sleeper_bit() const noexcept {
    return slot_ != nullptr && index_ < kDoorbellReaders ? std::uint64_t{1} << index_ : 0;
  }

  // Relaxed stores to this reader's own line: nothing is published with them, tools read
  // each field on its own.
  void update(std::uint64_t position, std::uint64_t next_seq) noexcept {
    if (slot_ == nullptr) return;
    slot_->position.store(position, std::memory_order_relaxed);
    slot_->next_seq.store(next_seq, std::memory_order_relaxed);
  }
  void update_losses(std::uint64_t laps, std::uint64_t missed_frames) noexcept {
    if (slot_ == nullptr) return;
    slot_->laps.store(laps, std::memory_order_relaxed);
    slot_->missed_frames.store(missed_frames, std::memory_order_relaxed);
  }
  void touch(std::int64_t now_mono_ns) noexcept {
    if (slot_ != nullptr) slot_->update_ns.store(now_mono_ns, std::memory_order_relaxed);
  }

  /// Frees the slot now (also done by the destructor). Idempotent.
  void release() noexcept;

 private:
  reader_table table_;
  reader_slot* slot_ = nullptr;
  std::int64_t pid_ = 0;
  std::uint32_t index_ = 0;
};

}  // namespace mdbus
