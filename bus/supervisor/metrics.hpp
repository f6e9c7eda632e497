#pragma once
/// The supervisor's Prometheus metrics: a plain input struct the supervisor fills at every
/// scrape (no shared memory inside, so rendering is a pure function and testable alone),
/// the text exposition (format 0.0.4), and the two readers that fill parts of the input:
/// /proc for CPU and memory per process, and the counters segment for the merger's counters.
/// The families and their labels are listed in bus/supervisor/README.md ("Metrics").
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "bus/merge/arbiter.hpp"
#include "bus/merge_counter_names.hpp"
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mdbus::supervise {

/// CPU and memory of one process, from /proc.
struct process_usage {
  bool ok = false;                    ///< false: the process is gone (or /proc unreadable)
  double cpu_seconds = 0;             ///< utime + stime
  std::uint64_t rss_bytes = 0;        ///< VmRSS
  std::uint64_t peak_rss_bytes = 0;   ///< VmHWM (peak resident set)
};

/// Reads /proc/<pid>/stat (fields 14 utime and 15 stime, in clock ticks) and
/// /proc/<pid>/status (VmHWM, VmRSS in kB). ok=false for a pid that does not exist or has
/// exited (a zombie counts as exited). Never throws.
[[nodiscard]] process_usage read_process_usage(pid_t pid) noexcept;

/// One supervised process (a feeder, the merger) or the supervisor itself.
struct process_metrics {
  std::int64_t pid = 0;          ///< 0 when not running
  bool running = false;          ///< the supervisor's view: started and not yet reaped
  std::uint64_t restarts = 0;    ///< times the supervisor started it again after it ended
  bool crash_loop = false;       ///< restarts are being paced (it keeps dying)
  process_usage usage;           ///< read_process_usage(pid); samples left out when !ok
};

/// Durations of one kind of reconnection, in seconds.
struct duration_stats {
  double sum_seconds = 0;
  double max_seconds = 0;
  std::uint64_t count = 0;
};

/// The merger's lead histogram buckets, as it counts them (`merge.<venue>.<slot>.lead_lt_1us`
/// ... `lead_ge_100ms`): bucket i holds leads < kLeadBucketBoundsNs[i] and >= the bound
/// before it; the last holds the rest. The merger's own constants (header-only).
using merge::kLeadBuckets;
using merge::kLeadBucketBoundsNs;

/// What the merger counts for one slot (`merge.<venue>.<slot>.*`).
struct merge_slot_counters {
  std::uint64_t first_arrivals = 0;   ///< records this slot delivered first (published)
  std::uint64_t duplicates = 0;       ///< its copies dropped because the partner was first
  std::uint64_t lead_samples = 0;     ///< wins whose lead over the partner was measured
  std::uint64_t lead_sum_ns = 0;
  std::uint64_t lead_max_ns = 0;
  std::array<std::uint64_t, kLeadBuckets> lead_buckets{};  ///< per bucket, not cumulative
  std::uint64_t feeder_ring_overflows = 0;  ///< records the feeder's ring dropped, as the merger sees them
};

/// The merger's bus-wide totals (`merge.*`).
struct merge_counters {
  std::uint64_t published = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t gaps = 0;  ///< gap records: data-loss events
  std::uint64_t holes_filled = 0;
  std::uint64_t resync_requests = 0;
  // Backfill (issue 16): holes asked of a feeder, trades published from the venues' history,
  // gap records for what it did not bring, fetched trades that came too late (dropped).
  std::uint64_t backfill_requests = 0;
  std::uint64_t backfilled = 0;
  std::uint64_t backfill_gaps = 0;
  std::uint64_t backfill_late = 0;
  std::uint64_t suspect_windows = 0;  ///< suspect records: streams whose ids hide losses, after a whole-group outage
};

/// One feeder slot (venue, slot).
struct slot_metrics {
  venue venue_id = venue::unknown;
  slot_id slot = slot_id::none;
  /// The venue's connection group; > 0 adds the label group="<n>" to the slot's samples.
  std::uint32_t group = 0;
  std::string group_label;  ///< std::to_string(group), kept for the label's lifetime

  /// The feeder's status block, copied out (feeder_status_reader::snapshot()). With
  /// feeder_attached false (no block yet) the feeder_* samples are left out and the state
  /// gauge is 0 for every state.
  bool feeder_attached = false;
  feeder_status_snapshot feeder;

  // Supervisor side.
  std::uint64_t proactive_rotations = 0;  ///< planned make-before-break rotations (age, notice, operator)
  std::uint64_t forced_reconnections = 0; ///< reconnections nobody planned (watchdogs, venue closes, crashes)
  duration_stats reconnection_time;       ///< rotations and reconnections: from the cut (or the
                                          ///< rotation's start) until the slot is live again
  double connected_seconds = 0;           ///< time spent live while observed
  double observed_seconds = 0;            ///< time the supervisor has watched this slot
  process_metrics process;                ///< the feeder process

  merge_slot_counters merge;  ///< read_merger_counters() fills it
};

/// Everything one scrape shows. Plain values only.
struct metrics_input {
  std::string bus;                     ///< the `bus` label on every sample
  std::int64_t now_wall_ns = 0;        ///< CLOCK_REALTIME at the scrape (connection ages)
  double supervisor_uptime_seconds = 0;
  process_metrics supervisor;          ///< pid and usage; restarts and crash_loop are not shown
  process_metrics merger;
  merge_counters merge;                ///< read_merger_counters() fills it
  std::vector<slot_metrics> slots;
};

/// The Prometheus text exposition (format 0.0.4) of `in`: a HELP and a TYPE line for every
/// family, the `bus` label on every sample, label values escaped (\\, \", \n). Allocates;
/// never throws anything but std::bad_alloc.
[[nodiscard]] std::string render_metrics(const metrics_input& in);

/// Fills in.merge and, for every slot already in in.slots, slot.merge from the counters
/// segment (labels as bus/merge/README.md lists them). A counter that is not registered
/// reads as 0: a merger that has not started yet is not an error. One pass over the segment.
void read_merger_counters(const counters_segment& counters, metrics_input& in);

}  // namespace mdbus::supervise
