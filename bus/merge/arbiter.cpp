#include "bus/merge/arbiter.hpp"
#include "bus/merge/arbiter_detail.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace mdbus::merge {
using namespace detail;

arbiter::arbiter(const arbiter_options& options, merge_output& out)
    : options_(options), out_(out), streams_(options.max_streams), next_deadline_(kNever) {
  index_.reserve(options.max_streams);
  holding_.reserve(options.max_streams);
  awaiting_.reserve(options.max_streams);
  for (auto& s : streams_) {
    s.hold.allocate(options.hold_bytes_per_stream);
    s.held.reserve(options.hold_records_per_stream);
    s.recent.assign(options.content_window, 0);
  }
}

std::size_t arbiter::add_stream(venue v, channel c, std::string_view symbol, std::uint32_t group) {
  record_header h{};
  h.venue_id = v;
  h.channel_id = c;
  h.set_symbol(symbol);
  stream_state* s = find_or_add(h);
  if (s == nullptr) return SIZE_MAX;
  s->group = group;
  if (s->retired) {  // configured again: a book still waiting asks at its next due time
    s->retired = false;
    if (s->awaiting_snapshot) next_deadline_ = std::min(next_deadline_, s->resync_due_ns);
  }
  return static_cast<std::size_t>(s - streams_.data());
}

void arbiter::reserve_streams(std::size_t n) {
  if (n <= streams_.size()) return;
  const std::size_t old = streams_.size();
  // Indexes, not pointers, name streams everywhere (index_, holding_, awaiting_): growing the
  // table moves the states, which is safe between calls.
  streams_.resize(n);
  for (std::size_t i = old; i < n; ++i) {
    stream_state& s = streams_[i];
    s.hold.allocate(options_.hold_bytes_per_stream);
    s.held.reserve(options_.hold_records_per_stream);
    s.recent.assign(options_.content_window, 0);
  }
  index_.reserve(n);
  holding_.reserve(n);
  awaiting_.reserve(n);
  options_.max_streams = n;
}

std::size_t arbiter::retire_symbol(venue v, std::string_view symbol) noexcept {
  std::size_t touched = 0;
  for (std::size_t i = 0; i < used_streams_; ++i)
    if (streams_[i].key.v == v && stream_key_at(i).symbol == symbol) {
      streams_[i].retired = true;
      ++touched;
    }
  update_deadline();
  return touched;
}

stream_id arbiter::stream_key_at(std::size_t index) const noexcept {
  const stream_key& k = streams_[index].key;
  const void* nul = std::memchr(k.symbol.data(), 0, k.symbol.size());
  const std::size_t n = nul ? static_cast<std::size_t>(static_cast<const char*>(nul) - k.symbol.data()) : k.symbol.size();
  return {k.v, k.c, {k.symbol.data(), n}};
}

const stream_stats* arbiter::stream(venue v, channel c, std::string_view symbol) const noexcept {
  stream_key k{v, c, {}};
  std::memcpy(k.symbol.data(), symbol.data(), std::min(symbol.size(), k.symbol.size()));
  const auto it = index_.find(k);
  return it == index_.end() ? nullptr : &streams_[it->second].stats;
}

arbiter::stream_state* arbiter::find_or_add(const record_header& h) noexcept {
  const stream_key k = stream_key::of(h);
  if (const auto it = index_.find(k); it != index_.end()) return &streams_[it->second];
  if (used_streams_ == streams_.size()) return nullptr;
  // reserve()d to max_streams, so this insert does not rehash; its node is the one
  // allocation per new stream (configured streams are added up front by add_stream()).
  index_.emplace(k, static_cast<std::uint32_t>(used_streams_));
  streams_[used_streams_].key = k;
  return &streams_[used_streams_++];
}

std::uint64_t arbiter::race_key(const record_view& r) const noexcept {
  return rule_for(r.header()) == sequence_rule::content ? record_content_hash(r) : r.header().seq;
}

arbiter::verdict arbiter::judge(stream_state& s, const record_view& r) const noexcept {
  const record_header& h = r.header();
  const sequence_rule rule = rule_for(h);
  if (rule == sequence_rule::content) {
    const std::uint64_t hash = record_content_hash(r);
    return std::find(s.recent.begin(), s.recent.end(), hash) != s.recent.end() ? verdict::duplicate : verdict::next;
  }
  if (h.type == record_type::book_snapshot) {
    // A snapshot stands on its own. It starts the stream, or ends the wait after a gap.
    if (!s.has_last || s.awaiting_snapshot) return verdict::rebase;
    if (h.seq <= s.last) return verdict::duplicate;
    // A REST snapshot answers a resync request; when the stream is no longer waiting, another
    // slot's snapshot answered it first and the stream is continuous: this one adds nothing.
    if ((h.flags & kHeaderFromRest) != 0 && s.carries_deltas) return verdict::duplicate;
    // A stream of whole snapshots (partial depth: books5, depth20): each is simply the next.
    if (!s.carries_deltas) return verdict::next;
    // Ahead of a continuous stream: the slot that sent it (re)subscribed while its partner
    // is a little behind. Held like a hole: when the partner catches up it is a duplicate;
    // when the window passes, a gap record and the snapshot re-base the stream. A snapshot
    // split into parts cannot wait part by part: it re-bases at once.
    return part_flags(r) == (kBookFirstPart | kBookLastPart) ? verdict::hole : verdict::rebase;
  }
  if (s.awaiting_snapshot && h.type == record_type::book_delta) return verdict::hole;
  if (!s.has_last) return verdict::next;  // the first record of a stream sets its start
  switch (rule) {
    case sequence_rule::consecutive:
      if (h.seq <= s.last) return verdict::duplicate;
      return h.seq == s.last + 1 ? verdict::next : verdict::hole;
    case sequence_rule::range:
      if (h.seq <= s.last) return verdict::duplicate;
      // U <= last + 1 <= u: the event covers the next id (the first event after a REST
      // snapshot may start before it).
      return h.first_seq <= s.last + 1 ? verdict::next : verdict::hole;
    case sequence_rule::chained: {
      if (s.joining && h.type == record_type::book_delta) {
        const join_rule join = join_rule_for_channel(h.channel_id);
        if (join == join_rule::straddles) {
          // The first update after a snapshot (venue_descriptor.hpp, join_rule::straddles):
          // older updates are covered by the snapshot; the first applied one straddles its seqId.
          if (h.seq <= s.last) return verdict::duplicate;
          return h.prev_seq <= static_cast<std::int64_t>(s.last) ? verdict::next : verdict::hole;
        }
        if (join == join_rule::spans && (h.flags & kHeaderHasFirstSeq) != 0) {
          // Binance USD-M (join_rule::spans): events with u <= lastUpdateId are in the
          // snapshot; the first one after it has U <= lastUpdateId < u, whatever its pu (the
          // event before it may have ended well before the snapshot); or it chains on the
          // snapshot's id itself (pu == lastUpdateId, when the snapshot ended at an event's u).
          if (h.seq <= s.last) return verdict::duplicate;
          const bool spans = h.first_seq <= s.last;
          const bool follows = h.prev_seq >= 0 && static_cast<std::uint64_t>(h.prev_seq) == s.last;
          return spans || follows ? verdict::next : verdict::hole;
        }
      }
      const bool follows = h.prev_seq >= 0 && static_cast<std::uint64_t>(h.prev_seq) == s.last;
      // OKX maintenance resets seqId below prevSeqId; the message still names our last.
      if (follows && h.seq < s.last) return verdict::reset;
      if (h.seq <= s.last) return verdict::duplicate;
      return follows ? verdict::next : verdict::hole;
    }
    case sequence_rule::increasing:
    case sequence_rule::content: break;
  }
  return h.seq <= s.last ? verdict::duplicate : verdict::next;
}

arbiter::verdict arbiter::judge_from(stream_state& s, const record_view& r, slot_id from) const noexcept {
  const verdict v = judge(s, r);
  if (v != verdict::next || rule_for(r.header()) != sequence_rule::increasing) return v;
  if (window_wait(s) && r.header().type == record_type::trade) {
    // A suspect window's backfill is under way: its fills go out as they come (ids below the
    // held trade), the stream's own trades wait behind them.
    return (r.header().flags & kHeaderBackfilled) != 0 ? verdict::next : verdict::hole;
  }
  // Ahead of the stream from a slot not yet in step, while the partner is: wait for the
  // partner (it may still deliver older records this slot never saw).
  const std::size_t me = slot_index(from);
  return !s.in_step[me] && s.in_step[1 - me] ? verdict::hole : v;
}

void arbiter::slot_reset(venue v, slot_id slot, std::uint32_t group) noexcept {
  if (slot != slot_id::a && slot != slot_id::b) return;
  for (std::size_t i = 0; i < used_streams_; ++i)
    if (streams_[i].key.v == v && streams_[i].group == group) streams_[i].in_step[slot_index(slot)] = false;
}

void arbiter::accept(stream_state& s, const record_view& r, slot_id from, verdict v) noexcept {
  const record_header& h = r.header();
  if (rule_for(h) == sequence_rule::content) {
    if (!s.recent.empty()) {
      s.recent[s.recent_next] = record_content_hash(r);
      s.recent_next = (s.recent_next + 1) % s.recent.size();
    }
  } else {
    if (v == verdict::reset) ++s.stats.resets;
    if (v == verdict::rebase && s.has_last) ++s.stats.rebases;
    s.has_last = true;
    s.last = h.seq;
  }
  if (h.type == record_type::book_delta) s.carries_deltas = true;
  if (is_book(r)) s.joining = h.type == record_type::book_snapshot;
  if (h.type == record_type::book_snapshot && s.awaiting_snapshot) {
    s.awaiting_snapshot = false;
    const auto id = static_cast<std::uint32_t>(&s - streams_.data());
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), id));
  }
  const std::uint8_t parts = part_flags(r);
  if (is_book(r) && (parts & kBookLastPart) == 0) s.parts[slot_index(from)] = {true, true, h.seq};
  s.in_step[slot_index(from)] = true;
  if ((h.flags & kHeaderBackfilled) != 0) {
    ++s.stats.backfilled;
    ++stats_.backfilled;
  }
  // Past what the pending backfill asked for: whatever is still held waits its own window
  // (and its own request), not this request's bound.
  if (s.backfill_until_ns != 0 && s.has_last && s.last >= s.backfill_to) s.backfill_until_ns = 0;
  s.race[s.race_next] = {race_key(r), h.receive_time_ns, from};
  s.race_next = (s.race_next + 1) % kRaceMemory;
  ++s.stats.published[slot_index(from)];
  ++stats_.published;
  out_.publish(r.bytes(), from);
}

void arbiter::duplicate(stream_state& s, const record_view& r, slot_id from) noexcept {
  const record_header& hd = r.header();
  if ((hd.flags & kHeaderBackfilled) != 0 && hd.seq >= s.late_from && hd.seq <= s.late_to) {
    // A trade the venue's history brought after its gap record went out: too late to publish.
    ++s.stats.backfill_late;
    ++stats_.backfill_late;
    return;
  }
  s.in_step[slot_index(from)] = true;  // it delivered what was published: in step from here
  ++s.stats.duplicates[slot_index(from)];
  ++stats_.duplicates;
  const std::uint64_t key = race_key(r);
  for (const published_mark& m : s.race) {
    if (m.winner == slot_id::none || m.key != key) continue;
    if (m.winner == from) return;  // a slot's own repeat (venue duplicate): no race
    const std::int64_t lead = std::max<std::int64_t>(0, r.header().receive_time_ns - m.receive_ns);
    race_stats& rs = s.stats.lead[slot_index(m.winner)];
    ++rs.samples;
    rs.lead_sum_ns += lead;
    rs.lead_max_ns = std::max(rs.lead_max_ns, lead);
    ++rs.lead_hist[lead_bucket(lead)];
    return;
  }
}

void arbiter::offer(const record_view& r, slot_id from, std::int64_t now_ns, std::uint64_t ring_pos,
                    std::uint32_t group) noexcept {
  ++stats_.offered;
  if (from != slot_id::a && from != slot_id::b) {
    ++stats_.bad_slot;
    return;
  }
  stream_state* sp = find_or_add(r.header());
  if (sp == nullptr) {
    ++stats_.no_stream_room;
    return;
  }
  stream_state& s = *sp;
  s.group = group;  // one group's slot pair carries a stream (a primed or unconfigured one learns it here)
  if (r.header().type == record_type::gap) {
    // Not market data: a feeder's word about a backfill it could not complete.
    ++stats_.feeder_gaps;
    feeder_gap(s, r, now_ns);
    return;
  }
  const std::uint8_t parts = part_flags(r);
  if ((parts & kBookFirstPart) == 0) {
    // A later part of a split snapshot follows its first part's verdict; the other slot's
    // parts of the same snapshot are duplicates.
    auto& open = s.parts[slot_index(from)];
    const bool ours = open.open && r.header().seq == open.seq;
    if (ours && (parts & kBookLastPart) != 0) open.open = false;
    if (ours && open.published) {
      ++s.stats.published[slot_index(from)];
      ++stats_.published;
      out_.publish(r.bytes(), from);
    } else {
      duplicate(s, r, from);
    }
    return;
  }
  // A book stream's first record is a delta (Binance diff depth has no snapshot in the
  // stream): nothing to apply it to, so its deltas wait for a snapshot from the start.
  if (!s.has_last && !s.awaiting_snapshot && r.header().type == record_type::book_delta) start_awaiting(s, now_ns, from);
  if (s.awaiting_snapshot && from == s.resync_ask) s.ask_delivered = true;
  if (s.window_pending && s.backfill_until_ns == 0) start_window_backfill(s, r, from, now_ns);
  const verdict v = judge_from(s, r, from);
  switch (v) {
    case verdict::duplicate:
      // A split snapshot's later parts are duplicates too.
      if (is_book(r) && (parts & kBookLastPart) == 0) s.parts[slot_index(from)] = {true, false, r.header().seq};
      duplicate(s, r, from);
      return;
    case verdict::hole:
      hold(s, r, from, now_ns, ring_pos);
      return;
    case verdict::next:
    case verdict::reset:
    case verdict::rebase:
      accept(s, r, from, v);
      if (!s.held.empty()) drain(s, now_ns);
      return;
  }
}

void arbiter::start_awaiting(stream_state& s, std::int64_t now_ns, slot_id ask) noexcept {
  s.resync_ask = ask;
  s.ask_delivered = false;
  s.awaiting_since_ns = now_ns;
  s.carries_deltas = true;
  if (!s.awaiting_snapshot) {
    s.awaiting_snapshot = true;
    awaiting_.push_back(static_cast<std::uint32_t>(&s - streams_.data()));
  }
  // Held deltas now wait for the snapshot, not for the other slot: their ring positions
  // need not survive a restart (the snapshot supersedes them).
  for (auto& h : s.held) h.pinned = false;
  if (s.retired) return;  // its symbol left the config: no feeder to ask
  ++s.stats.resync_requests;
  ++stats_.resync_requests;
  s.resync_due_ns = now_ns + options_.resync_retry_ns;
  next_deadline_ = std::min(next_deadline_, s.resync_due_ns);
  const stream_key& k = s.key;
  out_.request_resync(k.v, k.c, stream_key_at(static_cast<std::size_t>(&s - streams_.data())).symbol, ask);
}

void arbiter::publish_gap(stream_state& s, const record_header& h, slot_id from, std::uint64_t first_after,
                          std::int64_t held_ns, gap_reason reason) noexcept {
  gap_record g = make_record<gap_record>();
  g.header.venue_id = h.venue_id;
  g.header.channel_id = h.channel_id;
  std::memcpy(g.header.symbol, h.symbol, kSymbolCapacity);
  g.header.slot = from;
  g.last_seq_held = s.has_last ? s.last : 0;
  g.first_seq_after = first_after;
  g.held_ns = held_ns;
  g.reason = reason;
  if (s.backfill_until_ns != 0) {
    // What the backfill asked for did not (all) come: anything of it arriving later is late.
    s.late_from = g.last_seq_held + 1;
    s.late_to = first_after - 1;
    ++s.stats.backfill_gaps;
    ++stats_.backfill_gaps;
  }
  ++s.stats.gaps;
  ++stats_.gaps;
  out_.publish_gap(g);
}

void arbiter::hold(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns, std::uint64_t ring_pos) noexcept {
  const auto bytes = r.bytes();
  if (bytes.size() > s.hold.size() || s.held.capacity() == 0) {
    // Larger than the whole hold buffer: no waiting possible.
    ++stats_.hold_overflows;
    if (s.awaiting_snapshot) {  // a delta while waiting for the snapshot: the snapshot supersedes it
      ++s.stats.resync_dropped;
      ++stats_.resync_dropped;
      return;
    }
    publish_gap(s, r.header(), from, first_covered(r.header(), rule_for(r.header())), 0);
    if (r.header().type == record_type::book_delta) {
      start_awaiting(s, now_ns);
      ++s.stats.resync_dropped;
      ++stats_.resync_dropped;
      return;
    }
    accept(s, r, from, r.header().type == record_type::book_snapshot ? verdict::rebase : verdict::next);
    if (!s.held.empty()) drain(s, now_ns);
    return;
  }
  while (s.hold_used + bytes.size() > s.hold.size() || s.held.size() == s.held.capacity()) {
    if (s.awaiting_snapshot) {
      // Waiting for a snapshot: keep the newest deltas (the snapshot will be newer than the oldest).
      ++s.stats.resync_dropped;
      ++stats_.resync_dropped;
      remove_held(s, 0);
      continue;
    }
    ++stats_.hold_overflows;
    force_oldest_hole(s, now_ns);
  }
  // force_oldest_hole may have closed the hole this record was waiting on.
  const verdict v = judge_from(s, r, from);
  if (v != verdict::hole) {
    if (v == verdict::duplicate) {
      duplicate(s, r, from);
    } else {
      accept(s, r, from, v);
      if (!s.held.empty()) drain(s, now_ns);
    }
    return;
  }
  if (s.held.empty()) holding_.push_back(static_cast<std::uint32_t>(&s - streams_.data()));
  std::memcpy(s.hold.data() + s.hold_used, bytes.data(), bytes.size());
  s.held.push_back({static_cast<std::uint32_t>(s.hold_used), static_cast<std::uint32_t>(bytes.size()), from,
                    !s.awaiting_snapshot, now_ns, ring_pos});
  s.hold_used += bytes.size();
  if (!s.awaiting_snapshot) next_deadline_ = std::min(next_deadline_, now_ns + options_.hole_fill_window_ns);
}

void arbiter::remove_held(stream_state& s, std::size_t index) noexcept {
  const held_record gone = s.held[index];
  const std::size_t tail = s.hold_used - (gone.offset + gone.size);
  std::memmove(s.hold.data() + gone.offset, s.hold.data() + gone.offset + gone.size, tail);
  s.hold_used -= gone.size;
  s.held.erase(s.held.begin() + static_cast<std::ptrdiff_t>(index));
  for (std::size_t i = index; i < s.held.size(); ++i) s.held[i].offset -= gone.size;
  if (s.held.empty()) {
    const auto id = static_cast<std::uint32_t>(&s - streams_.data());
    holding_.erase(std::find(holding_.begin(), holding_.end(), id));
    s.backfill_until_ns = 0;  // nothing waits behind a hole any more
  }
}

void arbiter::drain(stream_state& s, std::int64_t now_ns) noexcept {
  const bool was_awaiting = s.awaiting_snapshot;
  bool moved = true;
  while (moved && !s.held.empty()) {
    moved = false;
    // While waiting for a snapshot only a snapshot moves; look for one first (the newest
    // would do as well: it is the first found that re-bases, the rest are then judged).
    for (std::size_t i = 0; i < s.held.size(); ++i) {
      record_view r;
      const held_record h = s.held[i];
      (void)record_view::parse({s.hold.data() + h.offset, h.size}, r);  // validated before it was held
      const verdict v = judge_from(s, r, h.from);
      if (v == verdict::hole) continue;
      if (v == verdict::duplicate) {
        duplicate(s, r, h.from);
      } else {
        ++s.stats.holes_filled;
        ++stats_.holes_filled;
        accept(s, r, h.from, v);
      }
      remove_held(s, i);
      moved = true;
      break;
    }
  }
  if (was_awaiting && !s.awaiting_snapshot) {
    // The snapshot came: what is still held waits for the other slot from now on, a full
    // window, as any hole.
    for (auto& h : s.held) {
      h.arrived_ns = now_ns;
      h.pinned = false;  // their ring positions were released while they waited for the snapshot
    }
  }
  update_deadline();
}

void arbiter::force_oldest_hole(stream_state& s, std::int64_t now_ns, gap_reason reason) noexcept {
  if (window_wait(s)) {  // the bound, or a full hold: the window's fills did not all come
    end_window_wait(s, now_ns, reason == gap_reason::hole_timeout ? gap_reason::backfill_timeout : reason,
                    s.held.front().from);
    return;
  }
  // Close the smallest hole: the held record that starts lowest.
  std::size_t pick = 0;
  std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
  for (std::size_t i = 0; i < s.held.size(); ++i) {
    record_view r;
    (void)record_view::parse({s.hold.data() + s.held[i].offset, s.held[i].size}, r);
    const std::uint64_t f = first_covered(r.header(), rule_for(r.header()));
    if (f < lowest) {
      lowest = f;
      pick = i;
    }
  }
  const held_record h = s.held[pick];
  record_view r;
  (void)record_view::parse({s.hold.data() + h.offset, h.size}, r);
  if (rule_for(r.header()) == sequence_rule::increasing && !s.carries_deltas) {
    // A joining slot's record the partner did not match in time: no hole is detectable on
    // such a stream, so no gap either; the partner is no longer the one to wait for.
    s.in_step[1 - slot_index(h.from)] = false;
    accept(s, r, h.from, verdict::next);
    remove_held(s, pick);
    drain(s, now_ns);
    return;
  }
  publish_gap(s, r.header(), h.from, lowest, now_ns - h.arrived_ns, reason);
  s.backfill_until_ns = 0;  // the hole it was asked for is closed by the gap record
  if (r.header().type == record_type::book_delta) {
    // A book that lost deltas is only whole again from a snapshot: its deltas wait for one.
    start_awaiting(s, now_ns);
    drain(s, now_ns);  // a snapshot already held re-bases now
    return;
  }
  accept(s, r, h.from, r.header().type == record_type::book_snapshot ? verdict::rebase : verdict::next);
  remove_held(s, pick);
  drain(s, now_ns);
}

void arbiter::tick(std::int64_t now_ns) noexcept {
  if (now_ns < next_deadline_) return;
  // holding_ changes while we force holes: walk it by index from the back.
  for (std::size_t i = holding_.size(); i-- > 0;) {
    if (i >= holding_.size()) continue;
    stream_state& s = streams_[holding_[i]];
    while (!s.held.empty() && !s.awaiting_snapshot) {
      if (s.backfill_until_ns != 0) {  // waiting for backfill: until its bound
        if (now_ns < s.backfill_until_ns) break;
        force_oldest_hole(s, now_ns, gap_reason::backfill_timeout);
        continue;
      }
      if (oldest_arrival(s) + options_.hole_fill_window_ns > now_ns) break;
      if (try_backfill(s, now_ns)) break;
      force_oldest_hole(s, now_ns);
    }
  }
  for (const std::uint32_t id : awaiting_) {
    stream_state& s = streams_[id];
    if (s.retired || s.resync_due_ns > now_ns) continue;
    ++s.stats.resync_requests;
    ++stats_.resync_requests;
    s.resync_due_ns = now_ns + options_.resync_retry_ns;
    // Ask the same slot again while it keeps delivering this stream: its feeder is there, and
    // its snapshot is likely queued behind the venue's REST budget (a start of hundreds of
    // books), where asking the other too would fetch the book twice. A slot gone quiet, or
    // one still without a snapshot after kAskOneMaxNs (a feeder alive but failing its
    // fetches), makes every later request ask both.
    if (!s.ask_delivered || now_ns - s.awaiting_since_ns >= kAskOneMaxNs) s.resync_ask = slot_id::none;
    s.ask_delivered = false;
    const slot_id ask = s.resync_ask;
    out_.request_resync(s.key.v, s.key.c, stream_key_at(id).symbol, ask);
  }
  update_deadline();
}

std::int64_t arbiter::oldest_arrival(const stream_state& s) noexcept {
  std::int64_t oldest = kNever;
  for (const held_record& h : s.held) oldest = std::min(oldest, h.arrived_ns);
  return oldest;
}

void arbiter::update_deadline() noexcept {
  std::int64_t d = kNever;
  for (const std::uint32_t id : holding_) {
    const stream_state& s = streams_[id];
    if (s.awaiting_snapshot) continue;
    if (s.backfill_until_ns != 0) {
      d = std::min(d, s.backfill_until_ns);
      continue;
    }
    for (const auto& h : s.held) d = std::min(d, h.arrived_ns + options_.hole_fill_window_ns);
  }
  for (const std::uint32_t id : awaiting_)
    if (!streams_[id].retired) d = std::min(d, streams_[id].resync_due_ns);
  next_deadline_ = d;
}

std::uint64_t arbiter::oldest_pinned(venue v, slot_id slot, std::uint32_t group) const noexcept {
  std::uint64_t p = std::numeric_limits<std::uint64_t>::max();
  for (const std::uint32_t id : holding_) {
    if (streams_[id].key.v != v || streams_[id].group != group) continue;
    for (const auto& h : streams_[id].held)
      if (h.pinned && h.from == slot) p = std::min(p, h.ring_pos);
  }
  return p;
}

}  // namespace mdbus::merge
