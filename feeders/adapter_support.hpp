#pragma once
/// What every venue adapter needs besides its protocol knowledge: exact reading of JSON
/// scalars from simdjson on-demand values, a fixed-capacity level buffer, and a record
/// writer that stamps, splits and commits records to a record_sink. Internal to
/// feeders/: venue adapters include it, nothing else should.
///
/// Scalars are read from the raw token (the bytes of the value in the message), never
/// through a double and never copied: a decimal string goes straight to parse_decimal, an
/// integer is parsed here with an exact overflow check. A value of the wrong JSON kind is
/// wrong_type; the right kind with an unusable text (a fraction in an id, 25 digits, a
/// negative quantity) is bad_number.
#include "mdbus/decimal.hpp"
#include "mdbus/records.hpp"
#include "feeders/stream_table.hpp"
#include "feeders/venue_adapter.hpp"

#include <simdjson.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

namespace mdbus::feed::detail {

namespace od = simdjson::ondemand;

/// A parse_error with a few static words for the log line.
struct failure {
  parse_error error = parse_error::none;
  std::string_view what;

  [[nodiscard]] explicit operator bool() const noexcept { return error != parse_error::none; }
};

inline constexpr failure kOk{};

/// The parse_error a simdjson error code stands for. `incorrect_type` says what
/// INCORRECT_TYPE means where the caller asked for a specific kind.
[[nodiscard]] parse_error from_simdjson(simdjson::error_code e, parse_error incorrect_type = parse_error::wrong_type) noexcept;

/// A raw token without the whitespace simdjson leaves after it.
[[nodiscard]] inline std::string_view trim_token(std::string_view t) noexcept {
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\n' || t.back() == '\r')) t.remove_suffix(1);
  return t;
}

/// Why a value is not of the kind asked for: wrong_type when the token starts a JSON value
/// of another kind, not_json when it starts no JSON value at all ("[1,,2]", "{"p":}").
[[nodiscard]] inline parse_error kind_mismatch(std::string_view token) noexcept {
  if (token.empty()) return parse_error::not_json;
  const char c = token.front();
  const bool value_start = c == '{' || c == '[' || c == '"' || c == 't' || c == 'f' || c == 'n' || c == '-' ||
                           (c >= '0' && c <= '9');
  return value_start ? parse_error::wrong_type : parse_error::not_json;
}

/// The text between the quotes of a JSON string value, escapes left as they are (venue
/// decimals, ids, channel names and codes never contain any; an escaped one simply fails to
/// match or to parse). Does not consume `v`: the enclosing iteration skips it.
[[nodiscard]] inline parse_error read_string(od::value& v, std::string_view& out) noexcept {
  const std::string_view t = trim_token(v.raw_json_token());
  if (t.size() < 2 || t.front() != '"' || t.back() != '"') return kind_mismatch(t);
  out = t.substr(1, t.size() - 2);
  return parse_error::none;
}

/// If the 8 bytes at `p` are all ASCII digits, their value (simdjson's SWAR trick:
/// classify and convert 8 digits in a few integer operations instead of 8 dependent ones).
[[nodiscard]] inline bool eight_digits(const char* p, std::uint64_t& value) noexcept {
  std::uint64_t x;
  std::memcpy(&x, p, 8);
  if (((x & 0xF0F0F0F0F0F0F0F0ULL) | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) !=
      0x3333333333333333ULL)
    return false;
  x = (x & 0x0F0F0F0F0F0F0F0FULL) * 2561 >> 8;
  x = (x & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;
  value = (x & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32;
  return true;
}

/// Accumulate the digits at [p, end) into m (wrapping past 19 digits: callers check the
/// count), advancing p past them.
inline void accumulate_digits(const char*& p, const char* end, std::uint64_t& m) noexcept {
  std::uint64_t eight = 0;
  while (end - p >= 8 && eight_digits(p, eight)) {
    m = m * 100000000ULL + eight;
    p += 8;
  }
  while (p != end && static_cast<unsigned>(*p - '0') < 10U) m = m * 10 + static_cast<unsigned>(*p++ - '0');
}

/// parse_decimal with a one-pass fast path for what venues send: [-]digits[.digits] with at
/// most 18 digits in all (so the mantissa cannot overflow). Gives exactly parse_decimal's
/// result (the text's scale: exponent = -fraction digits); any other text goes to
/// parse_decimal itself, which also decides what is malformed.
[[nodiscard]] inline bool to_decimal(std::string_view s, decimal& out) noexcept {
  const char* p = s.data();
  const char* const end = p + s.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  const char* const int_begin = p;
  std::uint64_t m = 0;  // may wrap past 19 digits; such texts take the slow path below
  accumulate_digits(p, end, m);
  const auto int_digits = p - int_begin;
  std::ptrdiff_t frac_digits = 0;
  if (p != end && *p == '.') {
    const char* const frac_begin = ++p;
    accumulate_digits(p, end, m);
    frac_digits = p - frac_begin;
    if (frac_digits == 0) return parse_decimal(s, out) == parse_status::ok;
  }
  if (p != end || int_digits == 0 || int_digits + frac_digits > 18) return parse_decimal(s, out) == parse_status::ok;
  const auto v = static_cast<std::int64_t>(m);  // < 10^18
  out.mantissa = negative ? -v : v;
  out.exponent = static_cast<std::int8_t>(-frac_digits);
  return true;
}

/// Index of the first byte of `x` (in memory order) that is not an ASCII digit; 8 when all
/// are. A carry out of a byte >= 0xFA only disturbs bytes after it, never the first.
[[nodiscard]] inline unsigned digit_run(std::uint64_t x) noexcept {
  const std::uint64_t t = ((x & 0xF0F0F0F0F0F0F0F0ULL) | (((x + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ^
                          0x3333333333333333ULL;
  return t == 0 ? 8U : static_cast<unsigned>(std::countr_zero(t)) / 8U;
}

/// Value of the first `k` (1..8) digit bytes of `x`: the bytes after them are shifted out
/// and zeros come in as leading digits, then the SWAR combine of eight_digits.
[[nodiscard]] inline std::uint64_t digits_value(std::uint64_t x, unsigned k) noexcept {
  x = (x & 0x0F0F0F0F0F0F0F0FULL) << (8U * (8U - k));
  x = x * 2561 >> 8;
  x = (x & 0x00FF00FF00FF00FFULL) * 6553601 >> 16;
  return (x & 0x0000FFFF0000FFFFULL) * 42949672960001ULL >> 32;
}

inline constexpr std::uint64_t kPow10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/// to_decimal for text inside a padded message: reads up to 8 bytes past any character of
/// `s` (the message's SIMDJSON_PADDING covers it), so the integer part (up to 7 digits)
/// and the fraction (up to 8) each take one load, and together one SWAR combine when they
/// hold 8 digits or fewer, instead of a loop. Same result as parse_decimal; other shapes go
/// to to_decimal.
[[nodiscard]] inline bool to_decimal_padded(std::string_view s, decimal& out) noexcept {
  const char* p = s.data();
  const char* const end = p + s.size();
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  std::uint64_t lead;  // the integer digits and what follows them
  std::memcpy(&lead, p, 8);
  const unsigned int_digits = digit_run(lead);
  if (int_digits == 0 || int_digits == 8) return to_decimal(s, out);
  p += int_digits;
  unsigned frac_digits = 0;
  std::uint64_t m;
  if (p < end && *p == '.') {
    std::uint64_t x;
    ++p;
    std::memcpy(&x, p, 8);
    frac_digits = digit_run(x);
    if (frac_digits == 0 || (frac_digits == 8 && p + 8 < end)) return to_decimal(s, out);
    if (int_digits + frac_digits <= 8) {
      // Most venue prices and sizes ("56789.10", "0.123"): the integer digits (bytes below
      // int_digits of the first load) followed by the fraction's, as one run for a single
      // SWAR combine; digits_value shifts out what lies past the run.
      const std::uint64_t int_bytes = lead & ((std::uint64_t{1} << (8U * int_digits)) - 1);
      m = digits_value(int_bytes | (x << (8U * int_digits)), int_digits + frac_digits);
    } else {
      m = digits_value(lead, int_digits) * kPow10[frac_digits] + digits_value(x, frac_digits);  // <= 15 digits
    }
    p += frac_digits;
  } else {
    m = digits_value(lead, int_digits);
  }
  if (p != end) return to_decimal(s, out);
  const auto v = static_cast<std::int64_t>(m);
  out.mantissa = negative ? -v : v;
  out.exponent = static_cast<std::int8_t>(-static_cast<int>(frac_digits));
  return true;
}

/// Exact unsigned decimal integer: digits only, no sign, fits 64 bits.
[[nodiscard]] bool parse_u64_text(std::string_view s, std::uint64_t& out) noexcept;
/// Exact signed decimal integer: optional '-', digits, fits int64.
[[nodiscard]] bool parse_i64_text(std::string_view s, std::int64_t& out) noexcept;

/// parse_u64_text for text inside a padded message (reads the 16 bytes from its start):
/// up to 16 digits take two loads and SWAR combines instead of a loop (event times have 13,
/// Binance update ids 11 or 12). Same result as parse_u64_text.
[[nodiscard]] inline bool parse_u64_padded(std::string_view s, std::uint64_t& out) noexcept {
  const std::size_t n = s.size();
  if (n == 0 || n > 16) return parse_u64_text(s, out);
  std::uint64_t a;
  std::memcpy(&a, s.data(), 8);
  if (n <= 8) {
    if (digit_run(a) < n) return false;
    out = digits_value(a, static_cast<unsigned>(n));
    return true;
  }
  std::uint64_t b;
  std::memcpy(&b, s.data() + 8, 8);
  if (digit_run(a) != 8 || digit_run(b) < n - 8) return false;
  out = digits_value(a, 8) * kPow10[n - 8] + digits_value(b, static_cast<unsigned>(n - 8));
  return true;
}

/// The raw token of a value that should be a JSON number (trimmed), or why it is not one.
[[nodiscard]] inline parse_error number_token(od::value& v, std::string_view& t) noexcept {
  t = trim_token(v.raw_json_token());
  if (t.empty()) return parse_error::not_json;
  const char c = t.front();
  if (c == '-' || (c >= '0' && c <= '9')) return parse_error::none;
  return kind_mismatch(t);
}

/// A JSON number that is a non-negative integer (Binance ids, OKX seqId). Inline, as the
/// decimal readers: several per message, on every venue's hot path.
[[nodiscard]] inline parse_error read_u64(od::value& v, std::uint64_t& out) noexcept {
  std::string_view t;
  if (const auto e = number_token(v, t); e != parse_error::none) return e;
  return parse_u64_padded(t, out) ? parse_error::none : parse_error::bad_number;
}
/// A JSON number that is an integer (OKX prevSeqId -1, checksum).
[[nodiscard]] parse_error read_i64(od::value& v, std::int64_t& out) noexcept;
/// A JSON string holding a non-negative integer (OKX tradeId, count).
[[nodiscard]] parse_error read_quoted_u64(od::value& v, std::uint64_t& out) noexcept;
/// A JSON true/false.
[[nodiscard]] parse_error read_bool(od::value& v, bool& out) noexcept;
/// A JSON string holding a decimal (prices, quantities). The value must lie in a padded
/// message (as every value of a parsed document does).
[[nodiscard]] inline parse_error read_decimal(od::value& v, decimal& out) noexcept {
  std::string_view s;
  if (const auto e = read_string(v, s); e != parse_error::none) return e;
  return to_decimal_padded(s, out) ? parse_error::none : parse_error::bad_number;
}
/// Like read_decimal, but "" reads as zero: OKX tickers send an empty string for a side
/// with no orders.
[[nodiscard]] parse_error read_decimal_or_empty(od::value& v, decimal& out) noexcept;

/// Milliseconds since the epoch to nanoseconds; false when negative or past 2262.
[[nodiscard]] inline bool ms_to_ns(std::uint64_t ms, std::int64_t& ns) noexcept {
  constexpr std::uint64_t kMaxMs = static_cast<std::uint64_t>(INT64_MAX) / 1'000'000;
  if (ms > kMaxMs) return false;
  ns = static_cast<std::int64_t>(ms * 1'000'000);
  return true;
}
/// A venue time in milliseconds as a JSON number (Binance E) or string (OKX ts).
[[nodiscard]] inline parse_error read_ms_time(od::value& v, std::int64_t& ns) noexcept {
  std::uint64_t ms = 0;
  if (const auto e = read_u64(v, ms); e != parse_error::none) return e;
  return ms_to_ns(ms, ns) ? parse_error::none : parse_error::bad_number;
}
[[nodiscard]] parse_error read_quoted_ms_time(od::value& v, std::int64_t& ns) noexcept;

/// True when the object key `k` is exactly `lit` (no escapes: venue keys have none).
/// Reads at most lit.size() + 1 bytes from the key, within the padded message.
[[nodiscard]] inline bool key_is(od::raw_json_string k, std::string_view lit) noexcept {
  const char* p = k.raw();
  return std::memcmp(p, lit.data(), lit.size()) == 0 && p[lit.size()] == '"';
}
/// Key of one byte ("p", "q", "E"...): its character, or 0 when the key is longer.
[[nodiscard]] inline char short_key(od::raw_json_string k) noexcept {
  const char* p = k.raw();
  return p[0] != '"' && p[1] == '"' ? p[0] : '\0';
}

/// The object `v` holds; wrong_type when it is something else.
[[nodiscard]] inline failure as_object(od::value& v, od::object& out, std::string_view what) noexcept {
  // A refused get_object() leaves the value unread, so its token is still there to classify.
  if (const auto e = v.get_object().get(out)) return {from_simdjson(e, kind_mismatch(v.raw_json_token())), what};
  return kOk;
}

/// The array `v` holds; wrong_type when it is something else.
[[nodiscard]] inline failure as_array(od::value& v, od::array& out, std::string_view what) noexcept {
  // A refused get_array() leaves the value unread, so its token is still there to classify.
  if (const auto e = v.get_array().get(out)) return {from_simdjson(e, kind_mismatch(v.raw_json_token())), what};
  return kOk;
}

/// Call `f(key, value)` for each field of `obj` (any order, unknown keys are the callee's
/// to skip: the iteration steps over whatever it did not read). Stops at the first failure.
template <class F>
[[nodiscard]] failure for_each_field(od::object& obj, F&& f) noexcept {
  for (auto field : obj) {
    if (const auto e = field.error()) return {from_simdjson(e), "malformed object"};
    od::field& fl = field.value_unsafe();
    if (const failure r = f(fl.key(), fl.value())) return r;
  }
  return kOk;
}

/// The document's root object. A root that is valid JSON but no object (an array, a
/// number) is unexpected_shape; one that is not JSON at all ("hello", "{") is not_json.
[[nodiscard]] inline failure root_object(od::document& doc, od::object& out) noexcept {
  const auto e = doc.get_object().get(out);
  if (e == simdjson::SUCCESS) return kOk;
  if (e != simdjson::INCORRECT_TYPE) return {from_simdjson(e), "not JSON"};
  od::json_type type;
  if (doc.type().get(type) != simdjson::SUCCESS) return {parse_error::not_json, "not JSON"};
  return {parse_error::unexpected_shape, "not a JSON object"};
}

/// True once a root value has been read whole and nothing but whitespace follows it.
[[nodiscard]] inline bool at_document_end(od::document& doc) noexcept {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

/// Levels decoded from one message before any record is written (so a malformed level
/// never leaves half a delta in the ring). Fixed capacity, allocated once: push() refuses
/// rather than grows.
class level_buffer {
 public:
  explicit level_buffer(std::size_t capacity) : levels_(new book_level[capacity]), capacity_(capacity) {}

  void clear() noexcept { size_ = 0; }
  /// Writes the fields in place: building a book_level on the stack and copying it made the
  /// copy wait on the byte-wide stores of the exponents (a store-forwarding stall that cost
  /// a fifth of the level loop).
  [[nodiscard]] bool push(book_side side, decimal px, decimal qty) noexcept {
    if (size_ == capacity_) return false;
    book_level& l = levels_[size_++];
    l.px_mantissa = px.mantissa;
    l.qty_mantissa = qty.mantissa;
    l.px_exponent = px.exponent;
    l.qty_exponent = qty.exponent;
    l.side = side;
    std::memset(l.pad, 0, sizeof l.pad);
    return true;
  }
  [[nodiscard]] std::span<const book_level> levels() const noexcept { return {levels_.get(), size_}; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

 private:
  std::unique_ptr<book_level[]> levels_;
  std::size_t capacity_;
  std::size_t size_ = 0;
};

/// Levels one message of `message_bytes` can hold at most: the shortest level text is
/// `["1","1"],` (10 bytes).
[[nodiscard]] constexpr std::size_t max_levels_in(std::size_t message_bytes) noexcept { return message_bytes / 10 + 1; }

/// Append the levels of a JSON array of arrays ([["px","qty",…],…]) to `out`, tagged
/// `side`. Only the first two elements of each level are read (OKX adds the deprecated
/// liquidated-orders count and the order count). Prices must be > 0 (invalid_value),
/// quantities >= 0 ("0" deletes; a negative one is bad_number).
[[nodiscard]] failure read_levels(od::value& v, book_side side, level_buffer& out) noexcept;

/// The stream a message belongs to, copied into every record it produces.
struct stream_stamp {
  venue venue_id = venue::unknown;
  channel channel_id = channel::unknown;
  slot_id slot = slot_id::none;
  std::int64_t receive_ns = 0;
  record_header symbol{};  ///< only symbol[] and the truncation flag are used
  std::size_t symbol_size = 0;  ///< bytes of symbol[] set (up to a NUL in what was given)
  bool has_symbol = false;

  void set_symbol(std::string_view s) noexcept {
    symbol.set_symbol(s);
    symbol_size = std::min(s.size(), kSymbolCapacity);
    if ((symbol.flags & kHeaderSymbolTruncated) != 0) symbol_size = symbol.symbol_view().size();
    has_symbol = true;
  }
  /// True when `s` is the symbol set (or, when that had to be cut, starts with what was kept).
  [[nodiscard]] bool same_symbol(std::string_view s) const noexcept {
    const std::string_view kept(symbol.symbol, symbol_size);
    return (symbol.flags & kHeaderSymbolTruncated) != 0 ? s.starts_with(kept) : s == kept;
  }
  /// Fill the stream fields of `h` (venue, channel, slot, symbol, receive time); keeps the
  /// size, version, type, sequence fields and the other flags.
  void apply(record_header& h) const noexcept {
    h.venue_id = venue_id;
    h.channel_id = channel_id;
    h.slot = slot;
    std::memcpy(h.symbol, symbol.symbol, kSymbolCapacity);
    h.flags = static_cast<std::uint8_t>((h.flags & ~kHeaderSymbolTruncated) | (symbol.flags & kHeaderSymbolTruncated));
    h.receive_time_ns = receive_ns;
  }
};

/// Records of one message, held until the whole message has been checked (venue_adapter.hpp
/// "Atomicity"). A fixed record is copied here whole; a book record keeps its fixed part and
/// a view of its levels in the adapter's level_buffer, which is cleared once per message
/// (not per element), so the view stays valid until commit. Capacity is fixed at
/// construction from the largest message: stage() refuses rather than grows.
class record_stage {
 public:
  static constexpr std::size_t kFixedBytes =
      std::max({sizeof(trade_record), sizeof(bbo_record), sizeof(mark_funding_record), sizeof(book_record)});
  /// Trivial, so that allocating the array touches none of it: only the entries a message
  /// uses become resident (mdfeed's footprint test counts RSS).
  struct entry {
    alignas(8) std::byte fixed[kFixedBytes];  ///< the record (trade, bbo, mark_funding) or a book record's fixed part
    const book_level* levels;                ///< book records only: levels, level_count
    std::size_t level_count;
    record_type type;
  };
  static_assert(std::is_trivially_default_constructible_v<entry>);

  /// Enough entries for a message of `message_bytes` made only of the smallest element
  /// that gives a record (an OKX bbo-tbt element {"asks":[],"bids":[],"ts":"1"}, 31 bytes
  /// with its comma).
  explicit record_stage(std::size_t message_bytes)
      : capacity_(message_bytes / 31 + 1), entries_(new entry[capacity_]) {}

  void clear() noexcept { size_ = 0; }
  /// The next entry, or nullptr when full.
  [[nodiscard]] entry* next() noexcept { return size_ == capacity_ ? nullptr : &entries_[size_++]; }
  [[nodiscard]] std::span<const entry> entries() const noexcept { return {entries_.get(), size_}; }

 private:
  std::size_t capacity_;
  std::unique_ptr<entry[]> entries_;
  std::size_t size_ = 0;
};

/// Stages the records of one message (record_stage) and commits them to a sink once the
/// adapter has found the whole message good. Nothing reaches the sink before commit(), so
/// returning without it drops the message whole.
class record_writer {
 public:
  record_writer(record_sink& sink, record_stage& stage, std::size_t levels_per_record) noexcept
      : sink_(sink), stage_(&stage), levels_per_record_(levels_per_record) {
    stage_->clear();
  }
  /// Unstaged: every write goes to the sink at once and commit() has nothing to do. For code
  /// that checks nothing after the fact (parse_bench's nlohmann baseline), not for adapters.
  record_writer(record_sink& sink, std::size_t levels_per_record) noexcept
      : sink_(sink), stage_(nullptr), levels_per_record_(levels_per_record) {}

  /// A fixed-size record (trade, bbo), already stamped.
  template <class R>
  [[nodiscard]] failure write(const R& r) noexcept {
    static_assert(std::is_trivially_copyable_v<R> && sizeof(R) <= record_stage::kFixedBytes);
    record_stage::entry now;
    record_stage::entry* e = stage_ != nullptr ? stage_->next() : &now;
    if (e == nullptr) return {parse_error::record_too_large, "more records than one message can hold"};
    std::memcpy(e->fixed, &r, sizeof(R));
    e->type = R::kType;
    if (stage_ == nullptr && !commit_fixed(now, sizeof(R))) return {parse_error::ring_full, "ring full"};
    return kOk;
  }

  /// A book record. A delta must fit one record (record_too_large otherwise); a snapshot
  /// is split into parts of at most levels_per_record levels with part_index 0, 1, … and
  /// kBookFirstPart / kBookLastPart on the first / last (one part carries both; an empty
  /// snapshot is one part with no levels). `fixed` is stamped, its book_flags may carry
  /// kBookChecksumPresent; the part flags are set at commit. `levels` must stay valid until
  /// commit (the adapter's level_buffer, not cleared in between).
  [[nodiscard]] failure write_book(const book_record& fixed, std::span<const book_level> levels) noexcept;

  /// Commit every staged record, in order. ring_full when the sink refuses a claim: the
  /// records before it stay committed, the rest of the message is dropped.
  [[nodiscard]] failure commit() noexcept;

  /// Records committed to the sink.
  [[nodiscard]] std::uint32_t records() const noexcept { return records_; }

 private:
  [[nodiscard]] bool commit_fixed(const record_stage::entry& e, std::size_t bytes) noexcept {
    const std::span<std::byte> out = sink_.claim(bytes);
    if (out.size() < bytes) return false;
    std::memcpy(out.data(), e.fixed, bytes);
    sink_.commit(e.type, bytes);
    ++records_;
    return true;
  }
  [[nodiscard]] bool commit_book(const record_stage::entry& e) noexcept;

  record_sink& sink_;
  record_stage* stage_;  ///< nullptr: unstaged
  std::size_t levels_per_record_;
  std::uint32_t records_ = 0;
};

/// A repeated key: which of the two values the venue meant is unknowable, and simdjson's
/// On Demand would silently use whichever the code meets first or last.
[[nodiscard]] inline failure duplicate(std::string_view what) noexcept { return {parse_error::duplicate_key, what}; }

/// Name of the lowest bit set in `required` but not in `seen`, for a missing_field detail.
template <std::size_t N>
[[nodiscard]] failure missing(unsigned seen, unsigned required, const std::string_view (&names)[N]) noexcept {
  const unsigned absent = required & ~seen;
  for (std::size_t i = 0; i < N; ++i)
    if ((absent >> i) & 1U) return {parse_error::missing_field, names[i]};
  return kOk;
}

/// parse_result from a failure and the writer's count.
[[nodiscard]] inline parse_result result_of(const record_writer& w, failure f,
                                            control_event ev = control_event::none) noexcept {
  parse_result r;
  r.records = w.records();
  r.error = f.error;
  r.event = ev;
  r.detail = f.what;
  return r;
}

/// How a venue's instrument list names an instrument and says it trades (the instrument
/// check at start; not the hot path).
struct instrument_list_format {
  const char* venue_name;  ///< "Binance"
  const char* list_name;   ///< "exchangeInfo"
  const char* id_key;      ///< "symbol", "instId"
  const char* state_key;   ///< "status", "state"
  const char* trading;     ///< "TRADING", "live"
};

/// The first entry of a venue's instrument list whose `id_key` is `id`, if any.
[[nodiscard]] std::optional<simdjson::dom::element> listed_entry(simdjson::dom::array listed, const char* id_key,
                                                                 std::string_view id);

/// An instrument record of `symbol` on venue `v`'s reference stream: the header set, the body
/// (kind, values, their `fields` bits) for the adapter to fill from its instrument list.
[[nodiscard]] instrument_record reference_record(venue v, std::string_view symbol) noexcept;

/// Appends to `problems` one line for each of `symbols` that `listed` does not hold, or holds
/// in a state other than `f.trading`. Allocates; throws only std::bad_alloc.
void check_listed(simdjson::dom::array listed, std::span<const std::string> symbols, const instrument_list_format& f,
                  std::vector<std::string>& problems);

}  // namespace mdbus::feed::detail
