// mdbridge subscribe across its own absence (issue 18): stopped, it resumes after the last
// stream sequence its ring holds; when the stream's limits removed records before it came
// back, the hole is a bridge_lost gap record in its ring, then the records the stream still
// holds. Real processes against one nats-server (memory storage, a byte limit) started here.
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/free_port.hpp"
#include "tests/support/read_file.hpp"
#include "tests/support/spawn.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_records.hpp"
#include "tests/support/unique_bus.hpp"
#include "tools/mdbridge/jetstream.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

using namespace mdbus;
using namespace mdbus::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

/// Every record of a ring, from its oldest: trades' ids, and its gap records.
struct ring_contents {
  std::vector<std::uint64_t> trades;
  std::vector<gap_record> gaps;
};
ring_contents read_all(const std::string& name) {
  ring_contents out;
  auto r = broadcast_ring_reader::open(name, start_position::oldest, lap_policy::resume_oldest, 5000);
  std::vector<std::byte> buf(65536);
  for (;;) {
    const auto res = r.try_read(buf);
    if (res.status != broadcast_read_status::ok) break;
    record_view v;
    REQUIRE(record_view::parse(std::span(buf).first(res.length), v) == record_status::ok);
    if (v.type() == record_type::trade) out.trades.push_back(v.header().seq);
    if (v.type() == record_type::gap) out.gaps.push_back(*v.gap());
  }
  return out;
}

}  // namespace

TEST_CASE("mdbridge subscribe: back after records were removed by the stream's limits, it writes a bridge_lost gap, then what is left") {
  temp_dir dir;
  const int port = free_port();
  child nats({NATS_SERVER_BINARY, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir.file("js")}, dir.file("nats.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("nats.log")).find("Server is ready") != std::string::npos; }, 10s),
                  read_file(dir.file("nats.log")));
  unique_bus src, dst;
  auto w = broadcast_ring_writer::create(src.segment("out"), {1 << 20, 65536});
  // About 60 records fit under the byte limit (a 120-byte record, its subject and id headers).
  const json bridge = {{"servers", {"nats://127.0.0.1:" + std::to_string(port)}}, {"stream", "HOLE"}, {"storage", "memory"},
                       {"max_bytes", 20000}, {"duplicate_window_ms", 1000}, {"max_age_ms", 60000}};
  json cfg = {{"bus", src.name()}, {"venues", {{"okx", {{"symbols", {"BTC-USDT"}}, {"channels", {"trades"}}}}}}, {"bridge", bridge}};
  const std::string cfg_path = dir.file("bus.json");
  std::ofstream(cfg_path) << cfg.dump(2);
  child pub({MDBRIDGE_BINARY, "publish", "--config", cfg_path}, dir.file("pub.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("pub.log")).find("following") != std::string::npos; }, 20s),
                  read_file(dir.file("pub.log")));
  const std::vector<std::string> sub_args = {MDBRIDGE_BINARY, "subscribe", "--config", cfg_path, "--bus", dst.name(), "--state", dir.file("resume")};
  auto sub = std::make_unique<child>(sub_args, dir.file("sub1.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("sub1.log")).find("writing stream HOLE") != std::string::npos; }, 20s),
                  read_file(dir.file("sub1.log")));

  std::uint64_t id = 0;
  auto publish = [&](int n) {
    for (int i = 0; i < n; ++i) (void)w.write(static_cast<std::uint32_t>(record_type::trade), record_bytes(make_trade(++id, "BTCUSDT")));
    w.notify();
  };
  publish(20);
  REQUIRE_MESSAGE(eventually([&] { return read_all(dst.segment("out")).trades.size() == 20; }, 20s), read_file(dir.file("sub1.log")));
  sub->signal(SIGTERM);
  REQUIRE(sub->wait(10000) == 0);
  CHECK(read_file(dir.file("sub1.log")).find("last stream sequence 20; written 20") != std::string::npos);

  // While it is away: 400 more, of which the stream keeps only the newest few dozen.
  publish(400);
  bridge::nats_link link(config::parse_config(cfg.dump(), "bus.json").bridge, "mdbridge_resume_test", 10000);
  std::uint64_t first_kept = 0;
  REQUIRE(eventually([&] {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, link.js(), "HOLE", nullptr, nullptr) != NATS_OK) return false;
    const bool all = si->State.LastSeq == 420;
    first_kept = si->State.FirstSeq;
    jsStreamInfo_Destroy(si);
    return all;
  }, 20s));
  REQUIRE(first_kept > 21);  // the limit removed what the subscriber had not read
  MESSAGE("the stream keeps sequences ", first_kept, "..420");

  sub = std::make_unique<child>(sub_args, dir.file("sub2.log"));
  REQUIRE_MESSAGE(eventually([&] { return read_file(dir.file("sub2.log")).find("writing stream HOLE after sequence 20") != std::string::npos; }, 20s),
                  read_file(dir.file("sub2.log")));
  const std::size_t kept = 420 - first_kept + 1;
  REQUIRE_MESSAGE(eventually([&] { return read_all(dst.segment("out")).trades.size() == 20 + kept; }, 20s), read_file(dir.file("sub2.log")));
  sub->signal(SIGTERM);
  REQUIRE(sub->wait(10000) == 0);
  const ring_contents got = read_all(dst.segment("out"));
  REQUIRE(got.gaps.size() == 1);
  CHECK(got.gaps[0].reason == gap_reason::bridge_lost);
  CHECK(got.gaps[0].header.venue_id == venue::unknown);
  CHECK(got.gaps[0].last_seq_held == 20);
  CHECK(got.gaps[0].first_seq_after == first_kept);
  // The ring: trades 1..20, then the gap, then the trades the stream still held, once each, in order.
  std::vector<std::uint64_t> want;
  for (std::uint64_t i = 1; i <= 20; ++i) want.push_back(i);
  for (std::uint64_t i = first_kept; i <= 420; ++i) want.push_back(i);
  CHECK(got.trades == want);
  const std::string log = read_file(dir.file("sub2.log"));
  CHECK(log.find("the stream skipped from 20 to " + std::to_string(first_kept)) != std::string::npos);
  CHECK(log.find("holes 1 (" + std::to_string(first_kept - 21) + " records)") != std::string::npos);
  pub.signal(SIGTERM);
  CHECK(pub.wait(10000) == 0);
}
