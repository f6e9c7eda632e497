// mdbridge's decisions (issue 18), without NATS: subjects and message ids (bridge_keys), what
// the subscriber writes (inflow) and where it resumes (resume_state).
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_records.hpp"
#include "tools/mdbridge/bridge_keys.hpp"
#include "tools/mdbridge/inflow.hpp"
#include "tools/mdbridge/resume_state.hpp"

#include <doctest/doctest.h>

#include <fstream>
#include <vector>

using namespace mdbus;
using namespace mdbus::bridge;

namespace {

template <class R>
std::vector<std::byte> bytes_of(const R& r) {
  const auto b = record_bytes(r);
  return {b.begin(), b.end()};
}

record_view view_of(const std::vector<std::byte>& b) {
  record_view v;
  REQUIRE(record_view::parse(b, v) == record_status::ok);
  return v;
}

/// A Binance trade as one bus's merger published it: `slot` and times are that bus's own.
trade_record trade(std::uint64_t id, slot_id slot = slot_id::a, std::int64_t received = 1000) {
  auto t = test::make_trade(id, "BTCUSDT");
  t.header.slot = slot;
  t.header.venue_time_ns = 5'000;
  t.header.receive_time_ns = received;
  t.header.publish_time_ns = received + 10;
  t.trade_count = 1;
  return t;
}

/// A book record (no levels): a delta, or a snapshot part of `parts`.
std::vector<std::byte> book(record_type type, std::uint64_t seq, std::uint16_t part = 0, std::uint16_t parts = 1) {
  auto b = make_book_record(type);
  b.header.venue_id = venue::okx;
  b.header.channel_id = channel::okx_books;
  b.header.set_symbol("BTC-USDT");
  b.header.flags |= kHeaderHasSeq;
  b.header.seq = seq;
  b.part_index = part;
  b.book_flags = static_cast<std::uint8_t>((part == 0 ? kBookFirstPart : 0) | (part + 1 == parts ? kBookLastPart : 0));
  std::vector<std::byte> out(sizeof(book_record));
  REQUIRE(write_book_record(out, b, {}) == sizeof(book_record));
  return out;
}

std::vector<std::byte> stream_gap(std::uint64_t last, std::uint64_t next) {
  auto g = make_record<gap_record>();
  g.header.venue_id = venue::okx;
  g.header.channel_id = channel::okx_books;
  g.header.set_symbol("BTC-USDT");
  g.last_seq_held = last;
  g.first_seq_after = next;
  g.reason = gap_reason::hole_timeout;
  return bytes_of(g);
}

}  // namespace

TEST_CASE("bridge keys: subject names venue, channel and symbol, and a symbol byte a subject cannot hold becomes _") {
  std::string s;
  subject_for("md", trade(1).header, s);
  CHECK(s == "md.binance.trade.BTCUSDT");
  auto t = trade(1);
  t.header.set_symbol("A.B*C>D E");
  subject_for("a.b", t.header, s);
  CHECK(s == "a.b.binance.trade.A_B_C_D_E");
  auto g = make_record<gap_record>();  // a loss of unknown scope: no venue, no symbol
  subject_for("md", g.header, s);
  CHECK(s == "md.unknown.unknown._");
}

TEST_CASE("bridge keys: both buses' copies of one venue message get one id, whatever their slot and times") {
  std::string a, b, c;
  const auto x = bytes_of(trade(42, slot_id::a, 1000));
  const auto y = bytes_of(trade(42, slot_id::b, 2500));
  msg_id_for(view_of(x), a);
  msg_id_for(view_of(y), b);
  CHECK(a == b);
  CHECK(a == "binance/trade/BTCUSDT/t/42");
  msg_id_for(view_of(bytes_of(trade(43))), c);
  CHECK(c != a);
}

TEST_CASE("bridge keys: record kinds sharing a sequence space get different ids") {
  std::string d, s;
  msg_id_for(view_of(book(record_type::book_delta, 77)), d);
  msg_id_for(view_of(book(record_type::book_snapshot, 77)), s);
  CHECK(d == "okx/books/BTC-USDT/d/77");
  CHECK(s == "okx/books/BTC-USDT/s/77");
  std::string p0, p1;
  msg_id_for(view_of(book(record_type::book_snapshot, 77, 0, 2)), p0);
  msg_id_for(view_of(book(record_type::book_snapshot, 77, 1, 2)), p1);
  CHECK(p0 == "okx/books/BTC-USDT/s/77.0");
  CHECK(p1 == "okx/books/BTC-USDT/s/77.1");
}

TEST_CASE("bridge keys: records without a venue sequence are named by their content, as the merger dedups them") {
  auto bbo = make_record<bbo_record>();
  bbo.header.venue_id = venue::okx;
  bbo.header.channel_id = channel::okx_tickers;
  bbo.header.set_symbol("BTC-USDT");
  bbo.header.venue_time_ns = 123;
  bbo.bid = make_level(book_side::bid, {100, 0}, {1, 0});
  auto other_slot = bbo;
  other_slot.header.slot = slot_id::b;
  other_slot.header.receive_time_ns = 999;
  auto later = bbo;
  later.header.venue_time_ns = 124;
  auto other_px = bbo;
  other_px.bid.px_mantissa = 101;
  std::string a, b, c, d;
  msg_id_for(view_of(bytes_of(bbo)), a);
  msg_id_for(view_of(bytes_of(other_slot)), b);
  msg_id_for(view_of(bytes_of(later)), c);
  msg_id_for(view_of(bytes_of(other_px)), d);
  CHECK(a.rfind("okx/tickers/BTC-USDT/b/h", 0) == 0);
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
}

TEST_CASE("bridge keys: a gap is named by its hole, suspect windows (no id after) also by their start") {
  std::string a, b, w1, w2;
  msg_id_for(view_of(stream_gap(10, 20)), a);
  auto other = make_record<gap_record>();
  const auto g = stream_gap(10, 20);
  std::memcpy(&other, g.data(), sizeof other);
  other.held_ns = 5;  // each merger waited its own time
  other.header.slot = slot_id::b;
  msg_id_for(view_of(bytes_of(other)), b);
  CHECK(a == "okx/books/BTC-USDT/g/10/20/hole_timeout");
  CHECK(a == b);
  auto win = other;
  win.first_seq_after = 0;
  win.reason = gap_reason::suspect_window;
  win.header.venue_time_ns = 1000;
  msg_id_for(view_of(bytes_of(win)), w1);
  win.header.venue_time_ns = 2000;
  msg_id_for(view_of(bytes_of(win)), w2);
  CHECK(w1 == "okx/books/BTC-USDT/g/10/0/suspect_window/1000");
  CHECK(w1 != w2);
}

TEST_CASE("bridge keys: slot markers stay on their bus, everything else crosses") {
  auto st = make_record<slot_status_record>();
  CHECK_FALSE(carried(view_of(bytes_of(st))));
  CHECK(carried(view_of(bytes_of(trade(1)))));
  CHECK(carried(view_of(stream_gap(1, 3))));
  CHECK(carried(view_of(book(record_type::book_snapshot, 1))));
}

TEST_CASE("inflow: records in stream order are written, a redelivery is not") {
  inflow in;
  const auto t = bytes_of(trade(1));
  CHECK(in.offer(1, t, 0).write);
  CHECK(in.offer(2, t, 0).write);
  const auto again = in.offer(2, t, 0);
  CHECK_FALSE(again.write);
  CHECK_FALSE(again.gap);
  CHECK_FALSE(in.offer(1, t, 0).write);
  CHECK(in.counts().written == 2);
  CHECK(in.counts().redelivered == 2);
  CHECK(in.last_stream_seq() == 2);
}

TEST_CASE("inflow: a jump in the stream sequence becomes a bridge_lost gap before the record") {
  inflow in(10);
  const auto t = bytes_of(trade(1));
  const auto d = in.offer(14, t, 777);
  CHECK(d.write);
  REQUIRE(d.gap);
  CHECK(d.gap_bytes.reason == gap_reason::bridge_lost);
  CHECK(d.gap_bytes.last_seq_held == 10);
  CHECK(d.gap_bytes.first_seq_after == 14);
  CHECK(d.gap_bytes.header.venue_id == venue::unknown);
  CHECK(d.gap_bytes.header.publish_time_ns == 777);
  CHECK(in.counts().holes == 1);
  CHECK(in.counts().missing == 3);
  CHECK_FALSE(in.offer(15, t, 0).gap);
}

TEST_CASE("inflow: the first message of a run starts it without a gap, and a gap already written is not written again") {
  inflow fresh;
  CHECK_FALSE(fresh.offer(500, bytes_of(trade(1)), 0).gap);  // older records were removed before we came: not ours to lose
  inflow resumed(10, true);  // restarted after writing the gap for the hole before 14, not 14 itself
  const auto d = resumed.offer(14, bytes_of(trade(1)), 0);
  CHECK(d.write);
  CHECK_FALSE(d.gap);
  CHECK(resumed.counts().holes == 1);
}

TEST_CASE("inflow: a payload that is not a record is never written") {
  inflow in;
  std::vector<std::byte> junk(40, std::byte{0x5a});
  const auto d = in.offer(1, junk, 0);
  CHECK_FALSE(d.write);
  CHECK(in.counts().not_records == 1);
  CHECK(in.last_stream_seq() == 1);  // consumed: the next message follows without a hole
  CHECK_FALSE(in.offer(2, bytes_of(trade(1)), 0).gap);
}

TEST_CASE("inflow: a snapshot behind its stream's book is dropped, and after a gap of the stream the next one goes through") {
  inflow in;
  std::uint64_t s = 0;
  CHECK(in.offer(++s, book(record_type::book_snapshot, 100), 0).write);  // bus A's snapshot starts the book
  CHECK(in.offer(++s, book(record_type::book_delta, 101), 0).write);
  CHECK(in.offer(++s, book(record_type::book_delta, 102), 0).write);
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 101), 0).write);  // bus B's, older: dropped
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 102), 0).write);  // as new as the book: adds nothing
  CHECK(in.counts().stale_snapshots == 2);
  CHECK(in.offer(++s, book(record_type::book_snapshot, 110), 0).write);  // ahead: a consumer re-bases on it
  CHECK(in.offer(++s, stream_gap(110, 120), 0).write);
  CHECK(in.offer(++s, book(record_type::book_snapshot, 90), 0).write);  // the stream's book was given up: any snapshot
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 90), 0).write);
}

TEST_CASE("inflow: a split snapshot's parts follow their first part's verdict") {
  inflow in;
  std::uint64_t s = 0;
  CHECK(in.offer(++s, book(record_type::book_snapshot, 50, 0, 3), 0).write);
  CHECK(in.offer(++s, book(record_type::book_snapshot, 50, 1, 3), 0).write);
  CHECK(in.offer(++s, book(record_type::book_snapshot, 50, 2, 3), 0).write);
  CHECK(in.offer(++s, book(record_type::book_delta, 51), 0).write);
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 49, 0, 2), 0).write);
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 49, 1, 2), 0).write);
  CHECK_FALSE(in.offer(++s, book(record_type::book_snapshot, 60, 1, 2), 0).write);  // a part without its first
}

TEST_CASE("inflow: after a bridge_lost gap every stream's next snapshot goes through") {
  inflow in;
  CHECK(in.offer(1, book(record_type::book_snapshot, 100), 0).write);
  CHECK(in.offer(2, book(record_type::book_delta, 101), 0).write);
  CHECK(in.offer(5, bytes_of(trade(9)), 0).gap);
  CHECK(in.offer(6, book(record_type::book_snapshot, 100), 0).write);
}

TEST_CASE("inflow: a stream stays in venue order, older history from a lagging bus is left out, a late record becomes a gap") {
  inflow in;
  std::uint64_t s = 0;
  CHECK(in.offer(++s, bytes_of(trade(100)), 0).write);  // bus A's bridge came first, from its newest
  CHECK(in.offer(++s, bytes_of(trade(101)), 0).write);
  const auto older = in.offer(++s, bytes_of(trade(97)), 0);  // bus B's bridge, started from its own (older) newest
  CHECK_FALSE(older.write);
  CHECK_FALSE(older.gap);
  CHECK(in.counts().superseded == 1);
  CHECK(in.offer(++s, bytes_of(trade(101)), 0).write);  // an equal id is not out of order (OKX book heartbeats repeat theirs)
  CHECK(in.offer(++s, bytes_of(trade(104)), 0).write);
  const auto late = in.offer(++s, bytes_of(trade(102)), 5);  // the stream went on without it
  CHECK_FALSE(late.write);
  REQUIRE(late.gap);
  CHECK(late.gap_bytes.reason == gap_reason::bridge_lost);
  CHECK(late.gap_bytes.header.venue_id == venue::binance);
  CHECK(late.gap_bytes.header.channel_id == channel::binance_trade);
  CHECK(late.gap_bytes.header.symbol_view() == "BTCUSDT");
  CHECK(late.gap_bytes.last_seq_held == 104);
  CHECK(late.gap_bytes.first_seq_after == 102);
  CHECK(in.counts().late == 1);
  CHECK(in.offer(++s, bytes_of(trade(105)), 0).write);
}

TEST_CASE("inflow: the other bus's deltas up to the book snapshot written are in it, superseded without a gap (CI, 2026-12-07)") {
  // Bus A's book started at its snapshot 597; bus B's, earlier, sends its delta 597 late.
  inflow in;
  std::uint64_t s = 0;
  CHECK(in.offer(++s, book(record_type::book_snapshot, 597), 0).write);
  CHECK(in.offer(++s, book(record_type::book_delta, 598), 0).write);
  CHECK(in.offer(++s, book(record_type::book_delta, 607), 0).write);
  const auto b = in.offer(++s, book(record_type::book_delta, 597), 0);
  CHECK_FALSE(b.write);
  CHECK_FALSE(b.gap);
  CHECK_FALSE(in.offer(++s, book(record_type::book_delta, 590), 0).gap);
  CHECK(in.counts().superseded == 2);
  CHECK(in.counts().late == 0);
  // Above the snapshot and behind the book it is late.
  CHECK(in.offer(++s, book(record_type::book_delta, 600), 0).gap);
  CHECK(in.counts().late == 1);
}

TEST_CASE("inflow: the merger's gap record of a stream starts it afresh, as after a venue's sequence reset") {
  inflow in;
  std::uint64_t s = 0;
  CHECK(in.offer(++s, book(record_type::book_delta, 500), 0).write);
  CHECK(in.offer(++s, stream_gap(500, 0), 0).write);
  CHECK(in.offer(++s, book(record_type::book_snapshot, 3), 0).write);
  CHECK(in.offer(++s, book(record_type::book_delta, 4), 0).write);
  CHECK(in.counts().late == 0);
  // Sequence-less records (OKX tickers) are written as they come.
  auto bbo = make_record<bbo_record>();
  bbo.header.venue_id = venue::okx;
  bbo.header.channel_id = channel::okx_tickers;
  CHECK(in.offer(++s, bytes_of(bbo), 0).write);
  CHECK(in.offer(++s, bytes_of(bbo), 0).write);
}

TEST_CASE("resume: how much of an intent reached the ring decides where the subscriber goes on") {
  // Nothing in progress, or the intent finished.
  CHECK(resume_from(0, 0, 0, 0, 0).last_written == 0);
  CHECK(resume_from(9, 9, 4, 1, 5).last_written == 9);
  // Killed after the record's frame, before "finished": it is written.
  CHECK(resume_from(9, 10, 5, 1, 6).last_written == 10);
  // Killed before the frame: not written, go on after 9.
  const auto before = resume_from(9, 10, 5, 1, 5);
  CHECK(before.last_written == 9);
  CHECK_FALSE(before.hole_reported);
  // Gap and record: both in, only the gap in, or neither.
  CHECK(resume_from(9, 12, 5, 2, 7).last_written == 12);
  const auto half = resume_from(9, 12, 5, 2, 6);
  CHECK(half.last_written == 9);
  CHECK(half.hole_reported);
  CHECK_FALSE(resume_from(9, 12, 5, 2, 5).hole_reported);
  // A new ring (behind the intent): the last finished message.
  CHECK(resume_from(9, 10, 500, 1, 0).last_written == 9);
}

TEST_CASE("resume: the file keeps its words across openings and refuses another stream's") {
  test::temp_dir dir;
  const std::string path = dir.file("r");
  const std::uint64_t id = resume_identity("S", "md", "mdbus.x.out");
  {
    resume_file f(path, id);
    CHECK(f.resume(0).last_written == 0);
    f.intend(7, 3, 1);
    f.finished(7);
    f.intend(8, 4, 1);  // killed here, after the frame (the ring is at 5)
  }
  {
    resume_file f(path, id);
    CHECK(f.done() == 7);
    CHECK(f.resume(5).last_written == 8);
    CHECK(f.resume(4).last_written == 7);
  }
  CHECK(resume_identity("S", "md", "mdbus.x.out") != resume_identity("S", "m", "dmdbus.x.out"));
  CHECK_THROWS_WITH_AS(resume_file(path, resume_identity("T", "md", "mdbus.x.out")),
                       doctest::Contains("belongs to another stream"), resume_error);
  std::ofstream(dir.file("junk")) << "not a resume file";
  CHECK_THROWS_WITH_AS(resume_file(dir.file("junk"), id), doctest::Contains("not a resume file"), resume_error);
}
