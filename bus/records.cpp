#include "mdbus/records.hpp"

namespace mdbus {

std::size_t write_book_record(std::span<std::byte> out, const book_record& fixed,
                              std::span<const book_level> levels) noexcept {
  if (!is_book_type(fixed.header.type) || levels.size() > kMaxBookLevelsPerRecord) return 0;
  const std::size_t size = book_record_size(levels.size());
  if (out.size() < size) return 0;
  book_record head = fixed;
  head.header.size = static_cast<std::uint16_t>(size);
  head.header.version = kRecordLayoutVersion;
  head.level_count = static_cast<std::uint16_t>(levels.size());
  std::memcpy(out.data(), &head, sizeof(head));
  if (!levels.empty()) std::memcpy(out.data() + sizeof(head), levels.data(), levels.size_bytes());
  return size;
}

record_status record_view::parse(std::span<const std::byte> frame, record_view& out) noexcept {
  if (frame.size() < sizeof(record_header)) return record_status::too_short;
  record_header h;
  std::memcpy(&h, frame.data(), sizeof(h));
  if (h.version != kRecordLayoutVersion) return record_status::bad_version;
  const auto type_value = static_cast<std::uint8_t>(h.type);
  if (type_value < static_cast<std::uint8_t>(record_type::trade) ||
      type_value > static_cast<std::uint8_t>(kLastRecordType)) {
    return record_status::unknown_type;
  }
  if (h.size > frame.size()) return record_status::truncated;
  if (is_book_type(h.type)) {
    if (h.size < sizeof(book_record)) return record_status::bad_size;
    std::uint16_t count = 0;
    std::memcpy(&count, frame.data() + offsetof(book_record, level_count), sizeof(count));
    // Both checks, although the u16 size already bounds the count: the count is what a
    // reader indexes with, so it must agree with the bytes actually present.
    if (count > kMaxBookLevelsPerRecord || book_record_size(count) != h.size) return record_status::bad_level_count;
  } else if (h.size != fixed_record_size(h.type)) {
    return record_status::bad_size;
  }
  out.header_ = h;
  out.bytes_ = frame.first(h.size);
  return record_status::ok;
}

std::string_view to_string(record_type t) noexcept {
  switch (t) {
    case record_type::trade: return "trade";
    case record_type::bbo: return "bbo";
    case record_type::book_delta: return "book_delta";
    case record_type::book_snapshot: return "book_snapshot";
    case record_type::gap: return "gap";
    case record_type::slot_status: return "slot_status";
    case record_type::mark_funding: return "mark_funding";
    case record_type::instrument: return "instrument";
  }
  return "unknown";
}

std::string_view to_string(instrument_kind k) noexcept {
  switch (k) {
    case instrument_kind::spot: return "spot";
    case instrument_kind::perpetual: return "perpetual";
    case instrument_kind::future: return "future";
    case instrument_kind::option: return "option";
    case instrument_kind::unknown: break;
  }
  return "unknown";
}

std::optional<decimal> base_quantity(const instrument_record& r, decimal contracts) noexcept {
  if (!r.has(kHasContractValue)) return std::nullopt;
  std::int64_t m = 0;
  if (__builtin_mul_overflow(contracts.mantissa, r.contract_value_mantissa, &m)) return std::nullopt;
  const int e = contracts.exponent + r.contract_value_exponent;
  if (e < kMinDecimalExponent || e > kMaxDecimalExponent) return std::nullopt;
  return decimal{m, static_cast<std::int8_t>(e)};
}

std::string_view to_string(slot_id s) noexcept {
  switch (s) {
    case slot_id::a: return "A";
    case slot_id::b: return "B";
    case slot_id::none: return "none";
  }
  return "unknown";
}

std::string_view to_string(book_side s) noexcept {
  switch (s) {
    case book_side::bid: return "bid";
    case book_side::ask: return "ask";
    case book_side::unknown: break;
  }
  return "unknown";
}

std::string_view to_string(aggressor_side s) noexcept {
  switch (s) {
    case aggressor_side::buy: return "buy";
    case aggressor_side::sell: return "sell";
    case aggressor_side::unknown: break;
  }
  return "unknown";
}

std::uint64_t record_content_hash(const record_view& r) noexcept {
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
  return h == 0 ? 1 : h;  // 0 marks an empty slot of the merger's window
}

std::string_view to_string(gap_reason r) noexcept {
  switch (r) {
    case gap_reason::hole_timeout: return "hole_timeout";
    case gap_reason::ring_overflow: return "ring_overflow";
    case gap_reason::both_slots_down: return "both_slots_down";
    case gap_reason::merger_restart: return "merger_restart";
    case gap_reason::sequence_reset: return "sequence_reset";
    case gap_reason::checksum_mismatch: return "checksum_mismatch";
    case gap_reason::resync: return "resync";
    case gap_reason::malformed_message: return "malformed_message";
    case gap_reason::backfill_failed: return "backfill_failed";
    case gap_reason::backfill_timeout: return "backfill_timeout";
    case gap_reason::suspect_window: return "suspect_window";
    case gap_reason::backfill_done: return "backfill_done";
    case gap_reason::bridge_lost: return "bridge_lost";
    case gap_reason::unknown: break;
  }
  return "unknown";
}

std::string_view to_string(slot_state s) noexcept {
  switch (s) {
    case slot_state::connecting: return "connecting";
    case slot_state::syncing: return "syncing";
    case slot_state::up: return "up";
    case slot_state::rotating: return "rotating";
    case slot_state::down: return "down";
    case slot_state::unknown: break;
  }
  return "unknown";
}

std::string_view to_string(slot_reason r) noexcept {
  switch (r) {
    case slot_reason::none: return "none";
    case slot_reason::startup: return "startup";
    case slot_reason::age_limit: return "age_limit";
    case slot_reason::venue_notice: return "venue_notice";
    case slot_reason::operator_request: return "operator_request";
    case slot_reason::idle_watchdog: return "idle_watchdog";
    case slot_reason::pong_timeout: return "pong_timeout";
    case slot_reason::stale_stream: return "stale_stream";
    case slot_reason::remote_close: return "remote_close";
    case slot_reason::network_error: return "network_error";
    case slot_reason::handshake_failed: return "handshake_failed";
    case slot_reason::process_exit: return "process_exit";
    case slot_reason::backoff: return "backoff";
    case slot_reason::config_reload: return "config_reload";
  }
  return "unknown";
}

std::string_view to_string(record_status s) noexcept {
  switch (s) {
    case record_status::ok: return "ok";
    case record_status::too_short: return "too_short";
    case record_status::bad_version: return "bad_version";
    case record_status::unknown_type: return "unknown_type";
    case record_status::truncated: return "truncated";
    case record_status::bad_size: return "bad_size";
    case record_status::bad_level_count: return "bad_level_count";
  }
  return "unknown";
}

namespace {

void append(std::string& s, std::string_view key, std::string_view value) {
  s += ' ';
  s += key;
  s += '=';
  s += value;
}

template <class Int>
void append_number(std::string& s, std::string_view key, Int value) {
  append(s, key, std::to_string(value));
}

void append_level(std::string& s, const book_level& l) {
  s += ' ';
  s += to_string(l.side);
  s += ':';
  s += to_string(l.px());
  s += 'x';
  s += to_string(l.qty());
}

}  // namespace

std::string format_record(const record_view& r, std::size_t max_levels) {
  const record_header& h = r.header();
  std::string s;
  s.reserve(192);
  s += to_string(h.type);
  s += ' ';
  s += to_string(h.venue_id);
  s += '/';
  s += to_string(h.channel_id);
  if (!h.symbol_view().empty()) {
    s += ' ';
    s += h.symbol_view();
    if ((h.flags & kHeaderSymbolTruncated) != 0) s += "(truncated)";
  }
  append(s, "slot", to_string(h.slot));
  if ((h.flags & kHeaderHasSeq) != 0) append_number(s, "seq", h.seq);
  if ((h.flags & kHeaderHasFirstSeq) != 0) append_number(s, "first", h.first_seq);
  if ((h.flags & kHeaderHasPrevSeq) != 0) append_number(s, "prev", h.prev_seq);
  if ((h.flags & kHeaderFromRest) != 0) s += " rest";

  if (const auto t = r.trade()) {
    append(s, "px", to_string(t->px()));
    append(s, "qty", to_string(t->qty()));
    append(s, "aggressor", to_string(t->aggressor));
    if (t->first_trade_id != 0 || t->last_trade_id != 0) {
      append(s, "ids", std::to_string(t->first_trade_id) + ".." + std::to_string(t->last_trade_id));
    }
    if (t->trade_count != 0) append_number(s, "count", t->trade_count);
  } else if (const auto b = r.bbo()) {
    append(s, "bid", to_string(b->bid.px()) + "x" + to_string(b->bid.qty()));
    append(s, "ask", to_string(b->ask.px()) + "x" + to_string(b->ask.qty()));
  } else if (const auto g = r.gap()) {
    append(s, "reason", to_string(g->reason));
    append_number(s, "last_held", g->last_seq_held);
    append_number(s, "first_after", g->first_seq_after);
    append_number(s, "held_ns", g->held_ns);
  } else if (const auto st = r.slot_status()) {
    append(s, "state", to_string(st->state));
    append(s, "reason", to_string(st->reason));
    append_number(s, "epoch", st->connection_epoch);
    if (!st->reason_text_view().empty()) {
      s += " \"";
      s += st->reason_text_view();
      s += '"';
    }
  } else if (const auto mf = r.mark_funding()) {
    if (mf->has(kHasMarkPx)) append(s, "mark", to_string(mf->mark_px()));
    if (mf->has(kHasIndexPx)) append(s, "index", to_string(mf->index_px()));
    if (mf->has(kHasSettlePx)) append(s, "settle", to_string(mf->settle_px()));
    if (mf->has(kHasFundingRate)) append(s, "funding", to_string(mf->funding_rate()));
    if (mf->has(kHasFundingTime)) append_number(s, "funding_time", mf->funding_time_ns);
  } else if (const auto in = r.instrument()) {
    append(s, "kind", to_string(in->kind));
    if (in->has(kHasContractValue)) append(s, "contract", to_string(in->contract_value()));
    if (!in->contract_currency_view().empty()) append(s, "ccy", in->contract_currency_view());
    if (in->has(kHasTickSize)) append(s, "tick", to_string(in->tick_size()));
    if (in->has(kHasLotSize)) append(s, "lot", to_string(in->lot_size()));
  } else if (const auto bk = r.book()) {
    append_number(s, "levels", bk->level_count());
    append_number(s, "part", bk->fixed().part_index);
    if (bk->first_part()) s += " first";
    if (bk->last_part()) s += " last";
    if (const auto c = bk->checksum()) append_number(s, "checksum", *c);
    const std::size_t shown = bk->level_count() < max_levels ? bk->level_count() : max_levels;
    for (std::size_t i = 0; i < shown; ++i) append_level(s, bk->level(i));
    if (shown < bk->level_count()) s += " ...+" + std::to_string(bk->level_count() - shown);
  }
  append_number(s, "vt", h.venue_time_ns);
  append_number(s, "rt", h.receive_time_ns);
  append_number(s, "pt", h.publish_time_ns);
  return s;
}

}  // namespace mdbus
