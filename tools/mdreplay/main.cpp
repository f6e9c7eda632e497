// mdreplay — publish a recording (mdrecord's files) into a broadcast ring, at the recorded
// pace, N× that pace, or as fast as possible. Records go out byte for byte as recorded, so
// recording a replay reproduces the recording exactly. See README.md.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/records.hpp"
#include "tools/mdrecord/recording_reader.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

using namespace mdbus;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr int kExitUsage = 2;
constexpr int kExitRing = 4;
constexpr int kExitRecording = 6;

/// Sleep until CLOCK_MONOTONIC reaches `target_ns`: a timed sleep to ~100 µs before it, then
/// spinning, so records keep their recorded spacing to within microseconds.
void sleep_until(std::int64_t target_ns, shm_segment& seg) {
  for (;;) {
    const std::int64_t now = mono_ns();
    if (now >= target_ns || g_stop != 0) return;
    seg.heartbeat(now);
    const std::int64_t left = target_ns - now;
    if (left > 200'000) {
      const std::int64_t ns = std::min<std::int64_t>(left - 100'000, 10'000'000);  // wake at least every 10 ms
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      nanosleep(&ts, nullptr);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mdreplay — publish an mdbus recording into a ring"};
  std::string path, bus, ring = "out";
  double speed = 1.0, linger_s = 0;
  bool max_speed = false, restamp = false, quiet = false;
  std::uint64_t capacity = 0, max_payload = 0;
  app.add_option("recording", path, "recording directory, or one mdrec-NNNNNN.zst")->required();
  app.add_option("-b,--bus", bus, "bus to publish into")->required();
  app.add_option("--ring", ring, "ring object (created, or a dead writer's ring adopted)")->capture_default_str();
  app.add_option("-s,--speed", speed, "pace: 1 = as recorded, N = N times faster")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_flag("--max", max_speed, "as fast as possible (ignore the recorded times)");
  app.add_option("--capacity", capacity, "ring capacity in bytes (default: the recorded ring's)");
  app.add_option("--max-payload", max_payload, "ring max payload (default: the recorded ring's)");
  app.add_flag("--restamp", restamp, "set each record's publish time to now (default: keep the recorded bytes)");
  app.add_option("--linger", linger_s, "keep the ring's writer alive this many seconds after the end")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "no summary line");
  CLI11_PARSE(app, argc, argv);

  std::unique_ptr<recording::recording_reader> rec;
  try {
    rec = std::make_unique<recording::recording_reader>(path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdreplay: %s\n", e.what());
    return kExitRecording;
  }
  const auto& h = rec->first_header();
  if (h.record_layout_version != kRecordLayoutVersion) {
    std::fprintf(stderr, "mdreplay: %s: records of layout version %u, this build uses %u\n", rec->files().front().c_str(),
                 h.record_layout_version, static_cast<unsigned>(kRecordLayoutVersion));
    return kExitRecording;
  }
  broadcast_ring_geometry g{capacity != 0 ? capacity : h.ring_capacity, max_payload != 0 ? max_payload : h.ring_max_payload};
  broadcast_ring_writer w;
  try {
    w = broadcast_ring_writer::create(segment_name(bus, ring), g);
  } catch (const segment_error& e) {
    std::fprintf(stderr, "mdreplay: %s\n", e.what());
    return kExitRing;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  std::uint64_t published = 0, holes = 0, lost = 0, refused = 0;
  std::int64_t first_pub = 0, start = 0;
  std::vector<std::byte> buf;
  const std::int64_t began = mono_ns();
  try {
    recording::entry e;
    while (g_stop == 0 && rec->next(e)) {
      if (e.kind == recording::entry_kind::lap) {
        // The recorder lost these records: tell consumers, the bus's way, with a gap record of
        // unknown venue and stream (a loss of unknown scope; book builders drop every book).
        recording::lap_marker m{};
        std::memcpy(&m, e.payload.data(), std::min(sizeof m, e.payload.size()));
        ++holes;
        lost += m.missed_frames;
        std::fprintf(stderr, "mdreplay: the recording has a hole here: %llu records were lost when it was made\n",
                     static_cast<unsigned long long>(m.missed_frames));
        auto gap = make_record<gap_record>();
        gap.header.publish_time_ns = restamp ? wall_ns() : m.last_publish_ns;
        if (w.write(static_cast<std::uint32_t>(record_type::gap), record_bytes(gap))) ++published;
        w.notify();  // consumers sleeping on the ring's doorbell (idle mode wait)
        continue;
      }
      buf.assign(e.payload.begin(), e.payload.end());
      record_view v;
      const bool is_record = record_view::parse(buf, v) == record_status::ok;
      const std::int64_t pub = is_record ? v.header().publish_time_ns : 0;
      if (!max_speed && pub > 0) {
        if (first_pub == 0) {
          first_pub = pub;
          start = mono_ns();
        }
        sleep_until(start + static_cast<std::int64_t>(static_cast<double>(pub - first_pub) / speed), w.segment());
      }
      if (restamp && is_record) {
        const std::int64_t now = wall_ns();
        std::memcpy(buf.data() + offsetof(record_header, publish_time_ns), &now, sizeof now);
      }
      if (w.write(e.frame_type, buf))
        ++published;
      else
        ++refused;  // larger than this ring's max_payload (a smaller ring than the recorded one)
      w.notify();  // consumers sleeping on the ring's doorbell (idle mode wait)
      if ((published & 1023) == 0) w.segment().heartbeat(mono_ns());
    }
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "mdreplay: %s\n", ex.what());
    return kExitRecording;
  }
  const double took = static_cast<double>(mono_ns() - began) / 1e9;
  if (rec->truncated())
    std::fprintf(stderr, "mdreplay: the last block of the recording was cut short (recorder crashed?); replayed up to it\n");
  if (refused != 0)
    std::fprintf(stderr, "mdreplay: %llu records larger than the ring's max_payload %llu were not published\n",
                 static_cast<unsigned long long>(refused), static_cast<unsigned long long>(g.max_payload));
  if (!quiet)
    std::fprintf(stderr, "mdreplay: %llu records published in %.3f s (%.0f/s); %llu holes (%llu records lost when recorded)\n",
                 static_cast<unsigned long long>(published), took, took > 0 ? static_cast<double>(published) / took : 0.0,
                 static_cast<unsigned long long>(holes), static_cast<unsigned long long>(lost));
  for (const std::int64_t until = mono_ns() + static_cast<std::int64_t>(linger_s * 1e9); g_stop == 0 && mono_ns() < until;)
    sleep_until(std::min(until, mono_ns() + 100'000'000), w.segment());
  return refused != 0 ? kExitUsage : 0;
}
