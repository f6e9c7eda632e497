#pragma once
/// The mdmerge engine: reads every feeder ring of a bus, arbitrates (arbiter.hpp) and writes
/// the one output ring `mdbus.<bus>.out` that strategies and tools read. The daemon
/// (mdmerge/main.cpp) is a loop around it; the benchmark drives it directly.
///
/// * Inputs: one SPSC ring per configured venue slot, `mdbus.<bus>.feed.<venue>.<slot>`,
///   attached when its feeder has created it (looked for every 100 ms) and read in batches.
///   A feeder ring is released only up to the oldest record still in a hole-fill hold, so a
///   merger killed mid-hold reads those records again.
/// * Output: every published record gets its publish time (CLOCK_REALTIME ns) and the
///   winning slot stamped into its header. Gap records and the feeders' slot-status records
///   go out too.
/// * Restart: the output ring is adopted (its writer is dead) and read back oldest first into
///   the arbiter (prime), so records re-read from the feeder rings are duplicates and books
///   that were waiting for a snapshot wait again.
/// * Resync: a book stream's request_resync bumps the stream's slot in the resync table of
///   its group's feeder control blocks (the supervisor's; a merger run alone logs that a
///   request had nowhere to go).
/// * Counters (`mdbus.<bus>.counters`, the supervisor's; opened here, never made, and looked
///   for every second until it exists): totals, per venue slot, and per configured stream and
///   slot, refreshed by housekeeping().
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/doorbell.hpp"
#include "bus/config/config.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "bus/merge/arbiter.hpp"
#include "bus/merge/outage_tracker.hpp"
#include "bus/spsc_ring.hpp"

#include <array>
#include <cstdint>
#include <cstdio>
#include <map>
#include <tuple>
#include <memory>
#include <string>
#include <vector>

namespace mdbus::merge {

class merger final : merge_output {
 public:
  /// Creates or adopts the output ring, primes the arbiter from it, registers the counters.
  /// Throws segment_error (e.g. another mdmerge is the output ring's live writer).
  /// `log` may be nullptr (silent).
  explicit merger(const config::bus_config& cfg, std::FILE* log = stderr);
  ~merger();
  merger(const merger&) = delete;
  merger& operator=(const merger&) = delete;

  /// One pass over the inputs (up to `batch` frames each) and the arbiter's deadlines.
  /// Returns the frames taken. Never allocates, never blocks.
  std::size_t poll_once(std::int64_t now_mono_ns, std::size_t batch = 256) noexcept;

  /// Slow path, every few ms: attach missing inputs, heartbeat, feeder ring overflow checks,
  /// counters.
  void housekeeping(std::int64_t now_mono_ns);

  [[nodiscard]] const arbiter& arb() const noexcept { return arbiter_; }
  [[nodiscard]] std::size_t inputs_attached() const noexcept;
  [[nodiscard]] std::size_t inputs_configured() const noexcept { return inputs_.size(); }
  [[nodiscard]] std::uint64_t primed() const noexcept { return arbiter_.stats().primed; }
  [[nodiscard]] const std::string& output_name() const noexcept { return output_name_; }
  /// The doorbell the feeders ring (`merge.bell`): mdmerge's idle mode `wait` sleeps on it.
  [[nodiscard]] doorbell_line& input_doorbell() noexcept { return *bell_.line(); }
  /// One line: published, duplicates, gaps, ... (for the log at exit).
  [[nodiscard]] std::string summary() const;

  /// A config reload (mdmerge's SIGHUP, sent by mdsupervisor on `mdctl reload`): the venues'
  /// symbol lists may change, nothing else (throws config::config_error naming the first
  /// other difference, and changes nothing). A connection group whose symbols changed gets its
  /// new symbols' streams (their state allocated here, not on the hot path), its resync places
  /// and its slots' expected control blocks (the supervisor replaces them as it restarts each
  /// slot's feeder); a removed symbol's streams stop asking for snapshots. Other groups are
  /// untouched. Returns one line saying what changed.
  std::string reload(const config::bus_config& next);

 private:
  struct input {
    venue v = venue::unknown;
    slot_id slot = slot_id::none;
    std::uint32_t group = 0;  ///< the venue's connection group (config venue_config::groups)
    std::string name;         ///< "binance/A", "binance/g2/A"
    std::string ring_name;
    std::string control_name;
    std::string last_control_reason;  ///< the last attach refusal logged
    bool reloaded = false;  ///< a reload changed the group: its control block is replaced by the supervisor
    std::size_t symbols = 0;      ///< the venue's configured symbols: the control block's resync table
    std::uint64_t config_id = 0;  ///< config::config_identity of the venue: a control block of another config is refused
    spsc_ring_reader reader;
    bool attached = false;
    bool broken = false;  ///< corrupt frame: reading stopped (the writer is broken)
    /// Resync requests go into the slot's control block, which the supervisor owns (made by
    /// it, or by a test acting as it); the merger only opens it (ARCHITECTURE.md: one owner per segment).
    feeder_resync_requester resync;
    std::uint64_t overflows_seen = 0;
    std::uint64_t frames = 0;
    std::uint64_t malformed = 0;
    std::int64_t overflow_until_ns = 0;  ///< gaps until then are blamed on a full feeder ring
    std::string last_wait_reason;
    std::int64_t live_marker_ns = 0;  ///< receive time of the last "up" slot status read from this ring (or of the attach)
    std::int64_t last_data_ns = 0;    ///< receive time of the last market record read from this ring (outage windows)
    // The feeder process behind the ring, observed: its writer lock (the kernel drops it when
    // the process dies, SIGKILL included). A writer that let go without saying "down" in its
    // ring gets its down marker from the merger, once the ring is drained.
    bool writer_alive = false;   ///< held at the last look
    bool writer_gone = false;    ///< let go since: a down marker is due once the ring is drained
    slot_state last_marker = slot_state::unknown;  ///< the last slot status read from (or written for) this slot
    /// The outage tracker has been told this slot's state: by a marker, or — for a ring read
    /// from the middle (a restarted merger), whose last marker was before the part read — by
    /// market data, which a feeder only writes while up.
    bool state_told = false;
  };
  /// A shared counter this process adds its own total to: what a predecessor (a merger
  /// that died) counted stays in, so totals survive restarts.
  struct total {
    counter c;
    std::int64_t base = 0;
    void set(std::int64_t mine) noexcept { c.set(base + mine); }
    void set(std::uint64_t mine) noexcept { set(static_cast<std::int64_t>(mine)); }
  };
  struct slot_counters {
    total frames, malformed, first_arrivals, duplicates, lead_samples, lead_sum_ns, ring_overflows;
    counter lead_max_ns;
    std::array<total, kLeadBuckets> lead_hist;
    // Gauges for the supervisor's rotation gate (rotation_gate.hpp).
    counter streams_in_step;  ///< streams of the venue this slot delivers in step
    counter live_marker_ns;   ///< CLOCK_REALTIME of the slot's last "went live" marker read
  };
  struct stream_counters {
    std::size_t index = 0;  ///< in the arbiter
    std::array<total, kSlots> first_arrivals, duplicates, lead_samples, lead_sum_ns;
    total gaps, resync_requests, backfilled, backfill_gaps;
  };

  void publish(std::span<const std::byte> record, slot_id winner) noexcept override;
  void publish_gap(const gap_record& gap) noexcept override;
  void request_resync(venue v, channel c, std::string_view symbol, slot_id ask) noexcept override;
  bool request_backfill(venue v, channel c, std::string_view symbol, std::uint64_t from, std::uint64_t to,
                        slot_id ask, std::uint64_t skip) noexcept override;

  void write_out(std::span<const std::byte> record) noexcept;
  void prime_from_output();
  void try_attach(input& in, std::int64_t now_mono_ns);
  /// A writer that let go of an input ring (its process ended) without a down marker: once its
  /// ring is drained, publish slot-down (process_exit) for it, as the feeder would have.
  void watch_writer(input& in) noexcept;
  /// Publish slot-down (process_exit) for `in`'s feeder, whose process ended without saying so.
  void mark_exited(input& in) noexcept;
  /// A slot's state as its marker says (or the merger's for a dead feeder): when it ends an
  /// outage of its whole group, a suspect record for each stream whose ids hide losses.
  void note_slot_state(input& in, slot_state state, std::int64_t time_ns) noexcept;
  void register_counters();
  /// Counters for the arbiter's streams from streams_counted_ on (at start: the configured
  /// and read-back ones; after a reload: the symbols it added).
  void register_stream_counters();
  void update_counters();
  void log(const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

  config::bus_config cfg_;
  std::FILE* log_;
  std::string output_name_;
  broadcast_ring_writer out_;
  doorbell_segment bell_;             ///< merge.bell: feeders ring it, mdmerge sleeps on it
  std::int64_t next_sweep_ns_ = 0;    ///< next sweep of readers that died asleep
  std::unique_ptr<std::uint64_t[]> scratch_;  ///< one output frame, 8-aligned
  std::size_t scratch_bytes_ = 0;
  arbiter arbiter_;
  std::vector<input> inputs_;
  counters_segment counters_;
  bool counters_open_ = false;           ///< the supervisor's segment is mapped (looked for every second until it is)
  bool counters_waiting_logged_ = false;
  std::int64_t next_counters_open_ns_ = 0;
  bool counters_ok_ = false;
  struct {
    total published, duplicates, gaps, holes_filled, hold_overflows, resync_requests, resync_dropped, resync_unrouted,
        malformed, output_oversize, primed, no_stream_room, backfill_requests, backfilled, backfill_gaps, backfill_late,
        backfill_unrouted, suspect_windows;
    counter streams;
  } totals_;
  std::vector<slot_counters> slot_counters_;  ///< parallel to inputs_
  std::vector<stream_counters> stream_counters_;
  std::size_t streams_counted_ = 0;  ///< the arbiter's streams [0, this) have counters
  std::uint64_t output_oversize_ = 0;
  std::uint64_t resync_unrouted_ = 0;
  std::uint64_t backfill_unrouted_ = 0;
  outage_tracker outages_;
  std::uint64_t suspect_windows_ = 0;  ///< suspect records published (one per stream and outage)
  std::int64_t next_attach_ns_ = 0;
  std::int64_t next_writer_check_ns_ = 0;
  std::size_t next_writer_input_ = 0;  ///< the input the next writer look starts at
  /// Per configured (venue, channel, symbol): its connection group (the symbol's group on the
  /// channel's route) and the symbol's position in that group's list (config::group_view),
  /// where resync requests for the stream go.
  std::map<std::tuple<venue, channel, std::string>, std::pair<std::uint32_t, std::size_t>> resync_places_;
  std::int64_t next_counters_ns_ = 0;
  std::int64_t log_window_ns_ = 0;
  int log_lines_ = 0;
  int log_suppressed_ = 0;
};

}  // namespace mdbus::merge
