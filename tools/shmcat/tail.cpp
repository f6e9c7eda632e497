// shmcat tail: records of the output (broadcast) ring through the consumer API, or of a
// feeder (SPSC) ring through the read-only spsc_observer; the last N that pass the filters,
// then, with -f, every new one as it arrives. Losses are printed inline, never skipped.
#include "bus/clock.hpp"
#include "mdbus/records.hpp"
#include "mdbus/consumer.hpp"
#include "tools/shmcat/commands.hpp"
#include "tools/shmcat/record_format.hpp"
#include "tools/shmcat/spsc_observer.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <deque>
#include <iostream>
#include <vector>

namespace mdbus::shmcat {

namespace {

/// Prints records and notices as text lines or JSON lines; holds back the last N lines of
/// the backlog until it has been read, so `-n` means "the last N that pass the filters".
class printer {
 public:
  printer(const tail_options& o) : o_(o) {}

  void record(const record_view& r, std::uint64_t frame) {
    emit(o_.json ? record_json(r, frame).dump() : format_line(r, frame));
  }
  void notice(const nlohmann::json& j, const std::string& text) { emit(o_.json ? j.dump() : "-- " + text + " --"); }

  /// The backlog is read: print what was held back; from now on print at once.
  void go_live() {
    for (const auto& l : held_) std::cout << l << "\n";
    held_.clear();
    live_ = true;
    std::cout.flush();
  }
  void flush() { std::cout.flush(); }

 private:
  void emit(std::string line) {
    if (live_) {
      std::cout << line << "\n";
      return;
    }
    held_.push_back(std::move(line));
    if (held_.size() > o_.lines) held_.pop_front();
  }

  const tail_options& o_;
  std::deque<std::string> held_;
  bool live_ = false;
};

void idle(int& rounds) {
  // Follow mode on a quiet ring: back off to 1 ms sleeps (the consumer API's wait does the
  // same for the output ring).
  const long ns = rounds < 10 ? 50'000L : 1'000'000L;
  ++rounds;
  timespec ts{0, ns};
  nanosleep(&ts, nullptr);
}

int tail_output_ring(const std::string& name, const tail_options& o, const record_filter& filter) {
  // mdbus.<bus>.<object>: the bus has no '.', the object may.
  const std::string rest = name.substr(6);
  consumer_options co;
  co.bus = rest.substr(0, rest.find('.'));
  co.object = rest.substr(rest.find('.') + 1);
  co.start = start_position::oldest;
  co.on_lap = lap_policy::resume_oldest;
  co.filter = filter;
  co.register_reader = false;  // shmcat writes no byte of the bus, the reader table included
  consumer c = consumer::open(co);
  printer out(o);
  bool corrupt = false;
  auto handle = [&](const poll_result& r) {
    switch (r.status) {
      case poll_status::record:
        out.record(r.record, r.seq);
        break;
      case poll_status::lapped:
        out.notice({{"lapped", true}, {"missed_frames", r.missed_frames}, {"missed_bytes", r.missed_bytes}},
                   "lapped: " + std::to_string(r.missed_frames) + " records (" + std::to_string(r.missed_bytes) +
                       " bytes) lost");
        break;
      case poll_status::bad_record:
        std::fprintf(stderr, "shmcat: frame %llu: not a record (%s)\n", static_cast<unsigned long long>(r.seq),
                     std::string(to_string(r.error)).c_str());
        break;
      case poll_status::corrupt:
        corrupt = true;
        out.notice({{"corrupt", true}}, "ring contradicts its geometry: re-attaching at the newest record");
        break;
      case poll_status::empty:
        break;
    }
  };
  // The backlog: what the ring holds up to the frame published last when we attached.
  const auto* control = reinterpret_cast<const broadcast_ring_control*>(c.segment().body());
  const std::uint64_t backlog_end = control->next_seq.load(std::memory_order_acquire);
  while (g_stop == 0) {
    const poll_result r = c.poll();
    handle(r);
    if (r.status == poll_status::empty || (r.status == poll_status::corrupt && !o.follow)) break;
    if ((r.status == poll_status::record || r.status == poll_status::bad_record) && r.seq + 1 >= backlog_end) break;
  }
  out.go_live();
  if (!o.follow) return corrupt ? kExitIncompatible : 0;
  while (g_stop == 0) {
    const poll_result r = c.wait(100'000'000);  // backoff: a quiet ring costs almost no CPU
    handle(r);
    out.flush();
    // A quiet moment is the time to look: the owner may have shrunk the segment (a SIGBUS
    // on the next touch past its end would say the same, from the handler).
    if (r.status == poll_status::empty && !c.segment().mapping_intact()) return report_truncated(name);
  }
  return 0;
}

int tail_feeder_ring(const std::string& name, const tail_options& o, const record_filter& filter) {
  spsc_observer obs = spsc_observer::open(name);
  std::vector<std::byte> buf(obs.geometry().max_payload + 8);
  printer out(o);
  // Returns false on a corrupt frame (the observer cannot know where the next one starts).
  auto handle = [&](const observe_result& r) {
    if (r.status == observe_status::ok) {
      record_view v;
      const record_status st = record_view::parse({buf.data(), r.length}, v);
      if (st != record_status::ok)
        std::fprintf(stderr, "shmcat: frame at %llu: not a record (%s)\n", static_cast<unsigned long long>(r.position),
                     std::string(to_string(st)).c_str());
      else if (filter.pass(v.header()))
        out.record(v, r.position);
    } else if (r.status == observe_status::overtaken) {
      out.notice({{"overtaken", true}, {"missed_bytes", r.missed_bytes}},
                 "overtaken by the writer: " + std::to_string(r.missed_bytes) + " bytes skipped");
    } else if (r.status == observe_status::corrupt) {
      out.notice({{"corrupt", true}, {"position", r.position}},
                 "frame header at " + std::to_string(r.position) + " contradicts the ring geometry");
      return false;
    }
    return true;
  };
  // The backlog: from the merger's tail to the head when we attached.
  const std::uint64_t backlog_end = obs.head();
  while (g_stop == 0 && obs.position() < backlog_end) {
    const observe_result r = obs.try_read(buf);
    if (!handle(r)) {
      out.go_live();
      return kExitIncompatible;
    }
    if (r.status == observe_status::empty) break;
  }
  out.go_live();
  if (!o.follow) return 0;
  int rounds = 0;
  while (g_stop == 0) {
    const observe_result r = obs.try_read(buf);
    if (!handle(r)) return kExitIncompatible;
    if (r.status != observe_status::empty) {
      rounds = 0;
      continue;
    }
    out.flush();
    if (!obs.segment().mapping_intact()) return report_truncated(name);
    idle(rounds);
  }
  return 0;
}

}  // namespace

int cmd_tail(const std::string& name, const tail_options& o) {
  segment_info i = inspect_segment(name);
  // Following a segment its creator is still setting up (the name is there, the header not
  // yet: started right after the bus): wait for it, up to 5 s, instead of giving up.
  for (int n = 0; o.follow && n < 250 && i.status == attach_status::await && shm_segment::exists(name); ++n) {
    timespec ts{0, 20'000'000};
    nanosleep(&ts, nullptr);
    i = inspect_segment(name);
  }
  if (i.status != attach_status::ok) return report_unusable(i);
  watch_for_truncation(name);
  record_filter filter;
  try {
    if (!o.venue.empty()) filter.venue_name(o.venue);
    if (!o.type.empty()) filter.type_name(o.type);
    if (!o.symbol.empty()) filter.symbol(o.symbol);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "shmcat: %s\n", e.what());
    return kExitUsage;
  }
  if (i.kind == segment_kind::broadcast_ring) return tail_output_ring(name, o, filter);
  if (i.kind == segment_kind::spsc_ring) return tail_feeder_ring(name, o, filter);
  std::fprintf(stderr, "shmcat: segment %s is a %s; tail reads the output ring or a feeder ring\n", name.c_str(),
               std::string(to_string(i.kind)).c_str());
  return kExitIncompatible;
}

}  // namespace mdbus::shmcat
