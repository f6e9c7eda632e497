// The feeder's side of backfill (issue 16): the merger writes the trade ids a hole lost on both
// slots into the control block's backfill table (feeder_block.hpp) and this feeder — the one
// that delivered the records behind the hole, so a connected one — fetches them from the
// venue's trade history, page by page, and writes them into its ring flagged kHeaderBackfilled.
//
// * Pages go through the REST lanes the resyncs use, within the venue's shared REST budget
//   (bus/venue_budget.hpp): a page waits for the budget, never overdraws it.
// * One request at a time per stream; a newer request replaces one under way (it names the
//   merger's current hole; the ids of the old one the merger has given up or received).
// * A page that fails (no answer, HTTP error, a body that is not a list of trades) is tried
//   once more after reconnect_min_ms; a second failure ends the request. Ids the venue does
//   not give — the request ended, an empty page, or a page starting after the ids asked
//   (older than the venue keeps) — are named by a gap record (reason backfill_failed) in the
//   ring, so the merger publishes its gap at once instead of waiting for its bound.
// * A newest_first plan (OKX trades after a suspect window): the venue pages its fills down
//   from a tradeId, so the fills are collected (history_stream::staged) until a page reaches
//   the first id asked, then written oldest first, less the `skip` newest, and followed by a
//   backfill_done record: ids cannot tell the merger when the fills are complete.
#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <algorithm>
#include <cstdio>
#include <new>
#include <vector>

namespace mdbus::feed {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr unsigned kPageAttempts = 2;
// Log keys after feeder_resync.cpp (19-21, 24), feeder_stale.cpp (22), feeder.cpp (23), feeder_instruments.cpp (25).
constexpr unsigned kKeyBackfillDone = 26;
constexpr unsigned kKeyBackfillFailed = 27;
static_assert(kKeyBackfillFailed < log_limiter::kKeys);

const char* channel_name(channel c) noexcept { return std::string_view(to_string(c)).data(); }

/// A window's fills are written: give their room back.
void release(std::vector<trade_record>& v) noexcept { std::vector<trade_record>().swap(v); }

}  // namespace

void feeder::build_backfill_table() {
  for (std::size_t si = 0; si < venue_.symbols.size(); ++si) {
    for (const auto& ch : venue_.channels) {
      if (!venue_.carries(venue_.symbols[si], ch.id)) continue;
      const backfill_plan plan = adapter_->backfill_plan_for(ch.id);
      if (!plan.available) continue;
      const std::size_t index = resync_index(si, ch.id);
      if (index == kNoResyncSlot) continue;  // build_resync_table says so for books; trades simply get no backfill
      if (std::any_of(histories_.begin(), histories_.end(), [&](const history_stream& h) { return h.index == index; }))
        continue;
      history_stream h;
      h.sub = {ch.id, venue_.symbols[si], ch.variant};
      h.plan = plan;
      h.index = index;
      histories_.push_back(std::move(h));
    }
  }
}

/// On every control poll: one seqlock read per trade stream; no allocation but a window
/// backfill's fill buffer when its request starts.
void feeder::poll_backfill(std::int64_t now) noexcept {
  (void)now;
  if (!control_.valid() || intent_ == intent::stopping) return;
  for (history_stream& t : histories_) {
    const backfill_request q = control_.backfill(t.index);
    if (q.generation <= t.generation) continue;  // nothing new (or another block's count: wait for it to move)
    t.generation = q.generation;
    bump(status_.fields().backfill_requests);
    if (q.to < q.from) continue;  // nothing to fetch
    // The newest request names the merger's current hole: it replaces one under way (the answer
    // of a page in flight for other ids is dropped when it comes: on_backfill_done).
    t.active = true;
    t.from = q.from;
    t.to = q.to;
    t.skip = q.skip;
    t.cursor = t.plan.newest_first ? q.to + 1 : q.from;  // newest_first: the page below the cursor
    t.staged.clear();
    if (t.plan.newest_first) {
      try {
        t.staged.reserve(kWindowFills);
      } catch (const std::bad_alloc&) {  // no room for the fills: the merger's bound gives the gap
        t.active = false;
        note_error("backfill %s %s: no memory for %zu fills", channel_name(t.sub.ch), t.sub.symbol.c_str(), kWindowFills);
      }
    }
    t.attempt = 0;
    t.at = 0;
  }
}

void feeder::advance_backfills(std::int64_t now) noexcept {
  if (histories_.empty()) return;
  if (books_.empty() && rest_) rest_->check_deadlines(now);  // advance_resyncs does it when there are books
  if (intent_ == intent::stopping) return;
  for (history_stream& t : histories_)
    if (t.active && !t.fetching && now >= t.at) start_backfill_page(t, now);
}

void feeder::start_backfill_page(history_stream& t, std::int64_t now) noexcept {
  const std::size_t lane = rest_->free_lane();
  if (lane >= rest_->lanes()) return;  // lanes busy: next tick
  if (now < rest_not_before_) return;
  if (const budget_decision d = budget_.try_rest(t.plan.rest_cost); !d.granted()) {
    rest_not_before_ = now + std::max<std::int64_t>(d.retry_in_ns, kMs);
    bump(status_.fields().rest_deferrals);
    return;
  }
  const std::uint64_t want = t.plan.newest_first ? t.plan.max_rows : t.to - t.cursor + 1;
  std::string path;
  try {
    path = adapter_->backfill_path(t.sub, t.cursor, static_cast<std::size_t>(std::min<std::uint64_t>(want, t.plan.max_rows)));
  } catch (const std::exception& e) {  // cannot happen for a channel whose plan is available
    t.active = false;
    if (t.plan.newest_first)
      finish_window_backfill(t, e.what());
    else
      write_backfill_gap(t, t.cursor, t.to + 1, e.what());
    return;
  }
  bool started = false;
  try {
    started = rest_->get(lane, rest_target_, path, now + venue_.policy.connect_timeout_ms * kMs);
  } catch (const std::exception&) {  // allocation failure inside lws's request set-up
  }
  if (!started) {
    backfill_page_failed(t, rest_->error_text(), now);
    return;
  }
  t.fetching = true;
  t.page_from = t.cursor;
  lane_stream_[lane] = kHistoryOwner + static_cast<std::size_t>(&t - histories_.data());
}

void feeder::on_backfill_done(history_stream& t, const rest_result& r) noexcept {
  t.fetching = false;
  const std::int64_t now = mono_ns();
  // A newer request replaced the one this page was for: its answer says nothing about the new
  // ids (its trades, if any, were not written: the next page starts from the new cursor).
  if (!t.active || t.page_from != t.cursor) return;
  char why[kLastErrorCapacity];
  if (!r.complete) {
    std::snprintf(why, sizeof why, "%.*s", static_cast<int>(r.error.size()), r.error.data());
    backfill_page_failed(t, why, now);
    return;
  }
  if (r.status != 200) {  // 429 / 418: the budget holds everyone back (on_rest_done); -1121, -1100
    char sample[81];
    log_limiter::sanitize({r.body.data(), r.body.size()}, sample, 80);
    std::snprintf(why, sizeof why, "HTTP %d: %s", r.status, sample);
    backfill_page_failed(t, why, now);
    return;
  }
  backfill_page page;
  if (t.plan.newest_first) {
    on_window_page(t, r, now);
    return;
  }
  const parse_result p = adapter_->parse_backfill(t.sub, r.body, t.cursor, t.to, r.first_byte_ns, sink_, page);
  feeder_status& f = status_.fields();
  if (p.records > 0) {
    bump(f.records, p.records);
    bump(f.backfilled_trades, p.records);
  }
  f.ring_overflows.store(sink_.dropped(), std::memory_order_relaxed);
  if (p.error != parse_error::none) {
    std::snprintf(why, sizeof why, "trade history: %s (%.*s)", std::string_view(to_string(p.error)).data(),
                  static_cast<int>(p.detail.size()), p.detail.data());
    backfill_page_failed(t, why, now);
    return;
  }
  bump(f.backfill_pages);
  t.attempt = 0;
  if (page.rows == 0 || page.last_id < t.cursor) {
    // Nothing at or after the cursor: the venue does not have these ids.
    write_backfill_gap(t, t.cursor, t.to + 1, "the venue's history has none of them");
    t.active = false;
    return;
  }
  if (page.first_id > t.cursor) {
    // The history starts after the cursor: older than the venue keeps. The gap goes into the
    // ring first; the trades the venue does keep come with the next page, from its first id.
    write_backfill_gap(t, t.cursor, std::min(page.first_id, t.to + 1), "older than the venue's history");
    if (page.first_id > t.to) {
      t.active = false;
      return;
    }
    t.cursor = page.first_id;
    return;  // next page from the next tick
  }
  t.cursor = page.last_id + 1;
  if (t.cursor > t.to) {
    t.active = false;
    log_.log(kKeyBackfillDone, now, "backfill %s %s: ids up to %llu written (%u in the last page)", channel_name(t.sub.ch),
             t.sub.symbol.c_str(), static_cast<unsigned long long>(t.to), page.written);
  }
  // Otherwise the next page from the next tick.
}

void feeder::backfill_page_failed(history_stream& t, const char* why, std::int64_t now) noexcept {
  if (++t.attempt < kPageAttempts) {
    t.at = now + venue_.policy.reconnect_min_ms * kMs;
    log_.log(kKeyBackfillFailed, now, "backfill %s %s: page %s %llu failed: %s; retrying in %lld ms",
             channel_name(t.sub.ch), t.sub.symbol.c_str(), t.plan.newest_first ? "below" : "from",
             static_cast<unsigned long long>(t.cursor), why, static_cast<long long>(venue_.policy.reconnect_min_ms));
    return;
  }
  t.active = false;
  if (t.plan.newest_first)
    finish_window_backfill(t, why);  // what the pages before brought still goes out
  else
    write_backfill_gap(t, t.cursor, t.to + 1, why);
}

/// A page of a newest_first history (OKX fills, newest first): collected until it reaches the
/// first id asked, the history ends, or kWindowFills.
void feeder::on_window_page(history_stream& t, const rest_result& r, std::int64_t now) noexcept {
  backfill_page page;
  staging_.rows = &t.staged;
  const std::size_t before = t.staged.size();
  const parse_result p = adapter_->parse_backfill(t.sub, r.body, t.from, t.to, r.first_byte_ns, staging_, page);
  staging_.rows = nullptr;
  char why[kLastErrorCapacity];
  if (p.error != parse_error::none) {
    t.staged.resize(before);  // a page is taken whole or not at all
    std::snprintf(why, sizeof why, "trade history: %s (%.*s)", std::string_view(to_string(p.error)).data(),
                  static_cast<int>(p.detail.size()), p.detail.data());
    backfill_page_failed(t, why, now);
    return;
  }
  bump(status_.fields().backfill_pages);
  t.attempt = 0;
  if (page.rows == 0) {
    t.active = false;
    finish_window_backfill(t, "the venue's history ends there");
    return;
  }
  if (page.first_id <= t.from) {  // down to the first id asked: every fill since is here
    t.active = false;
    finish_window_backfill(t, nullptr);
    return;
  }
  if (t.staged.size() >= kWindowFills) {
    t.active = false;
    finish_window_backfill(t, "more fills than one backfill collects");
    return;
  }
  t.cursor = page.first_id;  // the next page: older than the oldest of this one
}

void feeder::finish_window_backfill(history_stream& t, const char* why) noexcept {
  // staged: newest first. The `skip` newest belong to the trade that ended the window.
  const std::size_t skip = static_cast<std::size_t>(std::min<std::uint64_t>(t.skip, t.staged.size()));
  const std::size_t n = t.staged.size() - skip;
  if (why != nullptr) {
    // The fills below the oldest one fetched are not coming: the gap first, in ring order.
    write_backfill_gap(t, t.from, n > 0 ? t.staged[t.staged.size() - 1].header.seq : t.to + 1, why);
    if (n == 0) {
      release(t.staged);
      return;  // nothing follows: the gap names every id asked
    }
  }
  std::size_t written = 0;
  for (std::size_t i = t.staged.size(); i-- > skip; ++written)
    if (!ring_.try_write(static_cast<std::uint32_t>(record_type::trade), record_bytes(t.staged[i]))) break;
  bump(status_.fields().records, written);
  bump(status_.fields().backfilled_trades, written);
  release(t.staged);
  if (written < n) {
    // A full ring (counted by it): no backfill_done, so the merger's bound gives the gap record.
    note_error("backfill %s %s: ring full after %zu of %zu fills", channel_name(t.sub.ch), t.sub.symbol.c_str(), written, n);
    return;
  }
  write_backfill_record(t, t.from - 1, t.to + 1, gap_reason::backfill_done);  // names the request by its first id
  log_.log(kKeyBackfillDone, mono_ns(), "backfill %s %s: %zu fill(s) written, ids %llu..%llu asked", channel_name(t.sub.ch),
           t.sub.symbol.c_str(), n, static_cast<unsigned long long>(t.from), static_cast<unsigned long long>(t.to));
}

void feeder::write_backfill_gap(history_stream& t, std::uint64_t first_missing, std::uint64_t first_after,
                                const char* why) noexcept {
  bump(status_.fields().backfill_failures);
  log_.log(kKeyBackfillFailed, mono_ns(), "backfill %s %s: ids %llu..%llu not fetched: %s", channel_name(t.sub.ch),
           t.sub.symbol.c_str(), static_cast<unsigned long long>(first_missing),
           static_cast<unsigned long long>(first_after - 1), why);
  note_error("backfill %s %s failed: %s", channel_name(t.sub.ch), t.sub.symbol.c_str(), why);
  write_backfill_record(t, first_missing - 1, first_after, gap_reason::backfill_failed);
}

void feeder::write_backfill_record(const history_stream& t, std::uint64_t last_held, std::uint64_t first_after,
                                   gap_reason reason) noexcept {
  auto g = make_record<gap_record>();
  g.header.venue_id = options_.venue_id;
  g.header.channel_id = t.sub.ch;
  g.header.slot = options_.slot;
  g.header.receive_time_ns = wall_ns();
  (void)g.header.set_symbol(t.sub.symbol);
  g.last_seq_held = last_held;
  g.first_seq_after = first_after;
  g.reason = reason;
  (void)ring_.try_write(static_cast<std::uint32_t>(record_type::gap), record_bytes(g));  // a full ring counts it
}

}  // namespace mdbus::feed
