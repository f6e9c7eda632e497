// mdrecord and mdreplay as programs, on rings the test writes: everything read is recorded
// (blocks, files, index), record → replay → record gives byte-identical files, a live
// recording with provisional flushes equals an offline one, laps become gaps in the file and
// gap records on replay, the pace options hold, and bad inputs get one-line errors.
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "tools/mdrecord/recording_reader.hpp"

#include "support/eventually.hpp"
#include "support/run_capture.hpp"
#include "support/spawn.hpp"
#include "support/temp_dir.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

using namespace mdbus;
using test::eventually;
using test::temp_dir;
namespace fs = std::filesystem;

namespace {

const std::string kMdrecord = MDBUS_MDRECORD;
const std::string kMdreplay = MDBUS_MDREPLAY;

struct frame {
  std::uint32_t type;
  std::vector<std::byte> bytes;
  bool operator==(const frame&) const = default;
};


/// Record i of a varied stream: trades, BBOs, multi-part book snapshots, deltas, gaps, slot
/// status, and now and then a frame that is not a record; `i % 8` picks the kind.
frame make_frame(std::uint64_t i, std::int64_t pub) {
  auto stamp = [&](record_header& h, venue v, channel c, const char* sym) {
    h.venue_id = v;
    h.channel_id = c;
    h.flags = kHeaderHasSeq;
    h.seq = i;
    h.set_symbol(sym);
    h.venue_time_ns = pub - 2'000'000;
    h.receive_time_ns = pub - 40'000;
    h.publish_time_ns = pub;
  };
  auto fixed = [](const auto& r) {
    const auto b = record_bytes(r);
    return frame{static_cast<std::uint32_t>(r.header.type), {b.begin(), b.end()}};
  };
  switch (i % 8) {
    case 1: {
      auto m = make_record<mark_funding_record>();
      stamp(m.header, venue::binance_usdm, channel::usdm_mark_price, "BTCUSDT");
      m.set_mark_px({static_cast<std::int64_t>(6543210 + i % 100), -2});
      m.set_index_px({6543200, -2});
      m.set_funding_rate({static_cast<std::int64_t>(i % 50) - 25, -8});
      m.set_funding_time_ns(1'700'006'400'000'000'000);
      return fixed(m);
    }
    case 0:
    case 2: {
      auto t = make_record<trade_record>();
      stamp(t.header, venue::binance, channel::binance_trade, "BTCUSDT");
      t.set_px({static_cast<std::int64_t>(6543210 + i % 100), -2});
      t.set_qty({static_cast<std::int64_t>(i % 17 + 1), -3});
      t.aggressor = i % 2 ? aggressor_side::buy : aggressor_side::sell;
      return fixed(t);
    }
    case 3: {
      auto b = make_record<bbo_record>();
      stamp(b.header, venue::okx, channel::okx_bbo_tbt, "BTC-USDT");
      b.bid = make_level(book_side::bid, {static_cast<std::int64_t>(654319 + i % 5), -1}, {3, 0});
      b.ask = make_level(book_side::ask, {static_cast<std::int64_t>(654320 + i % 5), -1}, {4, 0});
      return fixed(b);
    }
    case 4:
    case 5: {
      auto f = make_book_record(i % 8 == 4 ? record_type::book_delta : record_type::book_snapshot);
      stamp(f.header, venue::okx, channel::okx_books, "ETH-USDT");
      f.part_index = static_cast<std::uint16_t>(i % 3);
      f.book_flags = i % 3 == 0 ? kBookFirstPart : (i % 3 == 2 ? kBookLastPart : 0);
      std::vector<book_level> levels;
      for (std::uint64_t k = 0; k < 1 + i % 40; ++k)
        levels.push_back(make_level(k % 2 ? book_side::ask : book_side::bid, {static_cast<std::int64_t>(26500 + k), -1},
                                    {static_cast<std::int64_t>(i + k), -4}));
      frame fr{static_cast<std::uint32_t>(f.header.type), std::vector<std::byte>(book_record_size(levels.size()))};
      REQUIRE(write_book_record(fr.bytes, f, levels) == fr.bytes.size());
      return fr;
    }
    case 6: {
      if (i % 64 == 6) {  // not a record: the recorder keeps it all the same
        frame fr{77, std::vector<std::byte>(40, std::byte{0xAB})};
        return fr;
      }
      auto g = make_record<gap_record>();
      stamp(g.header, venue::binance, channel::binance_depth, "ETHUSDT");
      g.reason = gap_reason::hole_timeout;
      g.last_seq_held = i;
      g.first_seq_after = i + 3;
      return fixed(g);
    }
    default: {
      auto s = make_record<slot_status_record>();
      stamp(s.header, venue::okx, channel::unknown, "");
      s.state = slot_state::up;
      s.set_reason_text("ok " + std::to_string(i));
      return fixed(s);
    }
  }
}

void publish(broadcast_ring_writer& w, const frame& f) { REQUIRE(w.write(f.type, f.bytes)); }

/// Every frame a ring holds, oldest first.
std::vector<frame> ring_frames(const std::string& segment) {
  auto r = broadcast_ring_reader::open(segment, start_position::oldest);
  std::vector<std::byte> buf(r.geometry().max_payload);
  std::vector<frame> out;
  for (;;) {
    const auto res = r.try_read(buf);
    if (res.status != broadcast_read_status::ok) {
      REQUIRE(res.status == broadcast_read_status::empty);
      return out;
    }
    out.push_back({res.type, {buf.begin(), buf.begin() + res.length}});
  }
}

struct recorded {
  std::vector<frame> records;
  std::vector<recording::lap_marker> laps;
  std::vector<std::uint64_t> lap_positions;  ///< records before each lap
};

recorded read_recording(const std::string& dir) {
  recording::recording_reader rd(dir);
  recorded out;
  recording::entry e;
  std::uint64_t ordinal = 0;
  while (rd.next(e)) {
    CHECK(e.ordinal == ordinal++);
    if (e.kind == recording::entry_kind::record) {
      out.records.push_back({e.frame_type, {e.payload.begin(), e.payload.end()}});
    } else {
      recording::lap_marker m{};
      REQUIRE(e.payload.size() == sizeof m);
      std::memcpy(&m, e.payload.data(), sizeof m);
      out.laps.push_back(m);
      out.lap_positions.push_back(out.records.size());
    }
  }
  CHECK_FALSE(rd.truncated());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Data and index files of a recording, by name (manifest.json is informational: bus and times differ).
std::map<std::string, std::string> recording_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename() != "manifest.json") files[e.path().filename().string()] = slurp(e.path());
  return files;
}


/// mdrecord in the background, its stderr in a file; started() once it is attached (its
/// "recording ... into" line), after which nothing published escapes it.
struct recorder {
  std::string log;
  test::child proc;
  recorder(const std::string& log_file, const std::string& args)
      : log(log_file), proc({"/bin/sh", "-c", "exec " + kMdrecord + " " + args + " 2> " + log_file}) {}
  ~recorder() { std::remove(log.c_str()); }
  [[nodiscard]] bool started() const { return slurp(log).find(" into ") != std::string::npos; }
};

// Small blocks and files, so a test recording has many of both.
const std::string kSmall = " --block-kb 32 --block-span-s 0.05 --file-mb 1 --file-span-s 0.4";

}  // namespace

TEST_CASE("mdrecord writes every frame of the ring, record, replay, record again gives byte-identical files") {
  test::unique_bus a, b;
  temp_dir d1("mdrecord-rec1"), d2("mdrecord-rec2");
  auto w = broadcast_ring_writer::create(a.segment("out"), {1 << 24, 16384});
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  for (std::uint64_t i = 0; i < 20000; ++i) publish(w, make_frame(i, t0 + static_cast<std::int64_t>(i) * 50'000));  // 1 s of publish time
  const auto written = ring_frames(a.segment("out"));
  REQUIRE(written.size() == 20000);

  const auto r1 = test::run_capture(kMdrecord + " --bus " + a.name() + " --oldest --drain -o " + d1.str() + kSmall + " 2>&1");
  REQUIRE_MESSAGE(r1.status == 0, r1.out);
  const auto rec = read_recording(d1.str());
  CHECK(rec.laps.empty());
  REQUIRE(rec.records.size() == written.size());
  CHECK(rec.records == written);  // every frame, type and bytes, in order

  // Blocks of at most 32 KiB or 50 ms, files of at most 1 MiB or 0.4 s: several of each, and
  // the index accounts for every entry.
  recording::recording_reader rd(d1.str());
  CHECK(rd.files().size() >= 3);
  CHECK(rd.first_header().ring_capacity == 1 << 24);
  std::uint64_t indexed = 0, blocks = 0;
  for (const auto& f : rd.files()) {
    std::uint64_t offset = 56;  // after the skippable header frame
    for (const auto& e : recording::recording_reader::read_index(f)) {
      CHECK(e.offset == offset);
      CHECK(e.first_entry == indexed);
      CHECK(e.uncompressed <= 32 * 1024 + 2000);
      CHECK(e.last_publish_ns - e.first_publish_ns < 50'000'000);
      offset += e.compressed;
      indexed += e.entries;
      ++blocks;
    }
    CHECK(offset == fs::file_size(f));
  }
  CHECK(indexed == 20000);
  CHECK(blocks >= 20);

  // Replay as fast as possible into another bus: the ring gets the very same frames.
  const auto p = test::run_capture(kMdreplay + " " + d1.str() + " --bus " + b.name() + " --max 2>&1");
  REQUIRE_MESSAGE(p.status == 0, p.out);
  CHECK(p.out.find("20000 records published") != std::string::npos);
  CHECK(ring_frames(b.segment("out")) == written);

  const auto r2 = test::run_capture(kMdrecord + " --bus " + b.name() + " --oldest --drain -o " + d2.str() + kSmall + " 2>&1");
  REQUIRE_MESSAGE(r2.status == 0, r2.out);
  const auto f1 = recording_files(d1.str()), f2 = recording_files(d2.str());
  CHECK(f1.size() == 2 * rd.files().size());
  for (const auto& [name, bytes] : f1) {
    CAPTURE(name);
    REQUIRE(f2.count(name) == 1);
    CHECK(f2.at(name) == bytes);  // byte-identical
  }
  CHECK(f1.size() == f2.size());
}

TEST_CASE("mdrecord following a live ring flushes provisionally and ends with the same files as an offline recording") {
  test::unique_bus bus;
  temp_dir live("mdrecord-live"), offline("mdrecord-offline");
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 22, 16384});
  recorder rec(live.str() + ".log", "--bus " + bus.name() + " -o " + live.str() + " --flush-ms 20 --block-kb 32 --block-span-s 0.05");
  REQUIRE(eventually([&] { return rec.started(); }));
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  for (std::uint64_t i = 0; i < 300; ++i) publish(w, make_frame(i, t0 + static_cast<std::int64_t>(i) * 100'000));
  // While it runs, the files on disk already hold everything it has read (the open block
  // written provisionally), readable as a recording.
  REQUIRE(eventually([&] {
    try {
      return read_recording(live.str()).records.size() == 300;
    } catch (const recording::recording_error&) {
      return false;  // caught between a write and its truncate
    }
  }));
  for (std::uint64_t i = 300; i < 600; ++i) publish(w, make_frame(i, t0 + static_cast<std::int64_t>(i) * 100'000));
  rec.proc.signal(SIGTERM);  // records published before the stop are still written
  REQUIRE(rec.proc.wait(20'000) == 0);
  CHECK(read_recording(live.str()).records == ring_frames(bus.segment("out")));
  const auto r = test::run_capture(kMdrecord + " --bus " + bus.name() + " --oldest --drain -o " + offline.str() +
                                   " --block-kb 32 --block-span-s 0.05 2>&1");
  REQUIRE(r.status == 0);
  CHECK(recording_files(live.str()) == recording_files(offline.str()));
  const std::string manifest = slurp(live.path() / "manifest.json");
  CHECK(manifest.find("\"complete\": true") != std::string::npos);
  CHECK(manifest.find("\"records\": 600") != std::string::npos);
}

TEST_CASE("mdrecord writes a lap into the recording as a gap, and mdreplay publishes it as a gap record") {
  test::unique_bus bus, replay;
  temp_dir dir("mdrecord-lap");
  auto w = broadcast_ring_writer::create(bus.segment("out"), {8192, 1000});
  recorder rec(dir.str() + ".log", "--bus " + bus.name() + " -o " + dir.str());
  REQUIRE(eventually([&] { return rec.started(); }));
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  std::uint64_t i = 0;
  for (; i < 10; ++i) publish(w, make_frame(i * 8, t0 + static_cast<std::int64_t>(i) * 1000));  // trades (i % 8 == 0)
  rec.proc.signal(SIGSTOP);  // a recorder that is not scheduled: the writer laps it
  for (; i < 500; ++i) publish(w, make_frame(i * 8, t0 + static_cast<std::int64_t>(i) * 1000));
  rec.proc.signal(SIGCONT);
  rec.proc.signal(SIGTERM);
  REQUIRE(rec.proc.wait(20'000) == 0);
  CHECK(slurp(rec.log).find("mdrecord: lapped: ") != std::string::npos);
  const auto got = read_recording(dir.str());
  REQUIRE(got.laps.size() == 1);
  CHECK(got.laps[0].missed_frames > 400);
  CHECK(got.laps[0].corrupt == 0);
  CHECK(got.records.size() + got.laps[0].missed_frames == 500);  // everything read, and the rest accounted for
  for (std::size_t k = 1; k < got.records.size(); ++k) {         // and in order around the hole
    record_view a, b;
    REQUIRE(record_view::parse(got.records[k - 1].bytes, a) == record_status::ok);
    REQUIRE(record_view::parse(got.records[k].bytes, b) == record_status::ok);
    CHECK(b.header().seq > a.header().seq);
  }

  const auto p = test::run_capture(kMdreplay + " " + dir.str() + " --bus " + replay.name() + " --max 2>&1");
  CHECK(p.status == 0);
  CHECK(p.out.find("the recording has a hole here") != std::string::npos);
  const auto frames = ring_frames(replay.segment("out"));
  REQUIRE(frames.size() == got.records.size() + 1);
  const frame& gap = frames[got.lap_positions[0]];
  CHECK(gap.type == static_cast<std::uint32_t>(record_type::gap));
  record_view gv;
  REQUIRE(record_view::parse(gap.bytes, gv) == record_status::ok);
  CHECK(gv.header().venue_id == venue::unknown);  // scope unknown: consumers drop every book
}

TEST_CASE("mdreplay keeps the recorded pace, N times the pace, or goes as fast as it can") {
  test::unique_bus bus;
  temp_dir dir("mdrecord-pace");
  auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 4096});
  const std::int64_t t0 = 1'700'000'000'000'000'000;
  for (std::uint64_t i = 0; i <= 100; ++i) publish(w, make_frame(i * 8, t0 + static_cast<std::int64_t>(i) * 15'000'000));  // 1.5 s of publish time
  REQUIRE(test::run_capture(kMdrecord + " --bus " + bus.name() + " --oldest --drain -o " + dir.str() + " 2>&1").status == 0);
  auto timed = [&](const std::string& args) {
    test::unique_bus out;
    const auto start = std::chrono::steady_clock::now();
    const auto r = test::run_capture(kMdreplay + " " + dir.str() + " --bus " + out.name() + " " + args + " 2>&1");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(r.status == 0);
    CHECK(ring_frames(out.segment("out")).size() == 101);
    return s;
  };
  const double recorded = timed("");
  const double fast = timed("--speed 5");
  const double max = timed("--max");
  MESSAGE("replay of 1.5 s: " << recorded << " s at 1x, " << fast << " s at 5x, " << max << " s at max");
  CHECK(recorded >= 1.5);  // the sleeps guarantee the lower bounds
  CHECK(fast >= 0.3);
  CHECK(fast < recorded);
  CHECK(max < fast);
}

TEST_CASE("mdrecord and mdreplay refuse what they cannot use, with one line and an exit code") {
  test::unique_bus bus;
  temp_dir dir("mdrecord-bad");
  SUBCASE("no such bus") {
    const auto r = test::run_capture(kMdrecord + " --bus " + bus.name() + " -o " + dir.str() + " 2>&1");
    CHECK(r.status == 3);
    CHECK(r.out == "mdrecord: segment " + bus.segment("out") + ": does not exist (yet)\n");
  }
  SUBCASE("a directory that already holds a recording") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {4096, 512});
    REQUIRE(test::run_capture(kMdrecord + " --bus " + bus.name() + " --drain -o " + dir.str() + " 2>&1").status == 0);
    const auto r = test::run_capture(kMdrecord + " --bus " + bus.name() + " --drain -o " + dir.str() + " 2>&1");
    CHECK(r.status == 6);
    CHECK(r.out.find("already holds a recording") != std::string::npos);
  }
  SUBCASE("not a recording, or none at all") {
    CHECK(test::run_capture(kMdreplay + " " + dir.str() + " --bus " + bus.name() + " 2>&1").out ==
          "mdreplay: " + dir.str() + ": no recording here (no mdrec-NNNNNN.zst)\n");
    std::ofstream(dir.path() / "mdrec-000000.zst") << "this is not a recording, just some text";
    const auto r = test::run_capture(kMdreplay + " " + dir.str() + " --bus " + bus.name() + " 2>&1");
    CHECK(r.status == 6);
    CHECK(r.out.find("not an mdbus recording") != std::string::npos);
    CHECK(test::run_capture(kMdreplay + " /nonexistent/rec --bus " + bus.name() + " 2>&1").status == 6);
  }
  SUBCASE("a recording whose last block was cut short replays up to it") {
    auto w = broadcast_ring_writer::create(bus.segment("out"), {1 << 20, 4096});
    for (std::uint64_t i = 0; i < 2000; ++i) publish(w, make_frame(i, 1'700'000'000'000'000'000 + static_cast<std::int64_t>(i) * 1000));
    REQUIRE(test::run_capture(kMdrecord + " --bus " + bus.name() + " --oldest --drain --block-kb 16 -o " + dir.str() +
                              " 2>&1").status == 0);
    const fs::path data = dir.path() / "mdrec-000000.zst";
    fs::resize_file(data, fs::file_size(data) - 100);
    test::unique_bus out;
    const auto r = test::run_capture(kMdreplay + " " + dir.str() + " --bus " + out.name() + " --max 2>&1");
    CHECK(r.status == 0);
    CHECK(r.out.find("cut short") != std::string::npos);
    const auto frames = ring_frames(out.segment("out"));
    CHECK(frames.size() > 1500);
    CHECK(frames.size() < 2000);
  }
}
