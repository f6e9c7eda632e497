#include "mdbus/doorbell.hpp"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>
#include <new>

namespace mdbus {
namespace {

// FUTEX_WAIT / FUTEX_WAKE without _PRIVATE: the word is in a MAP_SHARED segment that other
// processes map, so the kernel keys it by the file page, not by our address space.
long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t val, const timespec* timeout) noexcept {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, val, timeout, nullptr, 0);
}

}  // namespace

namespace detail {

void doorbell_wake(doorbell_line& d) noexcept {
  // release: a reader whose acquire load of epoch (doorbell_prepare) sees this bump also sees
  // the frames published before it.
  d.epoch.fetch_add(1, std::memory_order_release);
  futex(&d.epoch, FUTEX_WAKE, INT_MAX, nullptr);
  d.wakes.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace detail

std::uint32_t doorbell_prepare(doorbell_line& d, std::uint64_t bit) noexcept {
  d.sleepers.fetch_or(bit, std::memory_order_seq_cst);
#if !defined(__SANITIZE_THREAD__)  // under TSan the writer rings with an RMW instead (doorbell_ring)
  // seq_cst fence: orders the announcement above against the caller's second look at its
  // rings (store → load); pairs with the writer's fence in doorbell_ring.
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
  // acquire: pairs with doorbell_wake's release bump.
  return d.epoch.load(std::memory_order_acquire);
}

doorbell_wake_reason doorbell_sleep(doorbell_line& d, std::uint64_t bit, std::uint32_t key,
                                    std::int64_t timeout_ns) noexcept {
  if (timeout_ns < 1) timeout_ns = 1;
  const timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  d.sleeps.fetch_add(1, std::memory_order_relaxed);
  // The kernel compares epoch with key under the futex bucket lock that FUTEX_WAKE also
  // takes: a bump before that comparison returns EAGAIN, one after it wakes us.
  const long rc = futex(&d.epoch, FUTEX_WAIT, key, &ts);
  const int err = rc == 0 ? 0 : errno;
  d.sleepers.fetch_and(~bit, std::memory_order_relaxed);
  if (rc == 0 || err == EAGAIN) return doorbell_wake_reason::rung;
  if (err == ETIMEDOUT) return doorbell_wake_reason::timeout;
  return doorbell_wake_reason::signal;
}

std::string merge_doorbell_name(std::string_view bus) { return segment_name(bus, "merge.bell"); }

doorbell_segment doorbell_segment::create(const std::string& name, mode_t mode) {
  segment_spec spec;
  spec.name = name;
  spec.kind = segment_kind::doorbell;
  spec.total_size = kSegmentHeaderSize + sizeof(doorbell_line);
  spec.geometry = {1, 0, 0};
  spec.mode = mode;
  doorbell_segment b;
  b.segment_ = shm_segment::create_or_adopt(spec);
  b.line_ = std::launder(reinterpret_cast<doorbell_line*>(b.segment_.body()));
  // The merger is the bell's only sleeper: a set bit is a dead predecessor's.
  b.line_->sleepers.fetch_and(~kMergerSleeperBit, std::memory_order_relaxed);
  return b;
}

attach_status doorbell_segment::try_open(const std::string& name, doorbell_segment& out, std::string& reason) {
  attach_result r = shm_segment::try_open(name, segment_kind::doorbell, access_mode::read_write);
  if (r.status != attach_status::ok) {
    reason = std::move(r.reason);
    return r.status;
  }
  if (r.segment.size() != kSegmentHeaderSize + sizeof(doorbell_line)) {
    reason = "segment " + name + ": size " + std::to_string(r.segment.size()) + " is not one doorbell line";
    return attach_status::incompatible;
  }
  out.segment_ = std::move(r.segment);
  out.line_ = std::launder(reinterpret_cast<doorbell_line*>(out.segment_.body()));
  return attach_status::ok;
}

bool doorbell_segment::replaced() const noexcept { return segment_.valid() && segment_.replaced_by_name(); }

}  // namespace mdbus
