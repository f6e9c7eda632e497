// Restart (arbiter.hpp "Restart"): the published records read back from the output ring
// replayed into the per-stream state, and the snapshot requests of the books they leave waiting.
#include "bus/merge/arbiter.hpp"
#include "bus/merge/arbiter_detail.hpp"

#include <algorithm>
#include <limits>

namespace mdbus::merge {

using namespace detail;

void arbiter::prime(const record_view& r) noexcept {
  const record_header& h = r.header();
  if (h.type == record_type::slot_status) return;
  stream_state* sp = find_or_add(h);
  if (sp == nullptr) return;
  stream_state& s = *sp;
  ++stats_.primed;
  if (h.type == record_type::gap) {
    // A book stream's deltas were waiting for a snapshot when the gap was published.
    if (s.carries_deltas && !s.awaiting_snapshot) {
      s.awaiting_snapshot = true;
      awaiting_.push_back(static_cast<std::uint32_t>(sp - streams_.data()));
    }
    return;
  }
  if (h.type == record_type::book_delta) s.carries_deltas = true;
  if (is_book(r)) s.joining = h.type == record_type::book_snapshot;
  if (rule_for(h) == sequence_rule::content) {
    if (!s.recent.empty()) {
      s.recent[s.recent_next] = record_content_hash(r);
      s.recent_next = (s.recent_next + 1) % s.recent.size();
    }
  } else {
    s.has_last = true;
    s.last = h.seq;
  }
  if (h.type == record_type::book_snapshot && s.awaiting_snapshot) {
    s.awaiting_snapshot = false;
    awaiting_.erase(std::find(awaiting_.begin(), awaiting_.end(), static_cast<std::uint32_t>(sp - streams_.data())));
  }
  const std::uint8_t parts = part_flags(r);
  const auto slot = h.slot == slot_id::b ? slot_id::b : slot_id::a;
  if (is_book(r)) {
    // A split snapshot cut short by the restart: its remaining parts from the winning slot
    // are still to be published.
    auto& open = s.parts[slot_index(slot)];
    if ((parts & kBookLastPart) == 0) open = {true, true, h.seq};
    else if (open.open && open.seq == h.seq) open.open = false;
  }
  s.race[s.race_next] = {race_key(r), h.receive_time_ns, slot};
  s.race_next = (s.race_next + 1) % kRaceMemory;
}

void arbiter::finish_priming(std::int64_t now_ns) noexcept {
  for (const std::uint32_t id : awaiting_) {
    stream_state& s = streams_[id];
    ++s.stats.resync_requests;
    ++stats_.resync_requests;
    s.resync_due_ns = now_ns + options_.resync_retry_ns;
    out_.request_resync(s.key.v, s.key.c, stream_key_at(id).symbol, slot_id::none);
  }
  update_deadline();
}

}  // namespace mdbus::merge
