#include "bus/supervisor/metrics.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mdbus::supervise {

// ---------------------------------------------------------------- /proc

namespace {

/// The whole of a small /proc file (they report size 0, so read until EOF). false when it
/// cannot be opened (the process is gone).
bool read_proc_file(const std::string& path, std::string& out) noexcept {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out.clear();
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    ::close(fd);
    return n == 0;
  }
}

/// The number after "<key>:" in /proc/<pid>/status (kB), 0 when the key is absent (kernel
/// threads have no Vm* lines).
std::uint64_t status_kb(std::string_view status, std::string_view key) noexcept {
  std::size_t at = 0;
  while ((at = status.find(key, at)) != std::string_view::npos) {
    if ((at == 0 || status[at - 1] == '\n') && at + key.size() < status.size() && status[at + key.size()] == ':') break;
    at += key.size();
  }
  if (at == std::string_view::npos) return 0;
  std::size_t p = at + key.size() + 1;
  while (p < status.size() && (status[p] == ' ' || status[p] == '\t')) ++p;
  std::uint64_t v = 0;
  std::from_chars(status.data() + p, status.data() + status.size(), v);
  return v;
}

}  // namespace

process_usage read_process_usage(pid_t pid) noexcept {
  process_usage u;
  if (pid <= 0) return u;
  try {
    const std::string dir = "/proc/" + std::to_string(pid);
    std::string stat;
    if (!read_proc_file(dir + "/stat", stat)) return u;
    // "pid (comm) state ppid ...": comm may hold spaces and ')', so fields are counted
    // from the last ')'. The first field after it is field 3 (state).
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return u;
    std::string_view rest(stat);
    rest.remove_prefix(close + 1);
    std::uint64_t utime = 0, stime = 0;
    char state = '?';
    int field = 2;
    std::size_t p = 0;
    while (p < rest.size() && field < 15) {
      while (p < rest.size() && rest[p] == ' ') ++p;
      const std::size_t start = p;
      while (p < rest.size() && rest[p] != ' ') ++p;
      if (start == p) break;
      ++field;
      const char* b = rest.data() + start;
      const char* e = rest.data() + p;
      if (field == 3) state = *b;
      if (field == 14) std::from_chars(b, e, utime);
      if (field == 15) std::from_chars(b, e, stime);
    }
    if (field < 15) return u;
    // A zombie (or a dead task) has exited; its figures are final and it is about to vanish.
    if (state == 'Z' || state == 'X' || state == 'x') return u;
    std::string status;
    if (!read_proc_file(dir + "/status", status)) return u;
    const long ticks = ::sysconf(_SC_CLK_TCK);
    u.cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
    u.rss_bytes = status_kb(status, "VmRSS") * 1024;
    u.peak_rss_bytes = status_kb(status, "VmHWM") * 1024;
    u.ok = true;
  } catch (...) {  // std::bad_alloc from the path strings: report "unknown", never throw
    u = process_usage{};
  }
  return u;
}

// ---------------------------------------------------------------- counters segment

namespace {

std::uint64_t non_negative(std::int64_t v) noexcept { return v > 0 ? static_cast<std::uint64_t>(v) : 0; }

void set_total(merge_counters& m, merge_total t, std::uint64_t v) noexcept {
  switch (t) {
    case merge_total::published: m.published = v; break;
    case merge_total::duplicates: m.duplicates = v; break;
    case merge_total::gaps: m.gaps = v; break;
    case merge_total::holes_filled: m.holes_filled = v; break;
    case merge_total::resync_requests: m.resync_requests = v; break;
    case merge_total::backfill_requests: m.backfill_requests = v; break;
    case merge_total::backfilled: m.backfilled = v; break;
    case merge_total::backfill_gaps: m.backfill_gaps = v; break;
    case merge_total::backfill_late: m.backfill_late = v; break;
    case merge_total::suspect_windows: m.suspect_windows = v; break;
    default: break;
  }
}

void set_slot(merge_slot_counters& m, merge_slot_stat x, std::uint64_t v) noexcept {
  switch (x) {
    case merge_slot_stat::first_arrivals: m.first_arrivals = v; break;
    case merge_slot_stat::duplicates: m.duplicates = v; break;
    case merge_slot_stat::lead_samples: m.lead_samples = v; break;
    case merge_slot_stat::lead_sum_ns: m.lead_sum_ns = v; break;
    case merge_slot_stat::lead_max_ns: m.lead_max_ns = v; break;
    case merge_slot_stat::feeder_ring_overflows: m.feeder_ring_overflows = v; break;
    default:
      for (std::size_t b = 0; b < kLeadBuckets; ++b)
        if (x == mdbus::lead_bucket(b)) m.lead_buckets[b] = v;
  }
}

}  // namespace

void read_merger_counters(const counters_segment& counters, metrics_input& in) {
  in.merge = merge_counters{};
  for (auto& s : in.slots) s.merge = merge_slot_counters{};
  // The labels the merger registers, spelled by the one function that spells them for it
  // (merge_label), to what each fills: one pass over the segment, no parsing of labels.
  struct target {
    merge_slot_counters* slot = nullptr;  ///< nullptr: a bus total
    std::uint8_t key = 0;                 ///< merge_slot_stat, or merge_total for a total
  };
  struct hash : std::hash<std::string_view> {
    using is_transparent = void;
  };
  std::unordered_map<std::string, target, hash, std::equal_to<>> wanted;
  for (std::size_t t = 0; t < kMergeTotals; ++t)
    wanted.emplace(merge_label(static_cast<merge_total>(t)), target{nullptr, static_cast<std::uint8_t>(t)});
  for (auto& s : in.slots)
    for (std::size_t x = 0; x < kMergeSlotStats; ++x)
      wanted.emplace(merge_label(s.venue_id, s.slot, static_cast<merge_slot_stat>(x), s.group),
                     target{&s.merge, static_cast<std::uint8_t>(x)});
  counters.for_each([&](const counter_entry& e) {
    const auto it = wanted.find(e.label);
    if (it == wanted.end()) return;
    const std::uint64_t v = non_negative(e.value);
    if (it->second.slot == nullptr) set_total(in.merge, static_cast<merge_total>(it->second.key), v);
    else set_slot(*it->second.slot, static_cast<merge_slot_stat>(it->second.key), v);
  });
}

// ---------------------------------------------------------------- exposition

namespace {

struct label {
  std::string_view name;
  std::string_view value;
};

/// The labels of one sample after `bus` (at most four).
struct label_set {
  std::array<label, 4> items{};
  std::size_t size = 0;
  [[nodiscard]] label_set with(std::string_view name, std::string_view value) const {
    label_set l = *this;
    l.items[l.size++] = {name, value};
    return l;
  }
};

/// A sample value: integers print exactly, doubles in their shortest form. Implicit, so
/// the renderers pass counters, gauges and flags as they are.
struct value {
  value(std::uint64_t v) : integer(true), u(v) {}
  value(bool v) : integer(true), u(v ? 1 : 0) {}
  value(double v) : integer(false), d(v) {}
  bool integer;
  std::uint64_t u = 0;
  double d = 0;
};

/// Writes families in the text format 0.0.4: one HELP and one TYPE line, then the samples.
class exposition {
 public:
  explicit exposition(std::string_view bus) : bus_(bus) { out_.reserve(64 * 1024); }

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    for (const char c : help) {  // HELP text escapes only backslash and newline
      if (c == '\\') out_ += "\\\\";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  void sample(std::string_view name, const label_set& labels, value v) {
    out_ += name;
    out_ += "{bus=\"";
    escape(bus_);
    out_ += '"';
    for (std::size_t i = 0; i < labels.size; ++i) {
      out_ += ',';
      out_ += labels.items[i].name;
      out_ += "=\"";
      escape(labels.items[i].value);
      out_ += '"';
    }
    out_ += "} ";
    char buf[32];
    if (v.integer) {
      out_.append(buf, std::to_chars(buf, buf + sizeof buf, v.u).ptr);
    } else if (std::isnan(v.d)) {
      out_ += "NaN";
    } else if (std::isinf(v.d)) {
      out_ += v.d > 0 ? "+Inf" : "-Inf";
    } else {
      out_.append(buf, std::to_chars(buf, buf + sizeof buf, v.d, std::chars_format::general).ptr);
    }
    out_ += '\n';
  }

  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  void escape(std::string_view v) {
    for (const char c : v) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '"') out_ += "\\\"";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
  }

  std::string_view bus_;
  std::string out_;
};

using maybe = std::optional<value>;  ///< nullopt: no sample for this series

double seconds_of_ns(std::uint64_t ns) noexcept { return static_cast<double>(ns) / 1e9; }

label_set slot_labels(const slot_metrics& s) {
  const label_set l = label_set{}.with("venue", to_string(s.venue_id)).with("slot", to_string(s.slot));
  return s.group == 0 ? l : l.with("group", s.group_label);
}

// `le` of each lead bucket's upper bound, as Prometheus clients print them (Go's %g).
constexpr std::string_view kLeadLe[kLeadBuckets] = {"1e-06", "1e-05", "0.0001", "0.001", "0.01", "0.1", "+Inf"};

constexpr feeder_state kStates[] = {feeder_state::starting, feeder_state::connecting, feeder_state::subscribed,
                                    feeder_state::live,     feeder_state::draining,   feeder_state::down,
                                    feeder_state::stopped};

void render_processes(exposition& x, const metrics_input& in) {
  struct proc {
    const process_metrics* m;
    label_set labels;
    bool supervised;  ///< restarted by the supervisor (not the supervisor itself)
  };
  std::vector<proc> all;
  all.reserve(in.slots.size() + 2);
  for (const auto& s : in.slots) {
    const label_set l = label_set{}.with("process", "feeder").with("venue", to_string(s.venue_id)).with("slot", to_string(s.slot));
    all.push_back({&s.process, s.group == 0 ? l : l.with("group", s.group_label), true});
  }
  all.push_back({&in.merger, label_set{}.with("process", "merger"), true});
  all.push_back({&in.supervisor, label_set{}.with("process", "supervisor"), false});

  auto family = [&](std::string_view name, std::string_view type, std::string_view help, bool supervised_only,
                    auto value_of) {
    x.family(name, type, help);
    for (const proc& p : all)
      if (!supervised_only || p.supervised)
        if (const maybe v = value_of(*p.m)) x.sample(name, p.labels, *v);
  };
  using P = const process_metrics&;
  family("mdbus_process_up", "gauge", "1 while the process runs (the supervisor's view), else 0.", false,
         [](P m) -> maybe { return m.running; });
  family("mdbus_process_pid", "gauge", "Process id, 0 when not running.", false,
         [](P m) -> maybe { return static_cast<std::uint64_t>(m.running && m.pid > 0 ? m.pid : 0); });
  // CPU and memory only while /proc has the process.
  family("mdbus_process_cpu_seconds_total", "counter", "CPU time used, user + system (/proc/<pid>/stat).", false,
         [](P m) -> maybe { return m.usage.ok ? maybe(m.usage.cpu_seconds) : std::nullopt; });
  family("mdbus_process_resident_memory_bytes", "gauge", "Resident set size (VmRSS).", false,
         [](P m) -> maybe { return m.usage.ok ? maybe(m.usage.rss_bytes) : std::nullopt; });
  family("mdbus_process_peak_resident_memory_bytes", "gauge", "Peak resident set size (VmHWM).", false,
         [](P m) -> maybe { return m.usage.ok ? maybe(m.usage.peak_rss_bytes) : std::nullopt; });
  family("mdbus_process_restarts_total", "counter", "Times the supervisor started the process again after it died or hung.",
         true, [](P m) -> maybe { return m.restarts; });
  family("mdbus_process_crash_loop", "gauge", "1 while the process keeps dying and its restarts are paced, else 0.", true,
         [](P m) -> maybe { return m.crash_loop; });
}

void render_slots(exposition& x, const metrics_input& in) {
  auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
    x.family(name, type, help);
    for (const auto& s : in.slots)
      if (const maybe v = value_of(s)) x.sample(name, slot_labels(s), *v);
  };
  using S = const slot_metrics&;

  x.family("mdbus_reconnections_total", "counter",
           "Reconnections of the slot by kind: proactive (planned make-before-break rotations: age limit, venue "
           "notice, operator) or forced (connection lost: watchdogs, venue closes, feeder restarts).");
  for (const auto& s : in.slots) {
    x.sample("mdbus_reconnections_total", slot_labels(s).with("kind", "proactive"), s.proactive_rotations);
    x.sample("mdbus_reconnections_total", slot_labels(s).with("kind", "forced"), s.forced_reconnections);
  }
  x.family("mdbus_reconnection_duration_seconds", "summary",
           "Time from a cut (or a rotation's start) until the slot is live again.");
  for (const auto& s : in.slots) {
    x.sample("mdbus_reconnection_duration_seconds_sum", slot_labels(s), s.reconnection_time.sum_seconds);
    x.sample("mdbus_reconnection_duration_seconds_count", slot_labels(s), s.reconnection_time.count);
  }
  family("mdbus_reconnection_duration_avg_seconds", "gauge",
         "Average reconnection time since the supervisor started (0 before the first).", [](S s) -> maybe {
           const auto& t = s.reconnection_time;
           return t.count > 0 ? t.sum_seconds / static_cast<double>(t.count) : 0.0;
         });
  family("mdbus_reconnection_duration_max_seconds", "gauge", "Longest reconnection time since the supervisor started.",
         [](S s) -> maybe { return s.reconnection_time.max_seconds; });
  family("mdbus_connection_uptime_ratio", "gauge", "Share of the observed time the slot was live (0..1).",
         [](S s) -> maybe {
           return s.observed_seconds > 0 ? std::clamp(s.connected_seconds / s.observed_seconds, 0.0, 1.0) : 0.0;
         });
  family("mdbus_slot_connected_seconds_total", "counter", "Time the slot was live while the supervisor watched it.",
         [](S s) -> maybe { return s.connected_seconds; });
  family("mdbus_slot_observed_seconds_total", "counter", "Time the supervisor has watched the slot.",
         [](S s) -> maybe { return s.observed_seconds; });
}

void render_feeders(exposition& x, const metrics_input& in) {
  x.family("mdbus_feeder_state", "gauge",
           "1 for the feeder's current connection state, 0 for the others (all 0 before its status block exists).");
  for (const auto& s : in.slots)
    for (const feeder_state st : kStates)
      x.sample("mdbus_feeder_state", slot_labels(s).with("state", to_string(st)), s.feeder_attached && s.feeder.state == st);

  // Read from the status block: no sample for a slot whose block is not there yet.
  auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
    x.family(name, type, help);
    for (const auto& s : in.slots)
      if (s.feeder_attached) x.sample(name, slot_labels(s), value_of(s.feeder));
  };
  family("mdbus_feeder_connection_age_seconds", "gauge", "Age of the current connection (0 when none).",
         [&](const feeder_status_snapshot& f) {
           const std::int64_t age = f.connect_time_ns > 0 ? in.now_wall_ns - f.connect_time_ns : 0;
           return age > 0 ? static_cast<double>(age) / 1e9 : 0.0;
         });
  using F = feeder_status_snapshot;
  struct counter_family {
    std::string_view name, help;
    std::uint64_t F::*field;
  };
  static constexpr counter_family kCounters[] = {
      {"mdbus_feeder_messages_total", "Complete WebSocket messages received.", &F::messages},
      {"mdbus_feeder_received_bytes_total", "Payload bytes of the messages received (bandwidth: rate() of it).",
       &F::bytes},
      {"mdbus_feeder_records_total", "Records written to the feeder's ring.", &F::records},
      {"mdbus_feeder_ring_overflows_total", "Records dropped because the feeder's ring was full.", &F::ring_overflows},
      {"mdbus_feeder_parse_errors_total", "Messages dropped as unparseable.", &F::parse_errors_total},
      {"mdbus_feeder_reconnects_total", "Connection attempts after the first, as the feeder counts them.",
       &F::reconnects},
      {"mdbus_feeder_connect_failures_total", "Connection attempts that never completed the handshake.",
       &F::connect_failures},
      {"mdbus_feeder_remote_closes_total", "Connections the venue or the network ended.", &F::remote_closes},
      {"mdbus_feeder_pong_timeouts_total", "Keepalives left unanswered (the feeder reconnected).", &F::pong_timeouts},
      {"mdbus_feeder_no_data_trips_total", "No-data watchdog trips (the feeder reconnected).", &F::no_data_trips},
      {"mdbus_feeder_venue_notices_total", "Venue going-away notices (Binance serverShutdown, OKX 64008).",
       &F::venue_notices},
      {"mdbus_feeder_resyncs_total", "Book snapshots written for the merger's resync requests.", &F::resyncs_done},
      {"mdbus_feeder_resync_failures_total", "Resync requests that ended without a snapshot.", &F::resync_failures},
      {"mdbus_feeder_backfilled_trades_total", "Trades fetched from the venue's history for the merger's backfill requests.",
       &F::backfilled_trades},
      {"mdbus_feeder_backfill_failures_total", "Backfill requests that ended with trades not fetched (a gap record).",
       &F::backfill_failures},
  };
  for (const auto& c : kCounters) family(c.name, "counter", c.help, [&](const F& f) { return f.*c.field; });
}

void render_merger(exposition& x, const metrics_input& in) {
  const label_set none;
  const merge_counters& m = in.merge;
  x.family("mdbus_merge_published_records_total", "counter", "Records the merger published to the output ring.");
  x.sample("mdbus_merge_published_records_total", none, m.published);
  x.family("mdbus_merge_duplicates_total", "counter", "Duplicate copies filtered (the second arrival of an event).");
  x.sample("mdbus_merge_duplicates_total", none, m.duplicates);
  x.family("mdbus_merge_gaps_total", "counter", "Data-loss events: gap records published for holes neither slot filled.");
  x.sample("mdbus_merge_gaps_total", none, m.gaps);
  x.family("mdbus_merge_holes_filled_total", "counter", "Holes in one slot filled by the other within the hole-fill window.");
  x.sample("mdbus_merge_holes_filled_total", none, m.holes_filled);
  x.family("mdbus_merge_resync_requests_total", "counter", "Book snapshots the merger asked the feeders for.");
  x.sample("mdbus_merge_resync_requests_total", none, m.resync_requests);
  x.family("mdbus_merge_backfill_requests_total", "counter", "Trade holes the merger asked a feeder to fetch from the venue's history.");
  x.sample("mdbus_merge_backfill_requests_total", none, m.backfill_requests);
  x.family("mdbus_merge_backfilled_trades_total", "counter", "Trades published from the venues' trade history (backfill).");
  x.sample("mdbus_merge_backfilled_trades_total", none, m.backfilled);
  x.family("mdbus_merge_backfill_gaps_total", "counter",
           "Gap records for trades backfill did not bring (the venue refused or no longer keeps them, or the bound passed).");
  x.sample("mdbus_merge_backfill_gaps_total", none, m.backfill_gaps);
  x.family("mdbus_merge_backfill_late_total", "counter", "Backfilled trades that came after their gap record: dropped.");
  x.sample("mdbus_merge_backfill_late_total", none, m.backfill_late);
  x.family("mdbus_merge_suspect_windows_total", "counter",
           "Suspect records: a stream whose ids cannot show a loss, after every slot of its group was down at once.");
  x.sample("mdbus_merge_suspect_windows_total", none, m.suspect_windows);

  auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto value_of) {
    x.family(name, type, help);
    for (const auto& s : in.slots) x.sample(name, slot_labels(s), value_of(s.merge));
  };
  using M = const merge_slot_counters&;
  family("mdbus_merge_first_arrivals_total", "counter", "Records this slot delivered first (won the race).",
         [](M c) { return c.first_arrivals; });
  family("mdbus_merge_slot_duplicates_total", "counter", "This slot's copies dropped because its partner delivered first.",
         [](M c) { return c.duplicates; });
  family("mdbus_merge_feeder_ring_overflows_total", "counter",
         "Records the feeder's ring dropped, as the merger sees the ring.", [](M c) { return c.feeder_ring_overflows; });

  x.family("mdbus_merge_lead_seconds", "histogram",
           "How far ahead this slot's winning copies were: the losing copy's receive time minus the winner's.");
  for (const auto& s : in.slots) {
    const merge_slot_counters& c = s.merge;
    const label_set l = slot_labels(s);
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b + 1 < kLeadBuckets; ++b) {
      cumulative += c.lead_buckets[b];
      x.sample("mdbus_merge_lead_seconds_bucket", l.with("le", kLeadLe[b]), cumulative);
    }
    cumulative += c.lead_buckets[kLeadBuckets - 1];
    // The merger refreshes these counters one by one, so a scrape can see the samples and
    // the buckets a moment apart; +Inf and _count must agree, so both take the larger.
    const std::uint64_t count = std::max(cumulative, c.lead_samples);
    x.sample("mdbus_merge_lead_seconds_bucket", l.with("le", kLeadLe[kLeadBuckets - 1]), count);
    x.sample("mdbus_merge_lead_seconds_sum", l, seconds_of_ns(c.lead_sum_ns));
    x.sample("mdbus_merge_lead_seconds_count", l, count);
  }
  family("mdbus_merge_lead_max_seconds", "gauge", "Largest lead of this slot's winning copies.",
         [](M c) { return seconds_of_ns(c.lead_max_ns); });
}

}  // namespace

std::string render_metrics(const metrics_input& in) {
  exposition x(in.bus);
  x.family("mdbus_supervisor_uptime_seconds", "gauge", "Time since the supervisor started.");
  x.sample("mdbus_supervisor_uptime_seconds", label_set{}, in.supervisor_uptime_seconds);
  render_processes(x, in);
  render_slots(x, in);
  render_feeders(x, in);
  render_merger(x, in);
  return x.take();
}

}  // namespace mdbus::supervise
