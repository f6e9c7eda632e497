// Backfill of trade holes (issue 16; arbiter.hpp "Trade streams whose ids reveal holes"): the
// request when a hole outlives the hole-fill window, and a feeder's word that it could not
// fetch. The waiting itself (the bound) is tick()'s; the fetched trades are records like any.
#include "bus/merge/arbiter.hpp"
#include "bus/merge/arbiter_detail.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace mdbus::merge {

using namespace detail;

bool arbiter::try_backfill(stream_state& s, std::int64_t now_ns) noexcept {
  if (options_.backfill_bound_ns <= 0 || s.retired || !s.has_last || s.held.empty()) return false;
  // Only a channel whose venue keeps a history by id (its descriptor says so: venues as data).
  if (venue_of(s.key.c) == venue::unknown || !channel_rule_of(s.key.c).history) return false;
  // The hole runs from the last published id to the lowest held one; ask up to the highest
  // held id, so one request covers every hole behind it (ids the hold already has come again
  // as duplicates).
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max(), highest = 0;
  slot_id ask = slot_id::none;
  for (const held_record& h : s.held) {
    record_view r;
    (void)record_view::parse({s.hold.data() + h.offset, h.size}, r);
    const record_header& hd = r.header();
    // Trades of a stream whose ids count up by one: a hole there is a known list of ids.
    if (hd.type != record_type::trade || rule_for(hd) != sequence_rule::consecutive) return false;
    if (hd.seq < lowest) {
      lowest = hd.seq;
      ask = h.from;  // it delivers the stream now: its feeder is connected
    }
    highest = std::max(highest, hd.seq);
  }
  if (lowest <= s.last + 1) return false;  // no hole in front (cannot be: the record would have been taken)
  const stream_key& k = s.key;
  const auto id = static_cast<std::size_t>(&s - streams_.data());
  if (!out_.request_backfill(k.v, k.c, stream_key_at(id).symbol, s.last + 1, highest - 1, ask, 0)) return false;
  s.backfill_window = false;
  ++s.stats.backfill_requests;
  ++stats_.backfill_requests;
  s.backfill_until_ns = now_ns + options_.backfill_bound_ns;
  s.backfill_from = s.last + 1;
  s.backfill_to = highest - 1;
  next_deadline_ = std::min(next_deadline_, s.backfill_until_ns);
  return true;
}

bool arbiter::await_window_backfill(std::size_t index) noexcept {
  if (index >= used_streams_ || options_.backfill_bound_ns <= 0) return false;
  stream_state& s = streams_[index];
  if (s.retired || !s.has_last || s.carries_deltas || venue_of(s.key.c) == venue::unknown) return false;
  const channel_rule& rule = channel_rule_of(s.key.c);
  if (!rule.history || rule.rule != sequence_rule::increasing) return false;
  s.window_pending = true;
  return true;
}

void arbiter::start_window_backfill(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns) noexcept {
  const record_header& h = r.header();
  // The first trade of the stream's own after the window (a fill of an older request, or a
  // repeat of what was published, is not).
  if (h.type != record_type::trade || (h.flags & kHeaderBackfilled) != 0 || !s.has_last || h.seq <= s.last) return;
  s.window_pending = false;
  if (h.seq == s.last + 1) return;  // no id between: nothing can be missing
  // Its fills are the `count` newest up to its id: the count - 1 below it are not to be fetched.
  const auto t = r.trade();
  const std::uint32_t count = t ? t->trade_count : 0;
  const std::uint64_t skip = count > 1 ? count - 1 : 0;
  const auto id = static_cast<std::size_t>(&s - streams_.data());
  if (!out_.request_backfill(s.key.v, s.key.c, stream_key_at(id).symbol, s.last + 1, h.seq - 1, from, skip)) return;
  ++s.stats.backfill_requests;
  ++stats_.backfill_requests;
  s.backfill_window = true;
  s.backfill_until_ns = now_ns + options_.backfill_bound_ns;
  s.backfill_from = s.last + 1;
  s.backfill_to = h.seq - 1;
  next_deadline_ = std::min(next_deadline_, s.backfill_until_ns);
}

void arbiter::end_window_wait(stream_state& s, std::int64_t now_ns, gap_reason reason, slot_id from) noexcept {
  if (reason != gap_reason::unknown) {
    const std::int64_t oldest = std::min(now_ns, oldest_arrival(s));
    record_header h{};
    h.venue_id = s.key.v;
    h.channel_id = s.key.c;
    std::memcpy(h.symbol, s.key.symbol.data(), kSymbolCapacity);
    publish_gap(s, h, from, s.backfill_to + 1, now_ns - oldest, reason);
  }
  s.backfill_until_ns = 0;
  s.backfill_window = false;
  drain(s, now_ns);
}

void arbiter::feeder_gap(stream_state& s, const record_view& r, std::int64_t now_ns) noexcept {
  const auto g = r.gap();
  if (g && window_wait(s)) {
    // A window's backfill (fills): the feeder says when it is complete, or what it could not fetch.
    // The feeder names the request by its first id (a newer request starts after the trades
    // published since).
    if (g->last_seq_held + 1 != s.backfill_from) return;
    if (g->reason == gap_reason::backfill_done) {
      end_window_wait(s, now_ns, gap_reason::unknown, r.header().slot);
    } else if (g->reason == gap_reason::backfill_failed) {
      if (g->first_seq_after > s.backfill_to) {  // none of the fills: the gap, then the held trades
        end_window_wait(s, now_ns, gap_reason::backfill_failed, r.header().slot);
        return;
      }
      // The venue keeps the fills from first_seq_after on (the older ones are gone, or their
      // pages failed): the gap for those goes out now, the fills follow, then backfill_done.
      publish_gap(s, r.header(), r.header().slot, g->first_seq_after, now_ns - std::min(now_ns, oldest_arrival(s)),
                  gap_reason::backfill_failed);
    }
    return;
  }
  // Only a backfill the stream still waits for is the feeder's to end.
  if (!g || g->reason != gap_reason::backfill_failed || s.backfill_until_ns == 0 || s.held.empty()) return;
  // An earlier request's failure (the feeder names the ids from its cursor on): not this one's.
  if (g->last_seq_held + 1 < s.backfill_from) return;
  // The venue has nothing before g->first_seq_after (the first id it still keeps, or past
  // what was asked): the gap is published up to there, and what the venue does have is still
  // to come through the ring.
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
  std::int64_t oldest = kNever;
  for (const held_record& h : s.held) {
    record_view hr;
    (void)record_view::parse({s.hold.data() + h.offset, h.size}, hr);
    lowest = std::min(lowest, first_covered(hr.header(), rule_for(hr.header())));
    oldest = std::min(oldest, h.arrived_ns);
  }
  if (g->first_seq_after <= s.last + 1) return;  // nothing missing before what it has
  if (g->first_seq_after >= lowest) {
    force_oldest_hole(s, now_ns, gap_reason::backfill_failed);
    return;
  }
  publish_gap(s, r.header(), r.header().slot, g->first_seq_after, now_ns - oldest, gap_reason::backfill_failed);
  s.last = g->first_seq_after - 1;  // the stream goes on from the first id the venue keeps
  drain(s, now_ns);
}

}  // namespace mdbus::merge
