#pragma once
/// mdsupervisor: owns a bus. Creates its control blocks and counters, starts one mdfeed per
/// configured slot and the merger as child processes, restarts them when they die or hang,
/// rotates connections before the venue's age limit (make-before-break: only while the
/// partner slot is live), rotates unhealthy or venue-noticed slots the same way, answers
/// mdctl on its control socket, applies `mdctl reload` (a venue's symbols edited: the groups
/// whose symbols changed restart their feeders one slot at a time), and on SIGTERM stops the
/// feeders (they drain), then the merger, and removes the bus's shared memory. See ../README.md.
#include "bus/config/config.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "bus/supervisor/mdsupervisor/control_server.hpp"
#include "bus/supervisor/mdsupervisor/process_exit.hpp"
#include "bus/merge_counter_names.hpp"
#include "bus/supervisor/mdsupervisor/rotation_planner.hpp"
#include "bus/supervisor/metrics_server.hpp"
#include "bus/supervisor/status_history.hpp"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <sys/types.h>

namespace mdbus::supervise {

struct supervisor_options {
  std::string config_path;
  std::string config_text;  ///< the file's text the bus_config was parsed from; after a reload, the reloaded text
  std::string mdfeed;   ///< binaries to start
  std::string mdmerge;
  bool keep_shm = false;  ///< leave the bus's segments at exit
};

/// One child process (a feeder or the merger) and its restart bookkeeping.
struct child_process {
  enum class phase : std::uint8_t { starting, running, restarting, stopped, adopted };
  std::vector<std::string> argv;
  pid_t pid = -1;
  int pidfd = -1;                  ///< readable once the process ended (-1: none; then kill(pid, 0) and /proc)
  phase state = phase::starting;
  bool adopted = false;            ///< not our child: found running when we started (its end seen on its pidfd)
  std::uint64_t restarts = 0;      ///< restarts after deaths and hangs (not operator restarts)
  counter pid_gauge;               ///< supervisor.<process>.pid in the counters segment: how a restarted supervisor finds it
  std::uint64_t operator_restarts = 0;
  std::int64_t started_mono = 0;
  std::int64_t restart_at_mono = 0;  ///< when in phase restarting
  std::uint32_t quick_deaths = 0;    ///< deaths in a row of a process that lived shorter than the crash-loop window
  std::array<std::int64_t, 64> recent{};  ///< times of recent restarts (ring)
  std::size_t recent_next = 0;
  bool crash_loop = false;
  bool restart_requested = false;  ///< operator restart: no backoff, not counted as a death
  exit_cause last_exit;            ///< how it ended last
};

/// Whether the process runs: its pidfd has not turned readable (a zombie has ended too).
[[nodiscard]] bool process_running(const child_process& p) noexcept;

[[nodiscard]] const char* to_string(child_process::phase p) noexcept;

class supervisor {
 public:
  supervisor(const config::bus_config& cfg, supervisor_options options);
  ~supervisor();
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  /// Start (or adopt) every process; open the control socket.
  void start();
  /// One pass of the loop: reap and restart children, watch health and ages, rotate, answer
  /// mdctl. Call every few ms.
  void tick();
  /// Stop the feeders (they drain), then the merger; remove the segments unless keep_shm.
  void shutdown();

  /// The response to one control request line (PROTOCOL.md).
  [[nodiscard]] std::string handle(const std::string& request);
  [[nodiscard]] nlohmann::json status_json();
  [[nodiscard]] std::string metrics_text();
  /// `/status.json` of the status page: {"status": status_json(), "history": the charts' points}.
  [[nodiscard]] std::string status_page_json();
  [[nodiscard]] const std::string& socket_path() const noexcept { return cfg_.supervisor.control_socket; }
  [[nodiscard]] int metrics_port() const noexcept { return metrics_port_; }

 private:
  /// One slot's process, its segments as the supervisor sees them, and its statistics. Its
  /// rotation state is the planner's (rotation_planner.hpp), at the same index.
  struct slot_runtime {
    std::size_t index = 0;  ///< in slots_ and in the planner
    /// A reload changed the group's symbols: the control block is replaced (sized and stamped
    /// for them) before the slot's next process starts, which runs the new symbols.
    bool reload_pending = false;
    venue v = venue::unknown;
    slot_id s = slot_id::none;
    std::uint32_t group = 0;  ///< the venue's connection group
    std::string name;  ///< "binance/A", "binance/g2/A"
    const config::venue_config* vc = nullptr;
    child_process proc;
    feeder_control_writer control;
    feeder_status_reader status;
    bool status_open = false;
    // What was last seen in the status block.
    feeder_state last_state = feeder_state::starting;
    std::uint64_t last_connections = 0;
    std::uint64_t base_reconnects = 0;  ///< the status block's reconnects when first seen
    bool base_known = false;
    std::uint64_t last_notices = 0;
    std::int64_t left_live_mono = 0;  ///< when it stopped being live (0: live or never was)
    std::int64_t live_since_mono = 0;
    std::uint64_t live_connection = 0;             ///< the status block's connection number last seen live
    std::uint64_t rotation_reconnects_before = 0;  ///< the status block's reconnects when the last rotation began
    std::uint64_t rotations_cut_short = 0;         ///< rotations whose reconnect began, then the process died
    // Stats.
    std::uint64_t proactive = 0;
    std::uint64_t forced = 0;
    std::uint64_t reconnect_count = 0;
    double reconnect_sum_ms = 0;
    double reconnect_max_ms = 0;
    std::int64_t connected_ms = 0;  ///< time live, since the supervisor started
    std::int64_t observed_ms = 0;
    // Rates (sampled once a second).
    std::uint64_t msgs_at_sample = 0;
    double msgs_per_s = 0;
    std::uint64_t first_at_sample = 0;
    double first_per_s = 0;
    // Counters (supervisor.<venue>.<slot>.*).
    counter c_proactive, c_forced, c_restarts, c_reconnect_sum_us, c_reconnect_max_us, c_reconnect_count;
  };

  void start_process(child_process& p, const std::string& what);
  /// Start the slot's feeder; first its new control block when a reload is pending for it.
  void start_feeder(slot_runtime& s);
  /// Replace the slot's control block with one laid out by its group's symbols in cfg_.
  void replace_control(slot_runtime& s);
  /// `mdctl reload`: read the config file again and apply a change of the venues' symbols
  /// (supervisor_reload.cpp). The reply of PROTOCOL.md.
  [[nodiscard]] nlohmann::json reload_config();
  /// Write the running copy of `text` (the config the children read), atomically.
  void write_running_copy(const std::string& text);
  void reap();
  void on_exit(child_process& p, const std::string& what, const exit_cause& cause, slot_runtime* slot);
  void check_processes(std::int64_t now);
  void observe(slot_runtime& s, std::int64_t now, std::int64_t elapsed_ms);
  void plan_rotations(std::int64_t now);
  void sample_rates(std::int64_t now);
  /// Carry out and log what the planner decided (events_), then clear them.
  void carry_out(std::int64_t now);
  void begin_rotation(slot_runtime& s, const plan_event& e);
  /// The partner `p` (planner index, npos: none) of slot `i` seen afresh: process, writer
  /// lock, heartbeat, deliveries, the merger's view.
  [[nodiscard]] rotation_view gate_view(std::size_t i, std::size_t p, std::int64_t now);
  slot_runtime* partner(const slot_runtime& s) noexcept;
  slot_runtime* find_slot(const std::string& venue_name, const std::string& slot_name, std::uint32_t group = 0) noexcept;
  void adopt_existing();
  bool adopt(child_process& p, const std::string& what);
  void log(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  /// The merger's counter for slot `s` (0 when the merger has not registered it).
  [[nodiscard]] std::int64_t merger_value(const slot_runtime& s, merge_slot_stat stat) const;
  [[nodiscard]] std::int64_t merger_value(merge_total t) const;
  /// Every slot's counters for one point of the status page's history.
  void sample_history();

  config::bus_config cfg_;
  supervisor_options options_;
  std::string running_path_;  ///< the running copy the children read (--config): in the control socket's directory
  std::uint64_t config_generation_ = 1;  ///< 1 at start, +1 per applied reload
  std::int64_t reloaded_wall_ = 0;       ///< CLOCK_REALTIME of the last applied reload (0: none)
  std::vector<std::unique_ptr<slot_runtime>> slots_;
  child_process merger_;
  counters_segment counters_;
  mutable merger_counter_reader merger_counters_;  ///< the merger's counters by typed key (caches where each is)
  std::unique_ptr<rotation_planner> planner_;
  std::vector<plan_event> events_;  ///< the planner's output, carried out at once
  counter c_merger_restarts_;
  counter c_schedule_epoch_;  ///< supervisor.schedule_epoch_ns: the rotation schedule's origin, kept by a restarted supervisor
  std::unique_ptr<control_server> server_;
  std::unique_ptr<metrics_server> metrics_;
  status_history history_{300, 2'000'000'000};  ///< the status page's charts: one point per 2 s, the last 10 minutes
  int metrics_port_ = -1;
  std::int64_t start_mono_ = 0;
  std::int64_t start_wall_ = 0;
  std::int64_t last_sample_mono_ = 0;
  std::int64_t last_observe_mono_ = 0;
  std::int64_t last_heartbeat_check_mono_ = 0;
  bool stopping_ = false;
};

}  // namespace mdbus::supervise
