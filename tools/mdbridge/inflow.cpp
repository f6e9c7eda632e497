#include "tools/mdbridge/inflow.hpp"

#include <cstring>

namespace mdbus::bridge {

inflow::verdict inflow::judge(const record_view& r) noexcept {
  const record_header& h = r.header();
  stream_mark& m = streams_[stream_key::of(h)];
  if (m.epoch != gap_epoch_) {  // a bridge_lost gap since this stream's last record: start afresh
    m = stream_mark{};
    m.epoch = gap_epoch_;
  }
  if (h.type == record_type::gap) {  // the merger's word on this stream: it starts afresh after it
    m = stream_mark{};
    m.epoch = gap_epoch_;
    return verdict::write;
  }
  const bool sequenced = (h.flags & kHeaderHasSeq) != 0;
  const auto b = r.book();
  if (h.type == record_type::book_snapshot && b) {
    // Later parts follow their first part's verdict.
    if (!b->first_part()) {
      const bool pass = m.open && h.seq == m.open_part;
      if (b->last_part()) m.open = false;
      return pass ? verdict::write : verdict::stale_snapshot;
    }
    if (!m.after_gap && sequenced && m.has_last && h.seq <= m.last) return verdict::stale_snapshot;
    m.after_gap = false;
    m.open = !b->last_part();
    m.open_part = h.seq;
    if (sequenced) {
      m.snap = h.seq;
      m.has_snap = true;
      m.last = h.seq;
      if (!m.has_last) m.first = h.seq;
      m.has_last = true;
    }
    return verdict::write;
  }
  if (!sequenced) return verdict::write;  // no venue order to keep (OKX tickers, ...)
  // A delta the book's snapshot here already holds: the other bus's book started earlier, its
  // deltas up to our snapshot come after it (OKX, Binance: an update at or below the
  // snapshot's id is in it).
  if (h.type == record_type::book_delta && m.has_snap && h.seq <= m.snap) return verdict::superseded;
  if (m.has_last && h.seq < m.last) return h.seq < m.first ? verdict::superseded : verdict::late;
  if (!m.has_last) m.first = h.seq;
  m.last = h.seq;
  m.has_last = true;
  if (h.type == record_type::book_delta) m.after_gap = false;
  return verdict::write;
}

inflow::decision inflow::offer(std::uint64_t stream_seq, std::span<const std::byte> payload, std::int64_t now_ns) noexcept {
  decision d;
  if (stream_seq <= last_) {
    ++counts_.redelivered;
    return d;
  }
  auto gap_for = [&](const record_header* stream, std::uint64_t held, std::uint64_t after) {
    d.gap = true;
    d.gap_bytes = make_record<gap_record>();
    if (stream != nullptr) {
      d.gap_bytes.header.venue_id = stream->venue_id;
      d.gap_bytes.header.channel_id = stream->channel_id;
      std::memcpy(d.gap_bytes.header.symbol, stream->symbol, kSymbolCapacity);
    }
    d.gap_bytes.header.venue_time_ns = now_ns;
    d.gap_bytes.header.publish_time_ns = now_ns;
    d.gap_bytes.last_seq_held = held;
    d.gap_bytes.first_seq_after = after;
    d.gap_bytes.reason = gap_reason::bridge_lost;
  };
  if (last_ != 0 && stream_seq > last_ + 1) {
    ++counts_.holes;
    counts_.missing += stream_seq - last_ - 1;
    if (!hole_reported_) gap_for(nullptr, last_, stream_seq);
    ++gap_epoch_;
  }
  hole_reported_ = false;
  last_ = stream_seq;
  record_view v;
  if (record_view::parse(payload, v) != record_status::ok) {
    ++counts_.not_records;
    return d;
  }
  switch (judge(v)) {
    case verdict::write:
      d.write = true;
      ++counts_.written;
      break;
    case verdict::stale_snapshot:
      ++counts_.stale_snapshots;
      break;
    case verdict::superseded:
      ++counts_.superseded;
      break;
    case verdict::late: {
      ++counts_.late;
      // The stream went on without it: say so once (a gap for the whole stream already did).
      if (!d.gap) {
        const record_header& h = v.header();
        gap_for(&h, streams_[stream_key::of(h)].last, h.seq);
      }
      break;
    }
  }
  return d;
}

}  // namespace mdbus::bridge
