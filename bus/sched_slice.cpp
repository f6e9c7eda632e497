#include "bus/sched_slice.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mdbus {
namespace {

// struct sched_attr (include/uapi/linux/sched/types.h); glibc 2.36 has no wrapper.
struct sched_attr_v1 {
  std::uint32_t size;
  std::uint32_t sched_policy;
  std::uint64_t sched_flags;
  std::int32_t sched_nice;
  std::uint32_t sched_priority;
  std::uint64_t sched_runtime;
  std::uint64_t sched_deadline;
  std::uint64_t sched_period;
};

bool get_attr(pid_t tid, sched_attr_v1& a) noexcept {
  a = {};
  return ::syscall(SYS_sched_getattr, tid, &a, sizeof a, 0) == 0;
}

}  // namespace

std::int64_t current_slice_ns(pid_t tid) noexcept {
  sched_attr_v1 a{};
  if (!get_attr(tid, a)) return 0;
  if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH) return 0;
  return static_cast<std::int64_t>(a.sched_runtime);
}

wake_slice_outcome request_wake_slice(pid_t tid, std::int64_t slice_us) noexcept {
  wake_slice_outcome out;
  if (slice_us < kMinWakeSliceUs || slice_us > kMaxWakeSliceUs) {
    out.problem = "slice " + std::to_string(slice_us) + " us is outside the kernel's " +
                  std::to_string(kMinWakeSliceUs) + ".." + std::to_string(kMaxWakeSliceUs) + " us";
    return out;
  }
  sched_attr_v1 a{};
  if (!get_attr(tid, a)) {
    out.problem = std::string("sched_getattr: ") + std::strerror(errno);
    return out;
  }
  if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH) {
    out.problem = "the thread is not SCHED_OTHER/SCHED_BATCH (policy " + std::to_string(a.sched_policy) +
                  "): its scheduling is left as it is";
    return out;
  }
  const auto want = static_cast<std::uint64_t>(slice_us) * 1000;
  a.size = sizeof a;
  a.sched_flags &= 0x01;  // SCHED_FLAG_RESET_ON_FORK is kept; nothing else is asked for
  a.sched_runtime = want;
  a.sched_deadline = 0;
  a.sched_period = 0;
  if (::syscall(SYS_sched_setattr, tid, &a, 0) != 0) {
    out.problem = std::string("sched_setattr: ") + std::strerror(errno);
    return out;
  }
  out.slice_ns = current_slice_ns(tid);
  out.applied = out.slice_ns == static_cast<std::int64_t>(want);
  if (!out.applied)
    out.problem = out.slice_ns == 0 ? "this kernel ignores slice requests (needs Linux 6.12 or later, EEVDF)"
                                    : "the kernel set " + std::to_string(out.slice_ns / 1000) + " us";
  return out;
}

}  // namespace mdbus
