#pragma once
/// Doorbells: how a ring's writer wakes the readers that sleep, with no system call and no
/// locked instruction per record while nobody sleeps. An eventcount (folly's EventCount,
/// the futex-based condition variables of the Linux kernel and glibc) on one cache line in
/// shared memory:
///
///   reader (doorbell_wait: doorbell_prepare → look at its rings once more → doorbell_sleep or _cancel):
///     set its bit in `sleepers` (seq_cst RMW); fence (seq_cst); key = epoch (acquire);
///     look at the rings again; still empty → FUTEX_WAIT on `epoch` while it equals key;
///     then clear its bit.
///   writer (doorbell_ring, once per batch of published frames):
///     fence (seq_cst); load `sleepers` (relaxed); zero → done (the common case: a load of
///     a line that stays in the writer's cache while no reader changes its state);
///     non-zero → epoch + 1 and FUTEX_WAKE every sleeper.
///
/// Why no wake-up is lost (Dekker with two seq_cst fences, C++ [atomics.fences]): of the
/// writer's fence Fw and the reader's fence Fr, one comes first in the single total order.
/// Fw first: the reader's second look at the rings (after Fr) sees the frames published
/// before Fw, so it does not sleep. Fr first: the writer's load after Fw sees the reader's
/// bit (set before Fr) and rings; the FUTEX_WAIT either finds epoch != key (returns at once)
/// or is queued before the kernel takes the wake (the kernel compares epoch with key under
/// the futex bucket lock the waker also takes). tests/bus/doorbell_model_test.cpp checks
/// every interleaving of this protocol under x86-TSO store buffers, and that dropping
/// either fence loses a wake-up; doorbell_test stresses it between processes under TSan.
///
/// Why a fence on the writer and not membarrier(): the asymmetric alternative (writers
/// plain, the sleeping reader forcing a barrier on every core with
/// MEMBARRIER_CMD_GLOBAL_EXPEDITED) interrupts every core on each sleep — an IPI into a busy
/// vCPU, costlier in a one-off trial than the wake-up it protects — against one locked
/// instruction (~5-7 ns) for the writer's fence. The fence is paid once per ring (after a
/// feeder's WebSocket message, a merger poll pass), not per frame written: the ring's write
/// is unchanged; what ringing costs per frame: bench/RESULTS.md, ring_bench "Doorbells".
///
/// Readers are bits of the 64-bit `sleepers` mask: the merger is bit 0 of its input bell;
/// a consumer is the bit of its reader-table slot (slots 0..63). A reader that dies while
/// asleep leaves its bit set: writers then make one useless FUTEX_WAKE per batch until the
/// bit is cleared — by the next owner of that bit (a restarted merger; a consumer that
/// claims the slot) or by the ring writer's sweep of dead readers' slots (reader_table).
#include "mdbus/detail/align.hpp"
#include "mdbus/shm_segment.hpp"

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace mdbus {

/// One cache line in shared memory. `epoch` is the futex word.
struct doorbell_line {
  alignas(kCacheLine) std::atomic<std::uint32_t> epoch;  ///< bumped by a writer that wakes sleepers
  std::uint32_t reserved;
  std::atomic<std::uint64_t> sleepers;  ///< bit per reader that announced it will sleep
  std::atomic<std::uint64_t> wakes;     ///< FUTEX_WAKE calls writers made (statistics)
  std::atomic<std::uint64_t> sleeps;    ///< FUTEX_WAITs readers entered (statistics)
  std::uint8_t pad[kCacheLine - 32];
};
static_assert(sizeof(doorbell_line) == kCacheLine);
static_assert(offsetof(doorbell_line, sleepers) == 8);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

/// Bits of doorbell_line::sleepers: the merger's bit on its input bell; the consumers' bits
/// are their reader-table slots below kDoorbellReaders.
inline constexpr std::uint64_t kMergerSleeperBit = 1;
inline constexpr std::uint32_t kDoorbellReaders = 64;

namespace detail {
/// Slow path of doorbell_ring: somebody sleeps.
void doorbell_wake(doorbell_line& d) noexcept;
}  // namespace detail

/// Writer, after publishing a batch of frames: wakes every sleeper, if any. Never blocks;
/// a system call only when a reader sleeps.
inline void doorbell_ring(doorbell_line& d) noexcept {
#if defined(__SANITIZE_THREAD__)
  // TSan does not model fences (-Wtsan). An RMW on the mask orders the same way (both sides'
  // RMWs on `sleepers` are totally ordered; the later one sees the earlier's writes), at the
  // price of writing the readers' line on every ring: fine for a sanitizer build.
  if (d.sleepers.fetch_add(0, std::memory_order_seq_cst) == 0) return;
#else
  // seq_cst fence: orders the frames published before it against the load of `sleepers`
  // (store → load); pairs with the reader's fence in doorbell_prepare (see the file comment).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (d.sleepers.load(std::memory_order_relaxed) == 0) [[likely]]
    return;
#endif
  detail::doorbell_wake(d);
}

/// Reader, about to sleep: announces `bit` and returns the key for doorbell_sleep. The caller
/// must look at its rings once more after this and sleep only if they are still empty.
[[nodiscard]] std::uint32_t doorbell_prepare(doorbell_line& d, std::uint64_t bit) noexcept;

enum class doorbell_wake_reason : std::uint8_t {
  looked,    ///< doorbell_wait only: the second look found something; no sleep
  rung,      ///< a writer rang (or the epoch had already moved: a frame came meanwhile)
  timeout,   ///< nothing rang before the timeout
  signal,    ///< a signal interrupted the sleep
};

/// Reader: sleeps until a writer rings or `timeout_ns` passes (> 0), then withdraws `bit`.
doorbell_wake_reason doorbell_sleep(doorbell_line& d, std::uint64_t bit, std::uint32_t key,
                                    std::int64_t timeout_ns) noexcept;

/// Reader: withdraws `bit` without sleeping (the second look found something).
inline void doorbell_cancel(doorbell_line& d, std::uint64_t bit) noexcept {
  d.sleepers.fetch_and(~bit, std::memory_order_relaxed);
}

/// Reader, its rings found empty: the whole protocol in one call — announce `bit`, call
/// `look()` (true: something came; the caller keeps what it found), and sleep only if it
/// found nothing. Returns `looked` without sleeping, else why the sleep ended.
template <class Look>
doorbell_wake_reason doorbell_wait(doorbell_line& d, std::uint64_t bit, std::int64_t timeout_ns, Look&& look) {
  const std::uint32_t key = doorbell_prepare(d, bit);
  if (look()) {
    doorbell_cancel(d, bit);
    return doorbell_wake_reason::looked;
  }
  return doorbell_sleep(d, bit, key, timeout_ns);
}

/// The merger's input doorbell, `mdbus.<bus>.merge.bell` (kind doorbell): one line the
/// feeders ring after they publish and the merger sleeps on for all its input rings at once.
/// Created (or adopted) by the merger; feeders map it read-write and re-attach when the merger
/// replaced it.
[[nodiscard]] std::string merge_doorbell_name(std::string_view bus);

class doorbell_segment {
 public:
  doorbell_segment() = default;

  /// Merger: creates the bell or adopts a dead merger's (the same file, so feeders that
  /// mapped it keep ringing the right one); clears the merger's bit, which a merger killed in
  /// its sleep left set. Throws segment_error.
  static doorbell_segment create(const std::string& name, mode_t mode = 0600);
  /// Feeder: one attempt, never throws: ok, await (no merger yet) or incompatible (why).
  static attach_status try_open(const std::string& name, doorbell_segment& out, std::string& reason);

  [[nodiscard]] bool valid() const noexcept { return line_ != nullptr; }
  [[nodiscard]] doorbell_line* line() noexcept { return line_; }
  [[nodiscard]] const shm_segment& segment() const noexcept { return segment_; }
  /// Whether the name now refers to another file than the one mapped (the merger replaced
  /// it): one stat() and one fstat(), for an idle path. False when the name is gone.
  [[nodiscard]] bool replaced() const noexcept;

 private:
  shm_segment segment_;
  doorbell_line* line_ = nullptr;
};

}  // namespace mdbus
