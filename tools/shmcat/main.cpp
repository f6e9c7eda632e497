// shmcat — inspect the bus's shared memory: list segments, show a ring's state, list
// counters, follow the records of the output ring or of a feeder ring. Read-only: it maps
// every segment read-only, never takes a lock and never writes a byte, so it is safe against
// a live bus. See README.md.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "bus/counters.hpp"
#include "bus/feeder_block.hpp"
#include "mdbus/reader_table.hpp"
#include "mdbus/shm_segment.hpp"
#include "bus/spsc_ring.hpp"
#include "bus/venue_budget.hpp"
#include "tools/shmcat/commands.hpp"
#include "tools/shmcat/spsc_observer.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <thread>
#include <unistd.h>

using namespace mdbus;
using namespace mdbus::shmcat;

namespace mdbus::shmcat {

volatile std::sig_atomic_t g_stop = 0;

int report_unusable(const segment_info& i) {
  std::fprintf(stderr, "shmcat: %s\n", i.reason.c_str());
  if (i.permission_denied) return kExitPermission;
  if (i.foreign_owner) return kExitForeignOwner;
  if (i.status == attach_status::await) return kExitNoSuchSegment;
  return kExitIncompatible;
}

namespace {

// The SIGBUS line, made before it is needed: the handler may only write(2) and _exit.
char g_truncated_line[512] = "shmcat: a segment was truncated under the reader (SIGBUS)\n";
std::size_t g_truncated_len = std::strlen(g_truncated_line);

std::string truncated_text(const std::string& segment) {
  return "shmcat: segment " + segment + ": truncated under the reader by its owner (its mapping is gone)\n";
}

}  // namespace

void watch_for_truncation(const std::string& segment) {
  const std::string line = truncated_text(segment);
  if (line.size() >= sizeof g_truncated_line) return;  // keep the generic line
  std::memcpy(g_truncated_line, line.c_str(), line.size() + 1);
  g_truncated_len = line.size();
}

int report_truncated(const std::string& segment) {
  std::fflush(stdout);
  std::fputs(truncated_text(segment).c_str(), stderr);
  return kExitIncompatible;
}

}  // namespace mdbus::shmcat

namespace {

void on_signal(int) { g_stop = 1; }

// A MAP_SHARED mapping whose file its owner shrank faults with SIGBUS on the next touch past
// the new end; Linux cannot prevent that. Say so in one line and exit like any refused segment.
void on_sigbus(int) {
  (void)!::write(STDERR_FILENO, g_truncated_line, g_truncated_len);
  ::_exit(kExitIncompatible);
}

/// "out", "mybus.out" or "mdbus.mybus.out" → full name; a bare object needs --bus.
std::string resolve(const std::string& arg, const std::string& bus) {
  if (arg.rfind("mdbus.", 0) == 0) return arg;
  if (!bus.empty()) return "mdbus." + bus + "." + arg;
  return "mdbus." + arg;
}

std::int64_t heartbeat_age_ns(const segment_info& i) { return i.writer_heartbeat_ns ? mono_ns() - i.writer_heartbeat_ns : 0; }

std::string age(const segment_info& i) {
  if (i.writer_heartbeat_ns == 0) return "-";
  const double s = static_cast<double>(heartbeat_age_ns(i)) / 1e9;
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.3fs" : "%.0fs", s);
  return buf;
}

int no_such_bus(const std::string& bus) {
  std::fprintf(stderr, "shmcat: no such bus '%s' (no /dev/shm/mdbus.%s.* segment)\n", bus.c_str(), bus.c_str());
  return kExitNoSuchSegment;
}

int cmd_list(const std::string& bus, bool json) {
  const auto names = list_segments(bus);
  if (!bus.empty() && names.empty()) return no_such_bus(bus);
  nlohmann::json out = nlohmann::json::array();
  if (!json)
    std::printf("%-16s %-28s %-15s %10s %8s %-6s %-9s %8s %6s\n", "BUS", "OBJECT", "KIND", "SIZE", "WRITER", "ALIVE",
                "HEARTBEAT", "VERSION", "OWNER");
  for (const auto& name : names) {
    const segment_info i = inspect_segment(name);
    const std::string kind = i.status == attach_status::ok ? std::string(to_string(i.kind)) : "?";
    if (json) {
      out.push_back({{"name", i.name}, {"bus", i.bus}, {"object", i.object}, {"kind", kind}, {"size", i.file_size},
                     {"owner_uid", i.owner_uid}, {"writer_pid", i.writer_pid}, {"writer_alive", i.writer_alive},
                     {"heartbeat_age_ns", heartbeat_age_ns(i)}, {"layout_version", i.layout_version},
                     {"ok", i.status == attach_status::ok}, {"problem", i.reason}});
      continue;
    }
    std::printf("%-16s %-28s %-15s %10llu %8lld %-6s %-9s %8u %6u%s%s\n", i.bus.c_str(), i.object.c_str(), kind.c_str(),
                static_cast<unsigned long long>(i.file_size), static_cast<long long>(i.writer_pid),
                i.writer_alive ? "yes" : "no", age(i).c_str(), i.layout_version, i.owner_uid, i.reason.empty() ? "" : "  ! ",
                i.reason.c_str());
  }
  if (json) std::cout << out.dump() << "\n";
  return 0;
}

/// Counters of the segment's bus whose label names the segment's object (e.g. a feeder's
/// `{slot="feed.binance.A"}`), for `info`.
nlohmann::json related_counters(const segment_info& i) {
  nlohmann::json out = nlohmann::json::object();
  const std::string name = "mdbus." + i.bus + ".counters";
  if (i.object == "counters" || inspect_segment(name).status != attach_status::ok) return out;
  try {
    const auto counters = counters_segment::open(name, access_mode::read_only);
    counters.for_each([&](const counter_entry& e) {
      if (e.label.find(i.object) != std::string_view::npos) out[std::string(e.label)] = e.value;
    });
  } catch (const segment_error&) {
  }
  return out;
}

/// A segment mapped read-only through its kind's own opener, which checks the geometry
/// against the segment's size (and a ring's positions) before anything in the body is read.
struct checked_segment {
  broadcast_ring_reader ring;       // an output ring's mapping
  shmcat::spsc_observer feeder;     // a feeder ring's mapping
  shm_segment plain;                // any other kind's
  [[nodiscard]] const shm_segment& get() const {
    if (ring.segment().valid()) return ring.segment();
    if (feeder.segment().valid()) return feeder.segment();
    return plain;
  }
};

/// Throws segment_error with the kind's refusal (exit 4).
checked_segment open_checked(const std::string& name, segment_kind kind) {
  checked_segment c;
  if (kind == segment_kind::broadcast_ring) {
    std::string why;
    if (broadcast_ring_reader::try_open(name, c.ring, why, start_position::oldest) != attach_status::ok) throw segment_error(why);
    return c;
  }
  if (kind == segment_kind::spsc_ring) {
    c.feeder = shmcat::spsc_observer::open(name);
    return c;
  }
  if (kind == segment_kind::reader_table) {
    reader_table t;
    std::string why;
    const std::string ring = name.size() > kReaderTableSuffix.size() ? name.substr(0, name.size() - kReaderTableSuffix.size()) : name;
    if (reader_table::try_open(ring, access_mode::read_only, t, why) != attach_status::ok) throw segment_error(why);
  } else if (kind == segment_kind::counters) {
    (void)counters_segment::open(name, access_mode::read_only);  // checks its capacity against the size
  }
  c.plain = shm_segment::open(name, kind, access_mode::read_only);
  return c;
}

int cmd_info(const std::string& name, bool json) {
  const segment_info i = inspect_segment(name);
  if (i.status != attach_status::ok) return report_unusable(i);
  nlohmann::json j = {{"name", i.name}, {"kind", to_string(i.kind)}, {"size", i.file_size},
                      {"mode", i.mode}, {"owner_uid", i.owner_uid}, {"layout_version", i.layout_version},
                      {"creator_pid", i.creator_pid}, {"creation_time_ns", i.creation_time_ns},
                      {"writer_pid", i.writer_pid}, {"writer_epoch", i.writer_epoch}, {"writer_alive", i.writer_alive},
                      {"heartbeat_age_ns", heartbeat_age_ns(i)}};
  watch_for_truncation(name);
  const checked_segment checked = open_checked(name, i.kind);
  const shm_segment& seg = checked.get();
  std::uint32_t reader_slots = 0;
  const std::uint64_t capacity = i.geometry[0];
  auto percent = [&](std::uint64_t bytes) { return capacity ? 100.0 * static_cast<double>(bytes) / static_cast<double>(capacity) : 0.0; };
  if (i.kind == segment_kind::spsc_ring) {
    const auto& c = *reinterpret_cast<const spsc_ring_control*>(seg.body());
    const auto head = c.head.load(std::memory_order_acquire), tail = c.tail.load(std::memory_order_acquire);
    const std::uint64_t fill = head >= tail ? head - tail : 0;
    // The one reader (the merger) is known by its lock; its lag is the unread bytes.
    j.update({{"capacity", capacity}, {"max_payload", i.geometry[1]}, {"head", head}, {"tail", tail},
              {"fill_bytes", fill}, {"fill_percent", percent(fill)}, {"overflows", c.overflows.load()},
              {"oversize", c.oversize.load()}, {"reader_attached", i.reader_attached},
              {"readers", nlohmann::json::array({{{"reader", "merger (SPSC reader lock)"}, {"attached", i.reader_attached},
                                                  {"lag_bytes", fill}}})}});
  } else if (i.kind == segment_kind::broadcast_ring) {
    const auto& c = *reinterpret_cast<const broadcast_ring_control*>(seg.body());
    const auto head = c.head.load(std::memory_order_acquire), reclaim = c.reclaim.load(std::memory_order_acquire);
    const auto published = c.next_seq.load(std::memory_order_acquire);
    // The stamp at `reclaim` is the oldest intact frame's sequence + 1 (0: nothing there yet).
    std::uint64_t stamp = 0;
    if (capacity != 0)
      stamp = __atomic_load_n(reinterpret_cast<const std::uint64_t*>(seg.base() + kBroadcastDataOffset + (reclaim & (capacity - 1))),
                              __ATOMIC_ACQUIRE);
    const std::uint64_t oldest = stamp == 0 ? 0 : stamp - 1;
    const std::uint64_t fill = head >= reclaim ? head - reclaim : 0;
    j.update({{"capacity", capacity}, {"max_payload", i.geometry[1]}, {"head", head}, {"frames_published", published},
              {"oldest_intact_position", reclaim}, {"oldest_seq", oldest},
              {"frames_held", published > oldest ? published - oldest : 0}, {"fill_bytes", fill},
              {"fill_percent", percent(fill)}});
    // Readers that registered in the ring's reader table; unregistered ones stay anonymous.
    std::string note;
    j["readers"] = ring_readers(name, head, published, note, reader_slots);
    if (!note.empty()) j["readers_note"] = note;
  } else if (i.kind == segment_kind::reader_table) {
    // The table on its own: lag against its ring when that opens.
    const std::string ring = name.substr(0, name.size() - kReaderTableSuffix.size());
    std::uint64_t head = 0, published = 0;
    std::string note;
    const bool ring_ok = name.size() > kReaderTableSuffix.size() && ring_now(ring, head, published);
    j["slots"] = i.geometry[0];
    j["readers"] = ring_readers(ring, head, published, note, reader_slots);
    if (!ring_ok) j["readers_note"] = "ring " + ring + " does not open: lag figures are against 0";
  } else if (i.kind == segment_kind::counters) {
    j["max_counters"] = i.geometry[0];
  } else if (i.kind == segment_kind::status_block) {
    // A feeder's status block: its state as written, and as observed — a feeder killed with
    // SIGKILL leaves "live" written for ever; with its writer gone the block reads as down.
    const feeder_status_reader r = feeder_status_reader::open(name);
    const feeder_status_snapshot s = r.snapshot();
    j.update({{"feeder_state_written", std::string(to_string(r.state()))}, {"feeder_state", std::string(to_string(s.state))},
              {"feeder_reason", std::string(to_string(s.reason))}, {"feeder_pid", s.pid}, {"connections", s.connections},
              {"messages", s.messages}, {"records", s.records}});
  } else if (i.kind == segment_kind::venue_budget) {
    // "mdbus.<bus>.budget.<venue>": the venue's shared REST budget and connection pace.
    const auto dot = name.rfind('.');
    const auto v = dot == std::string::npos ? std::nullopt : venue_from_string(name.substr(dot + 1));
    const std::string prefix = "mdbus.";
    const auto mid = name.rfind(".budget.");
    if (v && mid != std::string::npos && mid > prefix.size()) {
      const venue_budget b = venue_budget::open(name.substr(prefix.size(), mid - prefix.size()), *v, access_mode::read_only);
      const venue_budget_stats s = b.stats();
      j.update({{"rest_budget", b.limits().rest.budget}, {"rest_window_ms", b.limits().rest.window_ns / 1'000'000},
                {"rest_in_use", b.rest_in_use(b.rest_clock_ns())}, {"rest_granted", s.rest_granted},
                {"rest_units_granted", s.rest_units_granted}, {"rest_deferred", s.rest_deferred},
                {"rest_blocked_until_ns", b.rest_blocked_until()}, {"http_429", s.http_429}, {"http_418", s.http_418},
                {"last_used_weight_header", s.last_used_header}, {"connect_budget", b.limits().connect.budget},
                {"connect_window_ms", b.limits().connect.window_ns / 1'000'000}, {"connect_granted", s.connect_granted},
                {"connect_deferred", s.connect_deferred}});
    }
  }
  j["counters"] = related_counters(i);
  if (json) {
    std::cout << j.dump() << "\n";
  } else {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "readers" && it.value().is_array()) continue;  // a table of its own, below
      std::cout << std::left << std::setw(24) << it.key() << it.value() << "\n";
    }
    std::cout.flush();
    if (j.contains("readers") && j["readers"].is_array()) print_readers(j["readers"], reader_slots);
  }
  return 0;
}

int cmd_counters(const std::string& bus, bool watch, double interval_s, bool json) {
  const std::string name = "mdbus." + bus + ".counters";
  const segment_info i = inspect_segment(name);
  if (i.status == attach_status::await && list_segments(bus).empty()) return no_such_bus(bus);
  if (i.status != attach_status::ok) return report_unusable(i);
  watch_for_truncation(name);
  auto counters = counters_segment::open(name, access_mode::read_only);
  std::map<std::uint32_t, std::int64_t> last;
  std::int64_t last_t = mono_ns();
  bool first = true;
  do {
    const std::int64_t now = mono_ns();
    const double dt = static_cast<double>(now - last_t) / 1e9;
    auto rate = [&](const counter_entry& e) -> std::optional<double> {
      const auto prev = last.find(e.id);
      if (first || prev == last.end() || dt <= 0) return std::nullopt;
      return static_cast<double>(e.value - prev->second) / dt;
    };
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      counters.for_each([&](const counter_entry& e) {
        const auto r = rate(e);
        arr.push_back({{"label", e.label}, {"value", e.value}, {"rate_per_s", r ? nlohmann::json(*r) : nlohmann::json()},
                       {"owner_pid", e.owner_pid}, {"owner_alive", e.owner_alive}});
        last[e.id] = e.value;
      });
      std::cout << arr.dump() << std::endl;
    } else {
      if (watch) std::printf("\x1b[H\x1b[2J");  // refresh in place
      std::printf("%-72s %16s %14s %8s\n", "COUNTER", "VALUE", "RATE/s", "OWNER");
      counters.for_each([&](const counter_entry& e) {
        const auto r = rate(e);
        const std::string shown = r ? std::to_string(static_cast<long long>(*r)) : "-";
        std::printf("%-72.*s %16lld %14s %7lld%s\n", static_cast<int>(e.label.size()), e.label.data(),
                    static_cast<long long>(e.value), shown.c_str(), static_cast<long long>(e.owner_pid),
                    e.owner_alive ? "" : "†");
        last[e.id] = e.value;
      });
      std::fflush(stdout);
    }
    last_t = now;
    first = false;
    // Sleep in short steps so Ctrl-C ends a long interval at once.
    for (auto until = mono_ns() + static_cast<std::int64_t>(interval_s * 1e9); watch && g_stop == 0 && mono_ns() < until;)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (watch && g_stop == 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmcat — inspect mdbus shared memory (read-only)"};
  app.require_subcommand(1);
  app.fallthrough();  // --bus / --json may follow the subcommand too (subcommands inherit this)
  std::string bus;
  bool json = false;
  app.add_option("--bus", bus, "bus name, so segments can be named by object alone");
  std::string bus_uid;
  app.add_option("--bus-uid", bus_uid,
                 "trust segments owned by this uid (another user's group-readable bus); default: our own, or $MDBUS_BUS_UID");
  app.add_flag("--json", json, "JSON output (one document, or one line per record/refresh)");

  auto* list = app.add_subcommand("list", "every mdbus segment on the machine (or of --bus)");
  std::string seg;
  auto* info = app.add_subcommand("info", "header, positions, fill, readers and counters of one segment");
  info->add_option("segment", seg, "segment: mdbus.<bus>.<object>, <bus>.<object>, or <object> with --bus")->required();
  auto* counters = app.add_subcommand("counters", "every counter of a bus, with rates");
  bool watch = false;
  double interval = 1.0;
  counters->add_flag("-w,--watch", watch, "refresh in place");
  counters->add_option("--interval", interval, "seconds between refreshes")->check(CLI::PositiveNumber);
  auto* tail = app.add_subcommand("tail", "records of the output ring or a feeder ring, like tail(1)");
  tail_options to;
  tail->add_option("segment", seg, "the output ring (<bus>.out) or a feeder ring (<bus>.feed.<venue>.<slot>)")->required();
  tail->add_flag("-f,--follow", to.follow, "keep printing new records");
  tail->add_option("-n,--lines", to.lines, "how many of the latest (matching) records first");
  tail->add_option("--venue", to.venue, "binance | okx");
  tail->add_option("--symbol", to.symbol, "exact symbol, as the venue writes it");
  tail->add_option("--type", to.type, "trade | bbo | book_delta | book_snapshot | book | gap | slot_status | mark_funding | instrument");
  CLI11_PARSE(app, argc, argv);

  if (!bus_uid.empty()) {
    if (!parse_uid(bus_uid)) {
      std::fprintf(stderr, "shmcat: --bus-uid \"%s\": not a uid\n", bus_uid.c_str());
      return kExitUsage;
    }
    ::setenv(kBusUidVariable, bus_uid.c_str(), 1);  // every opener in this process reads it
  }
  if (std::string why; !expected_segment_owner(&why)) {
    std::fprintf(stderr, "shmcat: %s\n", why.c_str());
    return kExitUsage;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGBUS, on_sigbus);
  try {
    if (*list) return cmd_list(bus, json);
    if (*info) return cmd_info(resolve(seg, bus), json);
    if (*counters) {
      if (bus.empty()) {
        std::fprintf(stderr, "shmcat: counters needs --bus\n");
        return kExitUsage;
      }
      return cmd_counters(bus, watch, interval, json);
    }
    if (*tail) {
      to.json = json;
      return cmd_tail(resolve(seg, bus), to);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmcat: %s\n", e.what());
    return kExitIncompatible;
  }
  return 0;
}
