#pragma once
/// What shmcat's commands share: exit codes (README.md), the stop flag set by SIGINT/SIGTERM,
/// and the commands that live in their own files.
#include "bus/shm_segment.hpp"

#include <csignal>
#include <cstddef>
#include <string>

namespace mdbus::shmcat {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoSuchSegment = 3;
inline constexpr int kExitIncompatible = 4;
inline constexpr int kExitPermission = 5;

/// Set by the signal handler; every loop checks it.
extern volatile std::sig_atomic_t g_stop;

/// The exit code for a segment that did not open, after printing its one-line reason.
int report_unusable(const segment_info& i);

struct tail_options {
  bool follow = false;
  std::size_t lines = 10;
  std::string venue, symbol, type;
  bool json = false;
};

/// `shmcat tail`: the last records of the output ring or of a feeder ring, then (-f) new ones.
int cmd_tail(const std::string& segment, const tail_options& o);

}  // namespace mdbus::shmcat
