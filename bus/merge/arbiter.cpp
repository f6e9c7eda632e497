#include "bus/merge/arbiter.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace mdbus::merge {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::size_t slot_index(slot_id s) noexcept { return s == slot_id::b ? 1 : 0; }

bool is_book(const record_view& r) noexcept {
  return r.header().type == record_type::book_delta || r.header().type == record_type::book_snapshot;
}

/// Book part flags of a book record; a non-book record is one whole part.
std::uint8_t part_flags(const record_view& r) noexcept {
  if (const auto b = r.book()) return b->fixed().book_flags & (kBookFirstPart | kBookLastPart);
  return kBookFirstPart | kBookLastPart;
}

/// The first sequence a record carries: what a gap record reports as "first after the hole",
/// and the order in which held holes are closed. Binance depth: U; everything else: its id.
std::uint64_t first_covered(const record_header& h, sequence_rule rule) noexcept {
  return rule == sequence_rule::range ? h.first_seq : h.seq;
}

}  // namespace

std::size_t arbiter::key_hash::operator()(const stream_key& k) const noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  mix(static_cast<unsigned char>(k.v));
  mix(static_cast<unsigned char>(k.c));
  for (char c : k.symbol) mix(static_cast<unsigned char>(c));
  return static_cast<std::size_t>(h);
}

arbiter::arbiter(const arbiter_options& options, merge_output& out)
    : options_(options), out_(out), streams_(options.max_streams), next_deadline_(kNever) {
  index_.reserve(options.max_streams);
  holding_.reserve(options.max_streams);
  for (auto& s : streams_) {
    s.hold.resize(options.hold_bytes_per_stream);
    s.held.reserve(options.hold_records_per_stream);
    s.recent.assign(options.content_window, 0);
  }
}

const stream_stats* arbiter::stream(venue v, channel c, std::string_view symbol) const noexcept {
  stream_key k{v, c, {}};
  std::memcpy(k.symbol.data(), symbol.data(), std::min(symbol.size(), k.symbol.size()));
  const auto it = index_.find(k);
  return it == index_.end() ? nullptr : &streams_[it->second].stats;
}

arbiter::stream_state* arbiter::find_or_add(const record_header& h) noexcept {
  stream_key k{h.venue_id, h.channel_id, {}};
  std::memcpy(k.symbol.data(), h.symbol, kSymbolCapacity);
  if (const auto it = index_.find(k); it != index_.end()) return &streams_[it->second];
  if (used_streams_ == streams_.size()) return nullptr;
  // reserve()d to max_streams, so this insert does not rehash; its node is the one
  // allocation per new stream (streams come from config, not from the message rate).
  index_.emplace(k, static_cast<std::uint32_t>(used_streams_));
  return &streams_[used_streams_++];
}

std::uint64_t arbiter::content_hash(const record_view& r) const noexcept {
  // Both slots' copies of one venue message differ only in receive time and slot, which
  // live in the header: hash the event time and everything after the header.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](const unsigned char* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 0x100000001b3ULL;
    }
  };
  const std::int64_t t = r.header().venue_time_ns;
  mix(reinterpret_cast<const unsigned char*>(&t), sizeof t);
  const auto bytes = r.bytes();
  mix(reinterpret_cast<const unsigned char*>(bytes.data()) + sizeof(record_header), bytes.size() - sizeof(record_header));
  return h == 0 ? 1 : h;  // 0 marks an empty slot of the window
}

arbiter::verdict arbiter::judge(stream_state& s, const record_view& r) const noexcept {
  const record_header& h = r.header();
  const sequence_rule rule = rule_for(h);
  if (rule == sequence_rule::content) {
    const std::uint64_t hash = content_hash(r);
    return std::find(s.recent.begin(), s.recent.end(), hash) != s.recent.end() ? verdict::duplicate : verdict::next;
  }
  if (h.type == record_type::book_snapshot) {
    // A snapshot stands on its own: it re-bases the stream (after a hole, or when a slot
    // resubscribes) unless the stream is already at or past it.
    return s.has_last && h.seq <= s.last ? verdict::duplicate : verdict::rebase;
  }
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

void arbiter::accept(stream_state& s, const record_view& r, slot_id from, verdict v) noexcept {
  const record_header& h = r.header();
  if (rule_for(h) == sequence_rule::content) {
    if (!s.recent.empty()) {
      s.recent[s.recent_next] = content_hash(r);
      s.recent_next = (s.recent_next + 1) % s.recent.size();
    }
  } else {
    if (v == verdict::reset) ++s.stats.resets;
    if (v == verdict::rebase && s.has_last) ++s.stats.rebases;
    s.has_last = true;
    s.last = h.seq;
  }
  const std::uint8_t parts = part_flags(r);
  if (is_book(r) && (parts & kBookLastPart) == 0) s.parts[slot_index(from)] = {true, true, h.seq};
  ++s.stats.published[slot_index(from)];
  ++stats_.published;
  out_.publish(r.bytes(), from);
}

void arbiter::offer(const record_view& r, slot_id from, std::int64_t now_ns) noexcept {
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
      ++s.stats.duplicates[slot_index(from)];
      ++stats_.duplicates;
    }
    return;
  }
  const verdict v = judge(s, r);
  switch (v) {
    case verdict::duplicate:
      // A split snapshot's later parts are duplicates too.
      if (is_book(r) && (parts & kBookLastPart) == 0) s.parts[slot_index(from)] = {true, false, r.header().seq};
      ++s.stats.duplicates[slot_index(from)];
      ++stats_.duplicates;
      return;
    case verdict::hole:
      hold(s, r, from, now_ns);
      return;
    case verdict::next:
    case verdict::reset:
    case verdict::rebase:
      accept(s, r, from, v);
      if (!s.held.empty()) drain(s);
      return;
  }
}

void arbiter::hold(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns) noexcept {
  const auto bytes = r.bytes();
  while (s.hold_used + bytes.size() > s.hold.size() || s.held.size() == s.held.capacity()) {
    if (s.held.empty()) {
      // Larger than the whole hold buffer: no waiting possible, report the hole now.
      ++stats_.hold_overflows;
      break;
    }
    ++stats_.hold_overflows;
    force_oldest_hole(s, now_ns);
  }
  if (s.hold_used + bytes.size() > s.hold.size()) {
    // Still no room (the record alone exceeds the buffer): gap now, then the record.
    gap_record g = make_record<gap_record>();
    g.header.venue_id = r.header().venue_id;
    g.header.channel_id = r.header().channel_id;
    std::memcpy(g.header.symbol, r.header().symbol, kSymbolCapacity);
    g.header.slot = from;
    g.last_seq_held = s.has_last ? s.last : 0;
    g.first_seq_after = first_covered(r.header(), rule_for(r.header()));
    g.held_ns = 0;
    g.reason = gap_reason::hole_timeout;
    ++s.stats.gaps;
    ++stats_.gaps;
    out_.publish_gap(g);
    accept(s, r, from, verdict::next);
    if (!s.held.empty()) drain(s);
    return;
  }
  // Whether the other slot is still behind or also holed: this is re-judged on every drain,
  // so it does not matter here.
  if (s.held.empty()) holding_.push_back(static_cast<std::uint32_t>(&s - streams_.data()));
  std::memcpy(s.hold.data() + s.hold_used, bytes.data(), bytes.size());
  s.held.push_back({static_cast<std::uint32_t>(s.hold_used), static_cast<std::uint32_t>(bytes.size()), from, now_ns});
  s.hold_used += bytes.size();
  next_deadline_ = std::min(next_deadline_, now_ns + options_.hole_fill_window_ns);
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
  }
}

void arbiter::drain(stream_state& s) noexcept {
  bool moved = true;
  while (moved && !s.held.empty()) {
    moved = false;
    for (std::size_t i = 0; i < s.held.size(); ++i) {
      record_view r;
      const held_record h = s.held[i];
      (void)record_view::parse({s.hold.data() + h.offset, h.size}, r);  // validated before it was held
      const verdict v = judge(s, r);
      if (v == verdict::hole) continue;
      if (v == verdict::duplicate) {
        ++s.stats.duplicates[slot_index(h.from)];
        ++stats_.duplicates;
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
  if (s.held.empty()) update_deadline();
}

void arbiter::force_oldest_hole(stream_state& s, std::int64_t now_ns) noexcept {
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
  gap_record g = make_record<gap_record>();
  g.header.venue_id = r.header().venue_id;
  g.header.channel_id = r.header().channel_id;
  std::memcpy(g.header.symbol, r.header().symbol, kSymbolCapacity);
  g.header.slot = h.from;
  g.last_seq_held = s.has_last ? s.last : 0;
  g.first_seq_after = lowest;
  g.held_ns = now_ns - h.arrived_ns;
  g.reason = gap_reason::hole_timeout;
  ++s.stats.gaps;
  ++stats_.gaps;
  out_.publish_gap(g);
  accept(s, r, h.from, verdict::next);
  remove_held(s, pick);
  drain(s);
}

void arbiter::tick(std::int64_t now_ns) noexcept {
  if (now_ns < next_deadline_) return;
  // holding_ changes while we force holes: walk it by index from the back.
  for (std::size_t i = holding_.size(); i-- > 0;) {
    if (i >= holding_.size()) continue;
    stream_state& s = streams_[holding_[i]];
    while (!s.held.empty()) {
      std::int64_t oldest = kNever;
      for (const auto& h : s.held) oldest = std::min(oldest, h.arrived_ns);
      if (oldest + options_.hole_fill_window_ns > now_ns) break;
      force_oldest_hole(s, now_ns);
    }
  }
  update_deadline();
}

void arbiter::update_deadline() noexcept {
  std::int64_t d = kNever;
  for (const std::uint32_t id : holding_)
    for (const auto& h : streams_[id].held) d = std::min(d, h.arrived_ns + options_.hole_fill_window_ns);
  next_deadline_ = d;
}

}  // namespace mdbus::merge
