// The arbitration table of ARCHITECTURE.md, row by row, with the interleavings two live slots
// produce: A ahead, B ahead, holes one slot fills, holes both have (gap records), resets,
// snapshots of a reconnecting slot, split snapshots — and a property test over random
// interleavings of two lossy copies of a ground-truth stream.
#include "tests/bus/merge/arbiter_harness.hpp"

#include <algorithm>
#include <random>

using namespace mdbus;
using namespace mdbus::merge;
using namespace mdbus::merge::testing;

TEST_CASE("consecutive ids: the first copy wins whichever slot is ahead, later copies are counted duplicates") {
  harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.offer(t.trade(1, A), A);
  h.offer(t.trade(2, A), A);
  h.offer(t.trade(1, B), B);
  h.offer(t.trade(2, B), B);
  h.offer(t.trade(3, B), B);  // B pulls ahead
  h.offer(t.trade(3, A), A);
  h.offer(t.trade(4, A), A);
  CHECK(h.out.trace() == "1A 2A 3B 4A");
  const auto* s = h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT");
  REQUIRE(s != nullptr);
  CHECK(s->published[0] == 3);
  CHECK(s->published[1] == 1);
  CHECK(s->duplicates[0] == 1);
  CHECK(s->duplicates[1] == 2);
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("consecutive ids: a hole on A is held and filled by B within the window, nothing reported") {
  harness h;
  const stream_maker t{channel::binance_agg_trade, "ETHUSDT"};
  h.offer(t.trade(1, A), A);
  h.offer(t.trade(3, A), A);  // 2 lost on A: held
  h.offer(t.trade(4, A), A);  // also held behind the hole
  CHECK(h.out.trace() == "1A");
  CHECK(h.arb.next_deadline() <= h.now + kWindow);
  h.offer(t.trade(1, B), B);
  h.offer(t.trade(2, B), B);  // fills it: 2, then the held 3 and 4
  CHECK(h.out.trace() == "1A 2B 3A 4A");
  h.offer(t.trade(3, B), B);
  h.offer(t.trade(4, B), B);
  h.wait_out_window();
  CHECK(h.out.trace() == "1A 2B 3A 4A");
  CHECK(h.arb.stats().holes_filled == 2);
  CHECK(h.arb.stats().gaps == 0);
  CHECK(h.arb.next_deadline() == std::numeric_limits<std::int64_t>::max());
}

TEST_CASE("consecutive ids: a hole on both slots becomes one gap record after the window, then the stream goes on") {
  harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  for (std::uint64_t id : {1, 2, 5, 6}) h.offer(t.trade(id, A), A);
  for (std::uint64_t id : {1, 2, 5}) h.offer(t.trade(id, B), B);
  CHECK(h.out.trace() == "1A 2A");
  h.arb.tick(h.now);  // window not over yet
  CHECK(h.out.trace() == "1A 2A");
  h.wait_out_window();
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A");
  const auto& g = h.out.items[2].gap;
  CHECK(g.reason == gap_reason::hole_timeout);
  CHECK(g.header.channel_id == channel::binance_trade);
  CHECK(g.header.symbol_view() == "BTCUSDT");
  CHECK(g.held_ns >= kWindow);
  h.offer(t.trade(6, B), B);
  h.offer(t.trade(7, B), B);
  CHECK(h.out.trace() == "1A 2A gap(2>5) 5A 6A 7B");
}

TEST_CASE("diff depth ranges: U..u chains on u + 1, overlap is accepted, a hole waits for the other slot") {
  harness h;
  const stream_maker d{channel::binance_depth, "BTCUSDT"};
  auto delta = [&](std::uint64_t U, std::uint64_t u, slot_id s) { return d.book(record_type::book_delta, U, u, d.kNoPrev, s); };
  h.offer(d.book(record_type::book_snapshot, 0, 99, d.kNoPrev, A), A);  // REST snapshot, lastUpdateId 99
  h.offer(delta(100, 105, A), A);
  h.offer(delta(106, 110, A), A);
  h.offer(delta(100, 105, B), B);  // duplicate
  h.offer(delta(104, 112, B), B);  // overlaps: covers 111, published
  h.offer(delta(111, 112, A), A);  // duplicate by u
  h.offer(delta(120, 125, A), A);  // U > last + 1: held
  CHECK(h.out.trace() == "99A 105A 110A 112B");
  h.offer(delta(113, 119, B), B);  // B fills 113..119, A's 120..125 follows
  CHECK(h.out.trace() == "99A 105A 110A 112B 119B 125A");
  CHECK(h.out.resyncs.empty());
}

TEST_CASE("diff depth that starts with a delta waits for a snapshot: resync asked, then the U/u procedure") {
  harness h;
  const stream_maker d{channel::binance_depth, "BTCUSDT"};
  auto delta = [&](std::uint64_t U, std::uint64_t u, slot_id s) { return d.book(record_type::book_delta, U, u, d.kNoPrev, s); };
  h.offer(delta(100, 105, A), A);
  h.offer(delta(100, 105, B), B);
  h.offer(delta(106, 110, A), A);
  h.offer(delta(111, 115, A), A);
  CHECK(h.out.trace().empty());
  REQUIRE(h.out.resyncs.size() == 1);
  CHECK(h.out.resyncs[0] == "binance/depth/BTCUSDT");
  CHECK(h.out.resync_asks[0] == A);  // the slot whose delta started the wait: one REST snapshot, not two
  h.wait_out_window();  // waiting for a snapshot is not a hole: no gap, nothing published
  CHECK(h.out.trace().empty());
  CHECK(h.arb.stats().gaps == 0);
  // The REST snapshot (lastUpdateId 107): deltas with u <= 107 are dropped, the one that
  // covers 108 (106..110) continues the book.
  h.offer(d.book(record_type::book_snapshot, 0, 107, d.kNoPrev, B), B);
  CHECK(h.out.trace() == "107B 110A 115A");
  h.offer(delta(106, 110, B), B);
  h.offer(delta(116, 118, B), B);
  CHECK(h.out.trace() == "107B 110A 115A 118B");
  // A's answer to the same request comes later, ahead of the stream (lastUpdateId 119): the
  // stream is continuous, so it is a duplicate — not held, no gap when the next delta is slow.
  auto rest = d.book(record_type::book_snapshot, 0, 119, d.kNoPrev, A);
  record_header rh;
  std::memcpy(&rh, rest.data(), sizeof rh);
  rh.flags |= kHeaderFromRest;
  std::memcpy(rest.data(), &rh, sizeof rh);
  h.offer(rest, A);
  h.wait_out_window();
  CHECK(h.out.trace() == "107B 110A 115A 118B");
  CHECK(h.arb.stats().gaps == 0);
  h.offer(delta(119, 125, A), A);
  CHECK(h.out.trace() == "107B 110A 115A 118B 125A");
  // Nobody asks twice once the snapshot came.
  h.now += 10'000'000'000;
  h.arb.tick(h.now);
  CHECK(h.out.resyncs.size() == 1);
}

TEST_CASE("a book stream waiting for its snapshot asks again every resync_retry_ns and keeps only the newest deltas") {
  harness h(arbiter_options{.hold_records_per_stream = 3, .resync_retry_ns = 1'000'000'000});
  const stream_maker d{channel::binance_depth, "ETHUSDT"};
  for (std::uint64_t u = 10; u <= 50; u += 10) h.offer(d.book(record_type::book_delta, u - 9, u, d.kNoPrev, A), A);
  CHECK(h.arb.stats().resync_dropped == 2);  // 10 and 20 made room for 40 and 50
  h.now += 1'000'000'000;
  h.arb.tick(h.now);
  CHECK(h.out.resyncs.size() == 2);
  CHECK(h.out.resync_asks[0] == A);  // the first request: the slot that delivered the delta
  CHECK(h.out.resync_asks[1] == A);  // A kept delivering: its snapshot is likely queued, ask it again
  // A goes quiet for a retry period: the next retry asks every feeder, and so do later ones.
  h.now += 1'000'000'000;
  h.arb.tick(h.now);
  REQUIRE(h.out.resyncs.size() == 3);
  CHECK(h.out.resync_asks[2] == slot_id::none);
  h.offer(d.book(record_type::book_delta, 51, 60, d.kNoPrev, A), A);
  h.now += 1'000'000'000;
  h.arb.tick(h.now);
  CHECK(h.out.resync_asks.back() == slot_id::none);
  h.offer(d.book(record_type::book_snapshot, 0, 35, d.kNoPrev, A), A);
  CHECK(h.out.trace() == "35A 40A 50A 60A");
}

TEST_CASE("a book whose one asked slot keeps delivering but brings no snapshot asks both slots after five minutes") {
  harness h(arbiter_options{.hold_records_per_stream = 3, .resync_retry_ns = 2'000'000'000});
  const stream_maker d{channel::binance_depth, "BNBUSDT"};
  std::uint64_t u = 10;
  h.offer(d.book(record_type::book_delta, u - 9, u, d.kNoPrev, B), B);
  for (int second = 1; second <= 302; ++second) {
    u += 10;
    h.offer(d.book(record_type::book_delta, u - 9, u, d.kNoPrev, B), B);  // B delivers every second
    h.now += 1'000'000'000;
    h.arb.tick(h.now);
  }
  // A request at the start and one every 2 s: B alone for the first 5 minutes (B's feeder is
  // there; its snapshot may be queued behind the REST budget), then both.
  REQUIRE(h.out.resync_asks.size() == 152);
  CHECK(h.out.resync_asks[0] == B);
  CHECK(h.out.resync_asks[148] == B);   // at 296 s
  CHECK(h.out.resync_asks[150] == slot_id::none);  // at 300 s
  CHECK(h.out.resync_asks[151] == slot_id::none);
}

TEST_CASE("OKX chained books: prevSeqId links, a reconnecting slot's snapshot is a duplicate, a reset is followed") {
  harness h;
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  h.offer(upd(13, 10, A), A);
  h.offer(upd(17, 13, A), A);
  // B reconnects while A is continuous: its snapshot (seq 13) and first update are old news.
  h.offer(b.book(record_type::book_snapshot, 0, 13, -1, B), B);
  h.offer(upd(17, 13, B), B);
  h.offer(upd(20, 17, B), B);
  CHECK(h.out.trace() == "10A 13A 17A 20B");
  // An update with prevSeqId == seqId (no change: OKX's heartbeat) is a duplicate of the last.
  h.offer(upd(20, 20, A), A);
  // Maintenance: seqId drops below prevSeqId, which still names our last.
  h.offer(upd(3, 20, A), A);
  h.offer(upd(3, 20, B), B);
  h.offer(upd(5, 3, B), B);
  CHECK(h.out.trace() == "10A 13A 17A 20B 3A 5B");
  CHECK(h.arb.stream(venue::okx, channel::okx_books, "BTC-USDT")->resets == 1);
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("OKX chained books: a hole on both slots is a gap record, then deltas wait for the resubscribe snapshot") {
  harness h;
  const stream_maker b{channel::okx_books_l2_tbt, "ETH-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  h.offer(upd(12, 11, A), A);  // prev 11 != 10: held
  h.offer(upd(12, 11, B), B);  // same hole on B: held too
  CHECK(h.out.trace() == "10A");
  h.wait_out_window();
  // The book lost 11: a gap record, a resync request, and no delta until a snapshot.
  CHECK(h.out.trace() == "10A gap(10>12)");
  REQUIRE(h.out.resyncs.size() == 1);
  CHECK(h.out.resyncs[0] == "okx/books-l2-tbt/ETH-USDT");
  CHECK(h.out.resync_asks[0] == slot_id::none);  // after a gap on both slots: every feeder
  h.offer(upd(14, 12, A), A);
  CHECK(h.out.trace() == "10A gap(10>12)");
  h.offer(b.book(record_type::book_snapshot, 0, 14, -1, B), B);  // B's snapshot, taken after 14
  h.offer(upd(15, 14, B), B);
  h.offer(upd(15, 14, A), A);
  CHECK(h.out.trace() == "10A gap(10>12) 14B 15B");
  CHECK(h.arb.stream(venue::okx, channel::okx_books_l2_tbt, "ETH-USDT")->rebases == 1);
  h.wait_out_window();  // A's held 12 and 14 are covered by the snapshot: duplicates
  CHECK(h.out.trace() == "10A gap(10>12) 14B 15B");
  CHECK(h.arb.stats().gaps == 1);
}

TEST_CASE("OKX books without a pushed snapshot: deltas wait, the REST snapshot joins the first update with prevSeqId <= seqId < its seqId") {
  // OKX v5 "Order book channel" after the snapshot push was delisted (production Aug 2026):
  // the stream starts with updates, the client takes GET /api/v5/market/books and applies the
  // first update that straddles the snapshot's seqId. The exact chain rule (prevSeqId == last)
  // would call that update a hole.
  harness h;
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(upd(105, 100, A), A);
  h.offer(upd(105, 100, B), B);
  h.offer(upd(110, 105, A), A);
  h.offer(upd(120, 110, B), B);
  CHECK(h.out.trace().empty());
  REQUIRE(h.out.resyncs.size() == 1);
  CHECK(h.out.resyncs[0] == "okx/books/BTC-USDT");
  h.wait_out_window();
  CHECK(h.arb.stats().gaps == 0);
  // The REST snapshot's seqId 107 falls inside update 105 -> 110: 105 is covered by it, 110
  // joins (105 <= 107 < 110), 120 chains on 110.
  auto rest = b.book(record_type::book_snapshot, 0, 107, b.kNoPrev, A);
  record_header rh;
  std::memcpy(&rh, rest.data(), sizeof rh);
  rh.flags |= kHeaderFromRest;
  std::memcpy(rest.data(), &rh, sizeof rh);
  h.offer(rest, A);
  CHECK(h.out.trace() == "107A 110A 120B");
  // From here on the exact chain: B's late copy of 110 is a duplicate, a heartbeat
  // (prevSeqId == seqId == last) is a duplicate, 130 on 120 is next.
  h.offer(upd(110, 105, B), B);
  h.offer(upd(120, 120, A), A);
  h.offer(upd(130, 120, A), A);
  CHECK(h.out.trace() == "107A 110A 120B 130A");
  // The join applies once: after it, an update that merely straddles is a hole again.
  h.offer(upd(140, 125, A), A);
  CHECK(h.out.trace() == "107A 110A 120B 130A");
  h.offer(upd(140, 130, B), B);
  CHECK(h.out.trace() == "107A 110A 120B 130A 140B");
  CHECK(h.arb.stats().gaps == 0);
  CHECK(h.out.resyncs.size() == 1);
}

TEST_CASE("OKX books: a REST snapshot older than the first held update is no join, the stream waits for a newer snapshot") {
  harness h;
  const stream_maker b{channel::okx_books, "ETH-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(upd(105, 100, A), A);
  h.offer(upd(105, 100, B), B);
  h.offer(b.book(record_type::book_snapshot, 0, 95, b.kNoPrev, A), A);  // taken before 100: 96..100 unknown
  CHECK(h.out.trace() == "95A");
  h.wait_out_window();
  // 105 cannot join 95: after the window, a gap and a new resync request.
  CHECK(h.out.trace() == "95A gap(95>105)");
  CHECK(h.out.resyncs.size() == 2);
  h.offer(b.book(record_type::book_snapshot, 0, 106, b.kNoPrev, A), A);
  h.offer(upd(108, 105, A), A);
  CHECK(h.out.trace() == "95A gap(95>105) 106A 108A");
}

TEST_CASE("a reconnecting slot's snapshot ahead of its partner waits, the partner catching up makes it a duplicate") {
  harness h;
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  h.offer(upd(11, 10, A), A);
  // B reconnects and is faster than A for a moment: its snapshot (13) and update 14 wait.
  h.offer(b.book(record_type::book_snapshot, 0, 13, -1, B), B);
  h.offer(upd(14, 13, B), B);
  CHECK(h.out.trace() == "10A 11A");
  h.offer(upd(12, 11, A), A);
  h.offer(upd(13, 12, A), A);  // A reaches 13: B's snapshot is a duplicate, B's 14 follows
  CHECK(h.out.trace() == "10A 11A 12A 13A 14B");
  h.wait_out_window();
  CHECK(h.arb.stats().gaps == 0);
  CHECK(h.arb.stream(venue::okx, channel::okx_books, "BTC-USDT")->rebases == 0);
}

TEST_CASE("a snapshot ahead of a partner that never catches up re-bases the stream after a gap record") {
  harness h;
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  h.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  h.offer(upd(11, 10, A), A);  // then A goes down
  h.offer(b.book(record_type::book_snapshot, 0, 20, -1, B), B);
  h.offer(upd(21, 20, B), B);
  h.wait_out_window();
  CHECK(h.out.trace() == "10A 11A gap(11>20) 20B 21B");
  CHECK(h.out.resyncs.empty());  // the snapshot is there: nothing to ask for
}

TEST_CASE("increasing ids (bookTicker, OKX trades, partial books): duplicates dropped, jumps are not holes") {
  harness h;
  const stream_maker bt{channel::binance_book_ticker, "BTCUSDT"};
  const stream_maker ot{channel::okx_trades, "BTC-USDT"};
  h.offer(bt.trade(100, A), A);  // a trade-shaped record is enough: only the header matters here
  h.offer(bt.trade(100, B), B);  // both slots in step
  h.offer(bt.trade(250, B), B);
  h.offer(bt.trade(180, A), A);  // older than the last published: A is behind
  h.offer(ot.trade(7000, A), A);
  h.offer(ot.trade(7003, A), A);
  h.offer(ot.trade(7003, B), B);
  CHECK(h.out.trace() == "100A 250B 7000A 7003A");
  // Partial books are whole snapshots every time: a higher id is the next one, not a hole.
  const stream_maker p5{channel::okx_books5, "BTC-USDT"};
  h.offer(p5.book(record_type::book_snapshot, 0, 40, -1, A), A);
  h.offer(p5.book(record_type::book_snapshot, 0, 40, -1, B), B);
  h.offer(p5.book(record_type::book_snapshot, 0, 90, -1, B), B);
  h.offer(p5.book(record_type::book_snapshot, 0, 140, -1, A), A);
  CHECK(h.out.trace() == "100A 250B 7000A 7003A 40A 90B 140A");
  h.wait_out_window();
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("increasing ids at start: a slot not yet in step waits for its partner, then wins if the partner lags") {
  harness h;
  const stream_maker bt{channel::binance_book_ticker, "BTCUSDT"};
  h.offer(bt.trade(100, A), A);
  h.offer(bt.trade(250, B), B);  // B has not shown it is in step: held while A is
  h.offer(bt.trade(180, A), A);
  CHECK(h.out.trace() == "100A 180A");
  h.wait_out_window();
  CHECK(h.out.trace() == "100A 180A 250B");
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("sequence-less tickers: the same event time and content is a duplicate within the window") {
  harness h(arbiter_options{.content_window = 4});
  const stream_maker tk{channel::okx_tickers, "BTC-USDT"};
  h.offer(tk.ticker(1000, 50, A), A);
  h.offer(tk.ticker(1000, 50, B), B);  // duplicate
  h.offer(tk.ticker(1000, 51, B), B);  // same time, other content: a new event
  h.offer(tk.ticker(2000, 50, A), A);
  CHECK(h.out.items.size() == 3);
  CHECK(h.arb.stats().duplicates == 1);
  // The window remembers 4 events: the fifth pushes the first out, so its copy would pass.
  for (std::int64_t t = 3000; t < 5000; t += 1000) h.offer(tk.ticker(t, 50, A), A);
  h.offer(tk.ticker(1000, 50, B), B);
  CHECK(h.out.items.size() == 6);
}

TEST_CASE("mark price and funding: both slots' copies of one push are one record, each push once, a stale push never") {
  for (const channel ch : {channel::usdm_mark_price, channel::okx_mark_price, channel::okx_funding_rate}) {
    CAPTURE(ch);
    harness h;
    const stream_maker m{ch, "BTC-USDT-SWAP"};
    h.offer(m.mark(1000, 6183763, A), A);
    h.offer(m.mark(1000, 6183763, B), B);  // the other slot's copy
    h.offer(m.mark(2000, 6183763, B), B);  // the next push, unchanged values: still a push
    h.offer(m.mark(2000, 6183763, A), A);
    h.offer(m.mark(3000, 6183770, A), A);
    h.offer(m.mark(2500, 6183766, B), B);  // a lagging slot's older push: stale state, not published
    CHECK(h.out.trace() == "1000A 2000B 3000A");
    CHECK(h.arb.stats().duplicates == 3);
    CHECK(h.arb.stats().gaps == 0);
  }
}

TEST_CASE("a split snapshot: every part of the winning slot's copy once, none of the other's") {
  harness h;
  const stream_maker d{channel::binance_depth, "BTCUSDT"};
  auto part = [&](std::uint16_t i, std::uint8_t flags, slot_id s) {
    return d.book(record_type::book_snapshot, 0, 500, d.kNoPrev, s, flags, i);
  };
  h.offer(part(0, kBookFirstPart, A), A);
  h.offer(part(0, kBookFirstPart, B), B);
  h.offer(part(1, 0, B), B);
  h.offer(part(1, 0, A), A);
  h.offer(part(2, kBookLastPart, A), A);
  h.offer(part(2, kBookLastPart, B), B);
  h.offer(d.book(record_type::book_delta, 501, 503, d.kNoPrev, B), B);
  CHECK(h.out.trace() == "500p0A 500p1A 500p2A 503B");
  CHECK(h.arb.stats().duplicates == 3);
}

TEST_CASE("a full hold buffer closes the oldest hole early instead of dropping or blocking") {
  harness h(arbiter_options{.hold_records_per_stream = 2});
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.offer(t.trade(1, A), A);
  h.offer(t.trade(3, A), A);
  h.offer(t.trade(4, A), A);
  h.offer(t.trade(6, A), A);  // third held record: no room, the hole before 3 is reported now
  CHECK(h.out.trace() == "1A gap(1>3) 3A 4A");
  CHECK(h.arb.stats().hold_overflows == 1);
  h.wait_out_window();
  CHECK(h.out.trace() == "1A gap(1>3) 3A 4A gap(4>6) 6A");
}

TEST_CASE("streams are independent: one symbol's hole holds nothing of another") {
  harness h;
  const stream_maker x{channel::binance_trade, "BTCUSDT"};
  const stream_maker y{channel::binance_trade, "ETHUSDT"};
  h.offer(x.trade(1, A), A);
  h.offer(y.trade(1, A), A);
  h.offer(x.trade(3, A), A);  // hole on BTCUSDT
  h.offer(y.trade(2, A), A);  // ETHUSDT flows on
  CHECK(h.out.trace() == "1A 1A 2A");
  CHECK(h.arb.stream_count() == 2);
}

TEST_CASE("records from a slot other than A or B are refused and counted") {
  harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.offer(t.trade(1, A), slot_id::none);
  CHECK(h.out.items.empty());
  CHECK(h.arb.stats().bad_slot == 1);
}

namespace {

/// Two copies of a ground-truth stream, each losing some records, interleaved at random
/// (each slot's own order kept, one slot at most `max_lead` records ahead of the other in
/// time). Returns the arbiter's trace after every hold has expired.
std::string merge_lossy_copies(const std::vector<std::vector<std::byte>>& truth, const std::vector<bool>& lost_a,
                               const std::vector<bool>& lost_b, std::mt19937_64& rng, arbiter_options o = {}) {
  o.hold_records_per_stream = 1 << 13;
  o.hold_bytes_per_stream = 1 << 20;
  harness h(o);
  std::size_t ia = 0, ib = 0;
  const std::size_t n = truth.size();
  while (ia < n || ib < n) {
    const bool pick_a = ib >= n || (ia < n && (rng() & 1) != 0);
    std::size_t& i = pick_a ? ia : ib;
    const auto& lost = pick_a ? lost_a : lost_b;
    if (!lost[i]) h.offer(truth[i], pick_a ? A : B);
    ++i;
    h.arb.tick(h.now);
  }
  h.wait_out_window();
  std::string trace = h.out.trace();
  // The winner does not matter here, only what was published and in which order.
  trace.erase(std::remove_if(trace.begin(), trace.end(), [](char c) { return c == 'A' || c == 'B'; }), trace.end());
  return trace;
}

}  // namespace

TEST_CASE("property: random interleavings of two lossy copies give the ground truth, gaps exactly where both lost") {
  std::mt19937_64 rng(20261124);
  const stream_maker trades{channel::binance_trade, "BTCUSDT"};
  const stream_maker books{channel::okx_books, "BTC-USDT"};
  const stream_maker bbo{channel::okx_bbo_tbt, "BTC-USDT"};
  for (int round = 0; round < 200; ++round) {
    const bool chained = round % 2 == 1;
    const bool both_lose = round % 4 >= 2;
    // Book deltas after a loss on both slots wait for a snapshot (tested on their own above):
    // those rounds chain BBOs, which carry on after the gap record.
    const bool book = chained && !both_lose;
    const std::size_t n = 200 + rng() % 300;
    std::vector<std::vector<std::byte>> truth;
    std::vector<std::uint64_t> seqs;
    std::uint64_t seq = 1000;
    std::int64_t prev = -1;
    for (std::size_t i = 0; i < n; ++i) {
      seq += chained ? 1 + rng() % 3 : 1;
      truth.push_back(book      ? books.book(i == 0 ? record_type::book_snapshot : record_type::book_delta, 0, seq, prev, A)
                      : chained ? bbo.bbo(seq, prev, A)
                                : trades.trade(seq, A));
      seqs.push_back(seq);
      prev = static_cast<std::int64_t>(seq);
    }
    std::vector<bool> lost_a(n), lost_b(n);
    for (std::size_t i = 1; i < n; ++i) {  // the first record starts the stream: never lost here
      const auto r = rng() % 100;
      if (r < 10) lost_a[i] = true;
      else if (r < 20) lost_b[i] = true;
      else if (both_lose && r < 23) lost_a[i] = lost_b[i] = true;
    }
    // Expected: every record not lost on both, and one gap per run of records lost on both.
    std::string expected;
    for (std::size_t i = 0; i < n; ++i) {
      if (lost_a[i] && lost_b[i]) continue;
      if (!expected.empty()) expected += ' ';
      if (i > 0 && lost_a[i - 1] && lost_b[i - 1]) {
        std::size_t k = i - 1;
        while (lost_a[k] && lost_b[k]) --k;
        expected += "gap(" + std::to_string(seqs[k]) + ">" + std::to_string(seqs[i]) + ") ";
      }
      expected += std::to_string(seqs[i]);
    }
    CAPTURE(round);
    REQUIRE(merge_lossy_copies(truth, lost_a, lost_b, rng) == expected);
  }
}

TEST_CASE("restart: a merger primed with what was published judges re-read records as duplicates") {
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  const stream_maker tk{channel::okx_tickers, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  harness before;
  before.offer(t.trade(1, A), A);
  before.offer(t.trade(2, B), B);
  before.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  before.offer(upd(11, 10, A), A);
  before.offer(tk.ticker(1000, 50, A), A);
  // The new merger reads the output ring back, oldest first.
  harness after;
  for (const auto& item : before.out.items) {
    record_view v;
    REQUIRE(record_view::parse(item.bytes, v) == record_status::ok);
    after.arb.prime(v);
  }
  after.arb.finish_priming(after.now);
  CHECK(after.arb.stats().primed == 5);
  CHECK(after.out.resyncs.empty());
  // The feeder rings are read again from their tails: what was published is old news.
  after.offer(t.trade(2, A), A);
  after.offer(t.trade(3, A), A);
  after.offer(upd(11, 10, B), B);
  after.offer(upd(12, 11, B), B);
  after.offer(tk.ticker(1000, 50, B), B);
  CHECK(after.out.trace() == "3A 12B");
  CHECK(after.arb.stats().duplicates == 3);
}

TEST_CASE("restart: a book stream whose last published word was a gap waits for a snapshot again and asks for it") {
  harness before;
  const stream_maker b{channel::okx_books, "BTC-USDT"};
  auto upd = [&](std::uint64_t seq, std::int64_t prev, slot_id s) { return b.book(record_type::book_delta, 0, seq, prev, s); };
  before.offer(b.book(record_type::book_snapshot, 0, 10, -1, A), A);
  before.offer(upd(11, 10, A), A);
  before.offer(upd(13, 12, A), A);
  before.wait_out_window();
  REQUIRE(before.out.trace() == "10A 11A gap(11>13)");
  harness after;
  for (const auto& item : before.out.items) {
    if (item.is_gap) {
      record_view v;
      REQUIRE(record_view::parse(std::as_bytes(std::span(&item.gap, 1)), v) == record_status::ok);
      after.arb.prime(v);
      continue;
    }
    record_view v;
    REQUIRE(record_view::parse(item.bytes, v) == record_status::ok);
    after.arb.prime(v);
  }
  after.arb.finish_priming(after.now);
  REQUIRE(after.out.resyncs.size() == 1);
  after.offer(upd(14, 13, A), A);
  CHECK(after.out.trace().empty());
  after.offer(b.book(record_type::book_snapshot, 0, 14, -1, B), B);
  after.offer(upd(15, 14, A), A);
  CHECK(after.out.trace() == "14B 15A");
}

TEST_CASE("a record in a hole-fill hold pins its slot's ring position until the hole closes") {
  harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  auto offer_at = [&](const std::vector<std::byte>& bytes, slot_id from, std::uint64_t pos) {
    record_view v;
    REQUIRE(record_view::parse(bytes, v) == record_status::ok);
    h.arb.offer(v, from, h.now, pos);
    h.now += 1000;
  };
  constexpr auto kNone = std::numeric_limits<std::uint64_t>::max();
  offer_at(t.trade(1, A), A, 0);
  offer_at(t.trade(3, A), A, 128);  // held
  offer_at(t.trade(4, A), A, 256);  // held
  CHECK(h.arb.oldest_pinned(venue::binance, A) == 128);
  CHECK(h.arb.oldest_pinned(venue::binance, B) == kNone);
  offer_at(t.trade(2, B), B, 64);  // fills: everything published
  CHECK(h.arb.oldest_pinned(venue::binance, A) == kNone);
  // A book delta waiting for a snapshot pins nothing: the snapshot supersedes it.
  const stream_maker d{channel::binance_depth, "BTCUSDT"};
  offer_at(d.book(record_type::book_delta, 1, 5, d.kNoPrev, B), B, 512);
  CHECK(h.arb.oldest_pinned(venue::binance, B) == kNone);
}

TEST_CASE("race statistics: first arrivals per slot and how far the winner led, in buckets") {
  harness h;
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  auto at = [&](std::uint64_t id, slot_id s, std::int64_t receive_ns) {
    auto bytes = t.trade(id, s);
    record_header hdr;
    std::memcpy(&hdr, bytes.data(), sizeof hdr);
    hdr.receive_time_ns = receive_ns;
    std::memcpy(bytes.data(), &hdr, sizeof hdr);
    h.offer(bytes, s);
  };
  at(1, A, 1'000'000);
  at(1, B, 1'000'500);  // A led by 500 ns
  at(2, B, 2'000'000);
  at(2, A, 2'050'000);  // B led by 50 µs
  at(3, A, 3'000'000);
  at(3, B, 3'002'000);  // A led by 2 µs
  const auto* s = h.arb.stream(venue::binance, channel::binance_trade, "BTCUSDT");
  REQUIRE(s != nullptr);
  CHECK(s->published[0] == 2);
  CHECK(s->published[1] == 1);
  CHECK(s->lead[0].samples == 2);
  CHECK(s->lead[0].lead_sum_ns == 2'500);
  CHECK(s->lead[0].lead_max_ns == 2'000);
  CHECK(s->lead[0].lead_hist[0] == 1);  // < 1 µs
  CHECK(s->lead[0].lead_hist[1] == 1);  // < 10 µs
  CHECK(s->lead[1].samples == 1);
  CHECK(s->lead[1].lead_hist[2] == 1);  // < 100 µs
  CHECK(lead_bucket(999) == 0);
  CHECK(lead_bucket(1'000) == 1);
  CHECK(lead_bucket(200'000'000) == kLeadBuckets - 1);
}

TEST_CASE("configured streams are created up front and listed by index") {
  harness h;
  const std::size_t i = h.arb.add_stream(venue::okx, channel::okx_books, "ETH-USDT");
  REQUIRE(i == 0);
  CHECK(h.arb.stream_count() == 1);
  const stream_id id = h.arb.stream_key_at(i);
  CHECK(id.v == venue::okx);
  CHECK(id.c == channel::okx_books);
  CHECK(id.symbol == "ETH-USDT");
  CHECK(h.arb.add_stream(venue::okx, channel::okx_books, "ETH-USDT") == 0);  // the same stream
}

TEST_CASE("a config reload: room for more streams keeps every stream's state, a removed symbol's book stops asking, added back it asks again") {
  harness h(arbiter_options{.resync_retry_ns = 1'000'000'000});
  const stream_maker d{channel::binance_depth, "ETHUSDT"};
  const stream_maker t{channel::binance_trade, "BTCUSDT"};
  h.offer(t.trade(1, A), A);
  h.offer(d.book(record_type::book_delta, 1, 10, d.kNoPrev, A), A);  // waits for a snapshot: asked once
  REQUIRE(h.out.resyncs.size() == 1);
  // Grow the table past its 8 streams (what a reload adding symbols does before it adds them).
  for (int i = 0; i < 6; ++i) (void)h.arb.add_stream(venue::okx, channel::okx_trades, "S" + std::to_string(i) + "-USDT");
  CHECK(h.arb.add_stream(venue::okx, channel::okx_trades, "FULL-USDT") == SIZE_MAX);
  h.arb.reserve_streams(64);
  CHECK(h.arb.add_stream(venue::okx, channel::okx_trades, "FULL-USDT") == 8);
  // The earlier streams kept their state: the trade stream goes on, 1 is a duplicate.
  h.offer(t.trade(1, B), B);
  h.offer(t.trade(2, A), A);
  CHECK(h.arb.stats().duplicates == 1);
  // ETHUSDT leaves the config: its book no longer asks for a snapshot.
  CHECK(h.arb.retire_symbol(venue::binance, "ETHUSDT") == 1);
  h.now += 3'000'000'000;
  h.arb.tick(h.now);
  CHECK(h.out.resyncs.size() == 1);
  CHECK(h.arb.next_deadline() > h.now + 1'000'000'000'000LL);  // nothing to do: no busy tick
  // Added back: the requests resume, and the snapshot starts the book.
  (void)h.arb.add_stream(venue::binance, channel::binance_depth, "ETHUSDT");
  h.now += 1'000'000'000;
  h.arb.tick(h.now);
  CHECK(h.out.resyncs.size() == 2);
  h.offer(d.book(record_type::book_snapshot, 0, 5, d.kNoPrev, A), A);
  CHECK(h.out.trace() == "1A 2A 5A 10A");
}

TEST_CASE("a reconnecting slot on a stream without holes waits until it is in step, its partner's older records still win") {
  harness h;
  const stream_maker ot{channel::okx_trades, "BTC-USDT"};
  h.offer(ot.trade(100, A), A);
  h.offer(ot.trade(100, B), B);  // both in step
  h.arb.slot_reset(venue::okx, A);  // A reconnects: misses 101 and 102
  h.offer(ot.trade(103, A), A);     // ahead of B, which is in step: waits
  CHECK(h.out.trace() == "100A");
  h.offer(ot.trade(101, B), B);
  h.offer(ot.trade(102, B), B);
  h.offer(ot.trade(103, B), B);  // B's copy wins; A's held 103 is a duplicate: A is in step again
  h.offer(ot.trade(104, A), A);
  CHECK(h.out.trace() == "100A 101B 102B 103B 104A");
  h.wait_out_window();
  CHECK(h.arb.stats().gaps == 0);
}

TEST_CASE("a joining slot whose partner stops delivering wins after the window, without a gap record") {
  harness h;
  const stream_maker bt{channel::binance_book_ticker, "BTCUSDT"};
  h.offer(bt.trade(10, B), B);
  h.arb.slot_reset(venue::binance, A);
  h.offer(bt.trade(12, A), A);
  h.offer(bt.trade(15, A), A);
  CHECK(h.out.trace() == "10B");
  h.wait_out_window();  // B is silent (its line died): A's records go out, nothing claimed lost
  CHECK(h.out.trace() == "10B 12A 15A");
  CHECK(h.arb.stats().gaps == 0);
  h.offer(bt.trade(16, A), A);  // A is the stream now
  CHECK(h.out.trace() == "10B 12A 15A 16A");
}
