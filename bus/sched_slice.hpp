// EEVDF slice requests: how soon a woken thread gets a CPU that another thread is using.
//
// Linux's fair scheduler (EEVDF, 6.6+) lets a task that wakes up preempt the running one only
// when the woken task's virtual deadline is earlier. The deadline is its eligible time plus its
// slice (default ~0.7–3 ms, `se.slice` in /proc/<pid>/sched). A reader woken by a doorbell
// (bus/include/mdbus/doorbell.hpp) on a box where every core is busy therefore often waits for the running
// task's slice to end: tens to hundreds of µs (bench/RESULTS.md, "e2e with doorbells").
// Since Linux 6.12, sched_setattr(2) with SCHED_OTHER takes `sched_runtime` as a custom slice
// (clamped by the kernel to 100 µs .. 100 ms): a short slice gives an early deadline, so the
// woken thread preempts at once, and it is preempted sooner in turn (it runs in short bursts,
// which is what a reader that drains a ring and sleeps again does anyway). Unprivileged: no
// capability is needed, the thread's policy and nice value are kept.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace mdbus {

/// The kernel's bounds on a requested slice (kernel/sched/syscalls.c, Linux 6.12+).
inline constexpr std::int64_t kMinWakeSliceUs = 100;
inline constexpr std::int64_t kMaxWakeSliceUs = 100'000;

struct wake_slice_outcome {
  bool applied = false;      ///< the kernel reports the requested slice back
  std::int64_t slice_ns = 0;  ///< the thread's slice after the call (0: the kernel does not say)
  std::string problem;       ///< one line when not applied
};

/// Requests a `slice_us` (kMinWakeSliceUs..kMaxWakeSliceUs) scheduler slice for thread `tid`
/// (0: the calling thread), keeping its policy and nice value; reads it back to tell whether
/// the kernel honoured it (kernels before 6.12 accept the call and ignore the field). Only for
/// SCHED_OTHER / SCHED_BATCH threads: a real-time thread is left alone (problem says so).
[[nodiscard]] wake_slice_outcome request_wake_slice(pid_t tid, std::int64_t slice_us) noexcept;

/// The thread's current slice in ns as sched_getattr reports it (0 when it does not).
[[nodiscard]] std::int64_t current_slice_ns(pid_t tid) noexcept;

}  // namespace mdbus
