// shmcat — inspect the bus's shared memory: list segments, show a ring's state, list
// counters, follow the records of the output ring. Read-only: it never takes a lock or
// writes a byte, so it is safe against a live bus.
#include "bus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "bus/counters.hpp"
#include "bus/records.hpp"
#include "bus/shm_segment.hpp"
#include "bus/spsc_ring.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

using namespace mdbus;

namespace {

// Exit codes, documented in README.md.
constexpr int kExitNoSuchSegment = 3;
constexpr int kExitIncompatible = 4;
constexpr int kExitPermission = 5;

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

/// "out", "mybus.out" or "mdbus.mybus.out" → full name; a bare object needs --bus.
std::string resolve(const std::string& arg, const std::string& bus) {
  if (arg.rfind("mdbus.", 0) == 0) return arg;
  if (!bus.empty()) return "mdbus." + bus + "." + arg;
  return "mdbus." + arg;
}

int exit_code_for(const segment_info& i) {
  if (i.permission_denied) return kExitPermission;
  if (i.status == attach_status::await) return kExitNoSuchSegment;
  return kExitIncompatible;
}

std::string age(std::int64_t hb_mono_ns) {
  if (hb_mono_ns == 0) return "-";
  const double s = static_cast<double>(mono_ns() - hb_mono_ns) / 1e9;
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.3fs" : "%.0fs", s);
  return buf;
}

int cmd_list(const std::string& bus, bool json) {
  nlohmann::json out = nlohmann::json::array();
  if (!json)
    std::printf("%-16s %-28s %-15s %10s %8s %-6s %-9s %8s\n", "BUS", "OBJECT", "KIND", "SIZE", "WRITER", "ALIVE",
                "HEARTBEAT", "VERSION");
  for (const auto& name : list_segments(bus)) {
    const segment_info i = inspect_segment(name);
    const std::string kind = i.status == attach_status::ok ? std::string(to_string(i.kind)) : "?";
    if (json) {
      out.push_back({{"name", i.name}, {"bus", i.bus}, {"object", i.object}, {"kind", kind},
                     {"size", i.file_size}, {"writer_pid", i.writer_pid}, {"writer_alive", i.writer_alive},
                     {"heartbeat_age_ns", i.writer_heartbeat_ns ? mono_ns() - i.writer_heartbeat_ns : 0},
                     {"layout_version", i.layout_version}, {"ok", i.status == attach_status::ok},
                     {"problem", i.reason}});
      continue;
    }
    std::printf("%-16s %-28s %-15s %10llu %8lld %-6s %-9s %8u%s%s\n", i.bus.c_str(), i.object.c_str(), kind.c_str(),
                static_cast<unsigned long long>(i.file_size), static_cast<long long>(i.writer_pid),
                i.writer_alive ? "yes" : "no", age(i.writer_heartbeat_ns).c_str(), i.layout_version,
                i.reason.empty() ? "" : "  ! ", i.reason.c_str());
  }
  if (json) std::cout << out.dump() << "\n";
  return 0;
}

int cmd_info(const std::string& name, bool json) {
  const segment_info i = inspect_segment(name);
  if (i.status != attach_status::ok) {
    std::fprintf(stderr, "shmcat: %s\n", i.reason.c_str());
    return exit_code_for(i);
  }
  nlohmann::json j = {{"name", i.name}, {"kind", to_string(i.kind)}, {"size", i.file_size},
                      {"mode", i.mode}, {"layout_version", i.layout_version}, {"creator_pid", i.creator_pid},
                      {"creation_time_ns", i.creation_time_ns}, {"writer_pid", i.writer_pid},
                      {"writer_epoch", i.writer_epoch}, {"writer_alive", i.writer_alive},
                      {"heartbeat_age_ns", mono_ns() - i.writer_heartbeat_ns}};
  const auto seg = shm_segment::open(name, i.kind, access_mode::read_only);
  if (i.kind == segment_kind::spsc_ring) {
    const auto& c = *reinterpret_cast<const spsc_ring_control*>(seg.body());
    const auto head = c.head.load(), tail = c.tail.load();
    j.update({{"capacity", i.geometry[0]}, {"max_payload", i.geometry[1]}, {"head", head}, {"tail", tail},
              {"fill_bytes", head - tail},
              {"fill_percent", i.geometry[0] ? 100.0 * static_cast<double>(head - tail) / static_cast<double>(i.geometry[0]) : 0.0},
              {"overflows", c.overflows.load()}, {"oversize", c.oversize.load()},
              {"reader_attached", i.reader_attached}});
  } else if (i.kind == segment_kind::broadcast_ring) {
    const auto& c = *reinterpret_cast<const broadcast_ring_control*>(seg.body());
    j.update({{"capacity", i.geometry[0]}, {"max_payload", i.geometry[1]}, {"head", c.head.load()},
              {"frames_published", c.next_seq.load()}, {"oldest_intact_position", c.reclaim.load()}});
  } else if (i.kind == segment_kind::counters) {
    j["max_counters"] = i.geometry[0];
  }
  if (json) {
    std::cout << j.dump() << "\n";
  } else {
    for (auto it = j.begin(); it != j.end(); ++it) std::cout << std::left << std::setw(24) << it.key() << it.value() << "\n";
  }
  return 0;
}

int cmd_counters(const std::string& name, bool watch, double interval_s, bool json) {
  const segment_info i = inspect_segment(name);
  if (i.status != attach_status::ok) {
    std::fprintf(stderr, "shmcat: %s\n", i.reason.c_str());
    return exit_code_for(i);
  }
  auto counters = counters_segment::open(name, access_mode::read_only);
  std::map<std::uint32_t, std::int64_t> last;
  std::int64_t last_t = mono_ns();
  bool first = true;
  do {
    const std::int64_t now = mono_ns();
    const double dt = static_cast<double>(now - last_t) / 1e9;
    if (json) {
      nlohmann::json arr = nlohmann::json::array();
      counters.for_each([&](const counter_entry& e) {
        arr.push_back({{"label", e.label}, {"value", e.value}, {"owner_pid", e.owner_pid}, {"owner_alive", e.owner_alive}});
      });
      std::cout << arr.dump() << std::endl;
    } else {
      if (watch) std::printf("\x1b[H\x1b[2J");  // refresh in place
      std::printf("%-72s %16s %14s %8s\n", "COUNTER", "VALUE", "RATE/s", "OWNER");
      counters.for_each([&](const counter_entry& e) {
        const auto prev = last.find(e.id);
        const std::string rate = (!first && prev != last.end() && dt > 0)
                                     ? std::to_string(static_cast<long long>(static_cast<double>(e.value - prev->second) / dt))
                                     : "-";
        std::printf("%-72.*s %16lld %14s %7lld%s\n", static_cast<int>(e.label.size()), e.label.data(),
                    static_cast<long long>(e.value), rate.c_str(), static_cast<long long>(e.owner_pid),
                    e.owner_alive ? "" : "†");
        last[e.id] = e.value;
      });
      std::fflush(stdout);
    }
    last_t = now;
    first = false;
    if (watch) std::this_thread::sleep_for(std::chrono::duration<double>(interval_s));
  } while (watch && !g_stop);
  return 0;
}

struct tail_filter {
  std::string venue, symbol, type;
  [[nodiscard]] bool pass(const record_header& h) const {
    if (!venue.empty() && to_string(h.venue_id) != venue) return false;
    if (!type.empty() && to_string(h.type) != type) return false;
    if (!symbol.empty() && h.symbol_view() != symbol) return false;
    return true;
  }
};

nlohmann::json record_json(const record_view& r) {
  const record_header& h = r.header();
  nlohmann::json j = {{"type", to_string(h.type)}, {"venue", to_string(h.venue_id)},
                      {"channel", to_string(h.channel_id)}, {"symbol", h.symbol_view()},
                      {"slot", to_string(h.slot)}, {"seq", h.seq}, {"first_seq", h.first_seq},
                      {"prev_seq", h.prev_seq}, {"venue_time_ns", h.venue_time_ns},
                      {"receive_time_ns", h.receive_time_ns}, {"publish_time_ns", h.publish_time_ns},
                      {"text", format_record(r, 3)}};
  return j;
}

int cmd_tail(const std::string& name, bool follow, std::size_t count, const tail_filter& filter, bool json) {
  const segment_info i = inspect_segment(name);
  if (i.status != attach_status::ok) {
    std::fprintf(stderr, "shmcat: %s\n", i.reason.c_str());
    return exit_code_for(i);
  }
  if (i.kind != segment_kind::broadcast_ring) {
    std::fprintf(stderr, "shmcat: segment %s is a %s; tail reads the output (broadcast) ring\n", name.c_str(),
                 std::string(to_string(i.kind)).c_str());
    return kExitIncompatible;
  }
  auto reader = broadcast_ring_reader::open(name, start_position::oldest, lap_policy::resume_oldest);
  // Without -f: the last `count` frames (or everything held). Skip ahead to them.
  const std::uint64_t published = reinterpret_cast<const broadcast_ring_control*>(reader.segment().body())->next_seq.load();
  const std::uint64_t first_wanted = published > count ? published - count : 0;
  std::vector<std::byte> buf(i.geometry[1]);
  std::uint64_t bad = 0;
  while (!g_stop) {
    const auto res = reader.try_read(buf);
    if (res.status == broadcast_read_status::empty) {
      if (!follow) break;
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      continue;
    }
    if (res.status == broadcast_read_status::lapped) {
      if (json)
        std::cout << nlohmann::json{{"lapped", true}, {"missed_frames", res.missed_frames}}.dump() << "\n";
      else
        std::printf("-- lapped: %llu frames missed --\n", static_cast<unsigned long long>(res.missed_frames));
      continue;
    }
    if (res.status != broadcast_read_status::ok) {
      ++bad;
      break;
    }
    if (res.seq < first_wanted) continue;
    record_view r;
    const auto st = record_view::parse({buf.data(), res.length}, r);
    if (st != record_status::ok) {
      std::fprintf(stderr, "shmcat: frame %llu: %s\n", static_cast<unsigned long long>(res.seq),
                   std::string(to_string(st)).c_str());
      continue;
    }
    if (!filter.pass(r.header())) continue;
    if (json)
      std::cout << record_json(r).dump() << "\n";
    else
      std::cout << format_record(r) << "\n";
    if (follow) std::cout.flush();
  }
  std::cout.flush();
  return bad ? kExitIncompatible : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"shmcat — inspect mdbus shared memory (read-only)"};
  app.require_subcommand(1);
  app.fallthrough();  // --bus / --json may follow the subcommand too (subcommands inherit this)
  std::string bus;
  bool json = false;
  app.add_option("--bus", bus, "bus name, so segments can be named by object alone");
  app.add_flag("--json", json, "JSON output (one document, or one line per record/refresh)");

  auto* list = app.add_subcommand("list", "every mdbus segment on the machine (or of --bus)");
  std::string seg;
  auto* info = app.add_subcommand("info", "header, positions, fill and counters of one segment");
  info->add_option("segment", seg, "segment: mdbus.<bus>.<object>, <bus>.<object>, or <object> with --bus")->required();
  auto* counters = app.add_subcommand("counters", "every counter of a bus, with rates");
  bool watch = false;
  double interval = 1.0;
  counters->add_flag("-w,--watch", watch, "refresh in place");
  counters->add_option("--interval", interval, "seconds between refreshes")->check(CLI::PositiveNumber);
  auto* tail = app.add_subcommand("tail", "records of the output ring, like tail(1)");
  bool follow = false;
  std::size_t count = 10;
  tail_filter filter;
  tail->add_option("segment", seg, "the output ring (e.g. <bus>.out)")->required();
  tail->add_flag("-f,--follow", follow, "keep printing new records");
  tail->add_option("-n,--lines", count, "how many of the latest records first");
  tail->add_option("--venue", filter.venue, "binance | okx");
  tail->add_option("--symbol", filter.symbol, "exact symbol, as the venue writes it");
  tail->add_option("--type", filter.type, "trade | bbo | book_delta | book_snapshot | gap | slot_status");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  try {
    if (*list) return cmd_list(bus, json);
    if (*info) return cmd_info(resolve(seg, bus), json);
    if (*counters) {
      if (bus.empty()) {
        std::fprintf(stderr, "shmcat: counters needs --bus\n");
        return 2;
      }
      return cmd_counters("mdbus." + bus + ".counters", watch, interval, json);
    }
    if (*tail) return cmd_tail(resolve(seg, bus), follow, count, filter, json);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmcat: %s\n", e.what());
    return kExitIncompatible;
  }
  return 0;
}
