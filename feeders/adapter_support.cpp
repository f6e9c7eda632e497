#include "feeders/adapter_support.hpp"

#include <algorithm>

namespace mdbus::feed::detail {

parse_error from_simdjson(simdjson::error_code e, parse_error incorrect_type) noexcept {
  switch (e) {
    case simdjson::SUCCESS: return parse_error::none;
    case simdjson::INCORRECT_TYPE: return incorrect_type;
    case simdjson::NO_SUCH_FIELD: return parse_error::missing_field;
    case simdjson::NUMBER_ERROR:
    case simdjson::NUMBER_OUT_OF_RANGE: return parse_error::bad_number;
    case simdjson::CAPACITY: return parse_error::message_too_large;
    default: return parse_error::not_json;  // TAPE_ERROR, UNCLOSED_STRING, UTF8_ERROR, EMPTY, …
  }
}

bool parse_u64_text(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  if (s.size() <= 19) {  // 19 digits always fit 64 bits: no overflow checks needed
    const char* p = s.data();
    std::uint64_t m = 0;
    accumulate_digits(p, s.data() + s.size(), m);
    if (p != s.data() + s.size()) return false;
    out = m;
    return true;
  }
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

namespace {

/// [-]digits to int64 through `to_u64` for the digits (parse_u64_text, or its padded twin).
template <bool (*to_u64)(std::string_view, std::uint64_t&) noexcept>
bool signed_text(std::string_view s, std::int64_t& out) noexcept {
  const bool negative = !s.empty() && s.front() == '-';
  if (negative) s.remove_prefix(1);
  std::uint64_t m = 0;
  if (!to_u64(s, m)) return false;
  const std::uint64_t limit = negative ? static_cast<std::uint64_t>(INT64_MAX) + 1 : static_cast<std::uint64_t>(INT64_MAX);
  if (m > limit) return false;
  out = negative ? static_cast<std::int64_t>(~m + 1) : static_cast<std::int64_t>(m);
  return true;
}

}  // namespace

bool parse_i64_text(std::string_view s, std::int64_t& out) noexcept { return signed_text<parse_u64_text>(s, out); }

parse_error read_i64(od::value& v, std::int64_t& out) noexcept {
  std::string_view t;
  if (const auto e = number_token(v, t); e != parse_error::none) return e;
  return signed_text<parse_u64_padded>(t, out) ? parse_error::none : parse_error::bad_number;
}

parse_error read_quoted_u64(od::value& v, std::uint64_t& out) noexcept {
  std::string_view s;
  if (const auto e = read_string(v, s); e != parse_error::none) return e;
  return parse_u64_padded(s, out) ? parse_error::none : parse_error::bad_number;
}

parse_error read_bool(od::value& v, bool& out) noexcept {
  const std::string_view t = trim_token(v.raw_json_token());
  if (t == "true") {
    out = true;
    return parse_error::none;
  }
  if (t == "false") {
    out = false;
    return parse_error::none;
  }
  return kind_mismatch(t);
}

parse_error read_decimal_or_empty(od::value& v, decimal& out) noexcept {
  std::string_view s;
  if (const auto e = read_string(v, s); e != parse_error::none) return e;
  if (s.empty()) {
    out = decimal{};
    return parse_error::none;
  }
  return to_decimal_padded(s, out) ? parse_error::none : parse_error::bad_number;
}

parse_error read_quoted_ms_time(od::value& v, std::int64_t& ns) noexcept {
  std::uint64_t ms = 0;
  if (const auto e = read_quoted_u64(v, ms); e != parse_error::none) return e;
  return ms_to_ns(ms, ns) ? parse_error::none : parse_error::bad_number;
}

failure read_levels(od::value& v, book_side side, level_buffer& out) noexcept {
  od::array levels;
  if (const failure f = as_array(v, levels, "levels: not an array")) return f;
  for (auto element : levels) {
    if (const auto e = element.error()) return {from_simdjson(e), "levels: bad element"};
    od::value& level_value = element.value_unsafe();
    od::array level;
    if (const failure f = as_array(level_value, level, "level: not an array")) return f;
    decimal px;
    decimal qty;
    int seen = 0;
    for (auto item : level) {
      if (const auto e = item.error()) return {from_simdjson(e), "level: bad element"};
      od::value& x = item.value_unsafe();
      const parse_error e = read_decimal(x, seen == 0 ? px : qty);
      if (e != parse_error::none) return {e, seen == 0 ? "level: price" : "level: quantity"};
      // Stop after the quantity; the array iterator skips the rest of the level.
      if (++seen == 2) break;
    }
    if (seen < 2) return {parse_error::missing_field, "level: fewer than 2 elements"};
    if (qty.mantissa < 0) return {parse_error::bad_number, "level: negative quantity"};
    // A level's price is a price: > 0 even when qty 0 deletes it (Binance web-socket-streams.md
    // "Diff. Depth Stream" and OKX "Order book channel": [price, size, …], size 0 deletes).
    if (px.mantissa <= 0) return {parse_error::invalid_value, "level: price <= 0"};
    if (!out.push(side, px, qty)) return {parse_error::record_too_large, "more levels than the buffer holds"};
  }
  return kOk;
}

failure record_writer::write_book(const book_record& fixed, std::span<const book_level> levels) noexcept {
  const bool snapshot = fixed.header.type == record_type::book_snapshot;
  if (!snapshot && levels.size() > levels_per_record_)
    return {parse_error::record_too_large, "delta has more levels than one record holds"};
  if (snapshot && (levels.size() + levels_per_record_ - 1) / levels_per_record_ > UINT16_MAX + std::size_t{1})
    return {parse_error::record_too_large, "snapshot needs too many parts"};
  record_stage::entry now;
  record_stage::entry* e = stage_ != nullptr ? stage_->next() : &now;
  if (e == nullptr) return {parse_error::record_too_large, "more records than one message can hold"};
  std::memcpy(e->fixed, &fixed, sizeof fixed);
  e->levels = levels.data();
  e->level_count = levels.size();
  e->type = fixed.header.type;
  if (stage_ == nullptr && !commit_book(now)) return {parse_error::ring_full, "ring full"};
  return kOk;
}

bool record_writer::commit_book(const record_stage::entry& e) noexcept {
  book_record fixed;
  std::memcpy(&fixed, e.fixed, sizeof fixed);
  const std::span<const book_level> levels(e.levels, e.level_count);
  const std::size_t per = levels_per_record_;
  const std::size_t parts = levels.empty() ? 1 : (levels.size() + per - 1) / per;  // a delta: 1 (checked when staged)
  const std::uint8_t keep = fixed.book_flags & kBookChecksumPresent;
  for (std::size_t i = 0; i < parts; ++i) {
    const std::size_t first = i * per;
    const std::size_t count = std::min(per, levels.size() - first);
    const std::size_t bytes = book_record_size(count);
    const std::span<std::byte> out = sink_.claim(bytes);
    if (out.size() < bytes) return false;
    fixed.part_index = static_cast<std::uint16_t>(i);
    fixed.book_flags = static_cast<std::uint8_t>(keep | (i == 0 ? kBookFirstPart : 0) | (i + 1 == parts ? kBookLastPart : 0));
    const std::size_t used = write_book_record(out, fixed, levels.subspan(first, count));
    sink_.commit(fixed.header.type, used);
    ++records_;
  }
  return true;
}

failure record_writer::commit() noexcept {
  if (stage_ == nullptr) return kOk;
  for (const record_stage::entry& e : stage_->entries()) {
    const bool ok = is_book_type(e.type) ? commit_book(e) : commit_fixed(e, fixed_record_size(e.type));
    if (!ok) return {parse_error::ring_full, "ring full"};
  }
  return kOk;
}

std::optional<simdjson::dom::element> listed_entry(simdjson::dom::array listed, const char* id_key, std::string_view id) {
  for (auto e : listed) {
    std::string_view have;
    if (e[id_key].get(have) == simdjson::SUCCESS && have == id) return e;
  }
  return std::nullopt;
}

instrument_record reference_record(venue v, std::string_view symbol) noexcept {
  auto r = make_record<instrument_record>();
  r.header.venue_id = v;
  r.header.channel_id = channel::reference;
  r.header.set_symbol(symbol);
  return r;
}

void check_listed(simdjson::dom::array listed, std::span<const std::string> symbols, const instrument_list_format& f,
                  std::vector<std::string>& problems) {
  for (const auto& want : symbols) {
    std::string_view state;
    const auto e = listed_entry(listed, f.id_key, want);
    const bool found = e.has_value();
    if (found && (*e)[f.state_key].get(state) != simdjson::SUCCESS) state = "(none)";
    if (!found) {
      problems.push_back("\"" + want + "\" is not listed by " + f.venue_name + " (" + f.list_name + ")");
    } else if (state != f.trading) {
      problems.push_back("\"" + want + "\" is not trading on " + f.venue_name + " (" + f.state_key + " " + std::string(state) + ")");
    }
  }
}

}  // namespace mdbus::feed::detail
