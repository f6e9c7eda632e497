// Backfill of trade holes (issue 16; arbiter.hpp "Trade streams whose ids reveal holes"): the
// request when a hole outlives the hole-fill window, and a feeder's word that it could not
// fetch. The waiting itself (the bound) is tick()'s; the fetched trades are records like any.
#include "bus/merge/arbiter.hpp"
#include "bus/merge/arbiter_detail.hpp"

#include <algorithm>
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
  if (!out_.request_backfill(k.v, k.c, stream_key_at(id).symbol, s.last + 1, highest - 1, ask)) return false;
  ++s.stats.backfill_requests;
  ++stats_.backfill_requests;
  s.backfill_until_ns = now_ns + options_.backfill_bound_ns;
  s.backfill_from = s.last + 1;
  s.backfill_to = highest - 1;
  next_deadline_ = std::min(next_deadline_, s.backfill_until_ns);
  return true;
}

void arbiter::feeder_gap(stream_state& s, const record_view& r, std::int64_t now_ns) noexcept {
  const auto g = r.gap();
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
