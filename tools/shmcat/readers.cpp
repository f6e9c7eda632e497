// shmcat info: the registered readers of an output ring, from its reader table
// (bus/include/mdbus/reader_table.hpp), with each one's lag behind the writer. Read-only like the rest
// of shmcat: the table is mapped read-only, nothing is claimed or written.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/reader_table.hpp"
#include "tools/shmcat/commands.hpp"

#include <cstdio>

namespace mdbus::shmcat {

nlohmann::json ring_readers(const std::string& ring_name, std::uint64_t head, std::uint64_t published,
                            std::string& note, std::uint32_t& slots) {
  reader_table table;
  std::string why;
  if (reader_table::try_open(ring_name, access_mode::read_only, table, why) != attach_status::ok) {
    note = "no reader table: " + why;
    slots = 0;
    return nullptr;
  }
  slots = table.slots();
  const std::int64_t now = mono_ns();
  nlohmann::json out = nlohmann::json::array();
  for (reader_entry e : table.readers()) {
    for (char& ch : e.name)  // any bytes a reader stored: keep the JSON valid UTF-8
      if (ch < 0x20 || ch > 0x7e) ch = '?';
    // The reader's figures come from its last update, so they can be a little ahead of the
    // writer line we read first: clamp instead of wrapping.
    out.push_back({{"slot", e.slot},
                   {"pid", e.pid},
                   {"alive", e.alive},
                   {"name", e.name},
                   {"position", e.position},
                   {"next_seq", e.next_seq},
                   {"lag_frames", published > e.next_seq ? published - e.next_seq : 0},
                   {"lag_bytes", head > e.position ? head - e.position : 0},
                   {"laps", e.laps},
                   {"missed_frames", e.missed_frames},
                   {"update_age_ns", e.update_ns != 0 && now > e.update_ns ? now - e.update_ns : 0}});
  }
  note.clear();
  return out;
}

bool ring_now(const std::string& ring_name, std::uint64_t& head, std::uint64_t& published) {
  attach_result r = shm_segment::try_open(ring_name, segment_kind::broadcast_ring, access_mode::read_only);
  if (r.status != attach_status::ok || r.segment.size() < kBroadcastDataOffset) return false;
  const auto& c = *reinterpret_cast<const broadcast_ring_control*>(r.segment.body());
  head = c.head.load(std::memory_order_acquire);
  published = c.next_seq.load(std::memory_order_acquire);
  return true;
}

void print_readers(const nlohmann::json& readers, std::uint32_t slots) {
  std::printf("%-24s%zu registered, %u slots\n", "readers", readers.size(), slots);
  if (readers.empty()) return;
  std::printf("  %4s %8s %-5s %-16s %12s %14s %8s %12s %10s\n", "SLOT", "PID", "ALIVE", "NAME", "LAG_FRAMES",
              "LAG_BYTES", "LAPS", "MISSED", "UPDATED");
  for (const auto& r : readers) {
    const double age_s = static_cast<double>(r["update_age_ns"].get<std::int64_t>()) / 1e9;
    char age[32];
    std::snprintf(age, sizeof age, age_s < 10 ? "%.3fs" : "%.0fs", age_s);
    std::printf("  %4u %8lld %-5s %-16s %12llu %14llu %8llu %12llu %10s\n", r["slot"].get<unsigned>(),
                static_cast<long long>(r["pid"].get<std::int64_t>()), r["alive"].get<bool>() ? "yes" : "no",
                r["name"].get<std::string>().c_str(), static_cast<unsigned long long>(r["lag_frames"].get<std::uint64_t>()),
                static_cast<unsigned long long>(r["lag_bytes"].get<std::uint64_t>()),
                static_cast<unsigned long long>(r["laps"].get<std::uint64_t>()),
                static_cast<unsigned long long>(r["missed_frames"].get<std::uint64_t>()), age);
  }
}

}  // namespace mdbus::shmcat
