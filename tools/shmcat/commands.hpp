#pragma once
/// What shmcat's commands share: exit codes (README.md), the stop flag set by SIGINT/SIGTERM,
/// and the commands that live in their own files.
#include "mdbus/shm_segment.hpp"

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>

namespace mdbus::shmcat {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitNoSuchSegment = 3;
inline constexpr int kExitIncompatible = 4;  ///< also: a geometry or control block refused, a segment truncated under us
inline constexpr int kExitPermission = 5;
inline constexpr int kExitForeignOwner = 6;  ///< owned by another uid than the expected one (--bus-uid)

/// Set by the signal handler; every loop checks it.
extern volatile std::sig_atomic_t g_stop;

/// The exit code for a segment that did not open, after printing its one-line reason.
int report_unusable(const segment_info& i);

/// Names the segment whose mapping a SIGBUS would come from: the handler (installed by main)
/// then prints one line naming it and exits kExitIncompatible instead of dying silently.
void watch_for_truncation(const std::string& segment);
/// The same line, for a follow loop that found the segment shorter than its mapping
/// (shm_segment::mapping_intact); returns kExitIncompatible.
int report_truncated(const std::string& segment);

struct tail_options {
  bool follow = false;
  std::size_t lines = 10;
  std::string venue, symbol, type;
  bool json = false;
};

/// `shmcat tail`: the last records of the output ring or of a feeder ring, then (-f) new ones.
int cmd_tail(const std::string& segment, const tail_options& o);

/// The readers registered in the reader table of output ring `ring_name` (readers.cpp), each
/// with its lag behind the writer's `head` and `published` frame count: a JSON array, or
/// null when there is no usable table (`note` says why). `slots`: the table's size.
nlohmann::json ring_readers(const std::string& ring_name, std::uint64_t head, std::uint64_t published,
                            std::string& note, std::uint32_t& slots);
/// The output ring's writer position, read-only; false if the ring does not open.
bool ring_now(const std::string& ring_name, std::uint64_t& head, std::uint64_t& published);
/// ring_readers' array as the text table of `shmcat info`.
void print_readers(const nlohmann::json& readers, std::uint32_t slots);

}  // namespace mdbus::shmcat
