// mdrecord — follow a bus's output ring and write every record to rotating zstd-compressed
// files with an index. Everything it reads is written; a lap (records lost before it could
// read them) is written into the file as a gap entry and logged. See README.md.
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/records.hpp"
#include "tools/mdrecord/recording_writer.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <vector>

using namespace mdbus;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

constexpr int kExitUsage = 2;
constexpr int kExitNoRing = 3;
constexpr int kExitIncompatible = 4;
constexpr int kExitIo = 6;

/// manifest.json: what this recording is (bus, ring, times, totals). Informational; written
/// atomically (temporary file + rename) at the start and the end.
void write_manifest(const std::filesystem::path& dir, const nlohmann::json& j) {
  const auto tmp = dir / "manifest.json.tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) throw recording::recording_error(tmp.string() + ": write failed");
  }
  std::filesystem::rename(tmp, dir / "manifest.json");
}

void nap(int& idle_rounds) {
  // Spin a little, then sleep up to 1 ms: a recorder has no latency target, and a quiet bus
  // should cost nothing.
  ++idle_rounds;
  if (idle_rounds < 64) return;
  timespec ts{0, idle_rounds < 256 ? 50'000L : 1'000'000L};
  nanosleep(&ts, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mdrecord — record an mdbus output ring to zstd-compressed files"};
  std::string bus, ring = "out", dir;
  bool oldest = false, drain = false;
  double duration_s = 0;
  int wait_ms = 0, flush_ms = 1000;
  std::size_t block_kb = 1024, file_mb = 256;
  double block_span_s = 10, file_span_s = 3600;
  int level = 3;
  app.add_option("-b,--bus", bus, "bus name")->required();
  app.add_option("--ring", ring, "ring object to record")->capture_default_str();
  app.add_option("-o,--dir", dir, "recording directory (created; must not hold a recording)")->required();
  app.add_flag("--oldest", oldest, "start with the oldest record the ring still holds (default: new records only)");
  app.add_flag("--drain", drain, "stop when the ring has nothing new (with --oldest: record what it holds)");
  app.add_option("-d,--duration", duration_s, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  app.add_option("--wait-ms", wait_ms, "wait this long for the ring to appear")->capture_default_str();
  app.add_option("--flush-ms", flush_ms, "write the open block provisionally this often (crash loses at most this)")
      ->capture_default_str();
  app.add_option("--block-kb", block_kb, "block size (entry bytes) before compression")->capture_default_str();
  app.add_option("--block-span-s", block_span_s, "a block covers at most this span of publish time")->capture_default_str();
  app.add_option("--file-mb", file_mb, "rotate files at this many entry bytes")->capture_default_str();
  app.add_option("--file-span-s", file_span_s, "a file covers at most this span of publish time")->capture_default_str();
  app.add_option("--level", level, "zstd level")->check(CLI::Range(1, 19))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (block_kb == 0 || file_mb == 0 || block_span_s <= 0 || file_span_s <= 0 || flush_ms <= 0) {
    std::fprintf(stderr, "mdrecord: sizes, spans and --flush-ms must be positive\n");
    return kExitUsage;
  }

  std::string name;
  broadcast_ring_reader reader;
  try {
    name = segment_name(bus, ring);
    reader = broadcast_ring_reader::open(name, oldest ? start_position::oldest : start_position::newest,
                                         lap_policy::resume_oldest, wait_ms);
  } catch (const segment_error& e) {
    const std::string what = e.what();
    std::fprintf(stderr, "mdrecord: %s\n", what.c_str());
    return what.find("does not exist") != std::string::npos ? kExitNoRing : kExitIncompatible;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  // Scripts (and tests) wait for this line: from here on nothing published is missed.
  std::fprintf(stderr, "mdrecord: recording %s from its %s record into %s\n", name.c_str(), oldest ? "oldest" : "newest",
               dir.c_str());

  recording::writer_options wo;
  wo.dir = dir;
  wo.ring_capacity = reader.geometry().capacity;
  wo.ring_max_payload = reader.geometry().max_payload;
  wo.block_bytes = block_kb * 1024;
  wo.block_span_ns = static_cast<std::int64_t>(block_span_s * 1e9);
  wo.file_bytes = std::uint64_t{file_mb} << 20;
  wo.file_span_ns = static_cast<std::int64_t>(file_span_s * 1e9);
  wo.level = level;
  nlohmann::json manifest = {{"format", "mdbus recording"}, {"format_version", recording::kFormatVersion},
                             {"record_layout_version", kRecordLayoutVersion}, {"bus", bus}, {"ring", name},
                             {"ring_capacity", wo.ring_capacity}, {"ring_max_payload", wo.ring_max_payload},
                             {"started_ns", wall_ns()}, {"complete", false}};
  try {
    recording::recording_writer w(wo);
    write_manifest(dir, manifest);
    std::vector<std::byte> buf(reader.geometry().max_payload);
    const std::int64_t end = duration_s > 0 ? mono_ns() + static_cast<std::int64_t>(duration_s * 1e9) : 0;
    std::int64_t next_flush = mono_ns() + std::int64_t{flush_ms} * 1'000'000;
    std::uint64_t bad = 0;
    // Writes what one read gave; false when the ring had nothing new.
    auto take = [&](const broadcast_read_result& r) {
      switch (r.status) {
        case broadcast_read_status::ok: {
          record_view v;
          const bool is_record = record_view::parse({buf.data(), r.length}, v) == record_status::ok;
          if (!is_record) ++bad;  // not a record: kept as the ring had it, all the same
          w.add_record(r.type, {buf.data(), r.length}, is_record ? v.header().publish_time_ns : 0);
          return true;
        }
        case broadcast_read_status::lapped:
          w.add_lap(r.missed_frames, r.missed_bytes, false);
          std::fprintf(stderr, "mdrecord: lapped: %llu records (%llu bytes) lost; written to the recording as a gap\n",
                       static_cast<unsigned long long>(r.missed_frames), static_cast<unsigned long long>(r.missed_bytes));
          return true;
        case broadcast_read_status::corrupt:
        case broadcast_read_status::too_small:
          // The writer is broken; re-attach at its newest frame and mark the unknown loss.
          w.add_lap(0, 0, true);
          std::fprintf(stderr, "mdrecord: %s is corrupt; re-attaching at its newest record (gap written)\n", name.c_str());
          reader = broadcast_ring_reader::open(name, start_position::newest, lap_policy::resume_oldest, 1000);
          return true;
        case broadcast_read_status::empty:
          break;
      }
      return false;
    };
    int idle_rounds = 0;
    while (g_stop == 0) {
      if (take(reader.try_read(buf))) {
        idle_rounds = 0;
      } else if (drain) {
        break;
      } else {
        nap(idle_rounds);
      }
      const std::int64_t now = mono_ns();
      if (now >= next_flush) {
        w.flush();
        next_flush = now + std::int64_t{flush_ms} * 1'000'000;
      }
      if (end != 0 && now >= end) break;
    }
    // Stopped by a signal or --duration: what the ring holds up to now is still written, so a
    // record published before the stop is never left out.
    for (std::size_t n = 0; !drain && n < (std::size_t{1} << 22) && take(reader.try_read(buf)); ++n) {
    }
    w.close();
    const auto& s = w.stats();
    manifest.update({{"stopped_ns", wall_ns()}, {"complete", true}, {"files", s.files}, {"blocks", s.blocks},
                     {"records", s.records}, {"laps", s.laps}, {"missed_records", s.missed_frames},
                     {"not_records", bad}, {"entry_bytes", s.entry_bytes}, {"compressed_bytes", s.compressed_bytes}});
    write_manifest(dir, manifest);
    std::fprintf(stderr, "mdrecord: %llu records, %llu laps (%llu records lost), %u files, %llu -> %llu bytes\n",
                 static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(s.laps),
                 static_cast<unsigned long long>(s.missed_frames), s.files,
                 static_cast<unsigned long long>(s.entry_bytes), static_cast<unsigned long long>(s.compressed_bytes));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdrecord: %s\n", e.what());
    return kExitIo;
  }
  return 0;
}
