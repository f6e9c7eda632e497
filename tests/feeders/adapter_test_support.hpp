#pragma once
/// Helpers for the venue adapter tests: a vector-backed record_sink, a parse call that
/// supplies simdjson's padding, and typed access to what the adapter wrote.
#include "mdbus/records.hpp"
#include "feeders/venue_adapter.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <fstream>
#include <limits>
#include <memory>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus::feed::test {

inline constexpr std::int64_t kReceiveNs = 1'700'000'000'123'456'789;

/// Collects committed records. `refuse_after` claims succeed, later ones return an empty
/// span (a full ring).
class vector_sink final : public record_sink {
 public:
  std::span<std::byte> claim(std::size_t bytes) noexcept override {
    if (claims_ >= refuse_after) return {};
    ++claims_;
    pending_.assign(bytes, std::byte{0xCD});  // garbage, so an unwritten byte shows
    return pending_;
  }
  void commit(record_type type, std::size_t used) noexcept override {
    frames.emplace_back(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(used));
    types.push_back(type);
  }

  [[nodiscard]] std::size_t size() const noexcept { return frames.size(); }
  void clear() noexcept {
    frames.clear();
    types.clear();
    claims_ = 0;
  }

  /// Record i, validated by record_view::parse (so every record is checked for layout).
  [[nodiscard]] record_view view(std::size_t i) const {
    REQUIRE(i < frames.size());
    record_view v;
    REQUIRE(record_view::parse(frames[i], v) == record_status::ok);
    CHECK(v.bytes().size() == frames[i].size());
    CHECK(v.type() == types[i]);
    return v;
  }
  [[nodiscard]] trade_record trade(std::size_t i) const {
    const auto r = view(i).trade();
    REQUIRE(r.has_value());
    return *r;
  }
  [[nodiscard]] bbo_record bbo(std::size_t i) const {
    const auto r = view(i).bbo();
    REQUIRE(r.has_value());
    return *r;
  }
  [[nodiscard]] mark_funding_record mark_funding(std::size_t i) const {
    const auto r = view(i).mark_funding();
    REQUIRE(r.has_value());
    return *r;
  }
  [[nodiscard]] book_view book(std::size_t i) const {
    const auto r = view(i).book();
    REQUIRE(r.has_value());
    return *r;
  }

  std::vector<std::vector<std::byte>> frames;
  std::vector<record_type> types;
  /// The last message parsed: parse_result::detail may point into it.
  simdjson::padded_string message;
  std::size_t refuse_after = std::numeric_limits<std::size_t>::max();

 private:
  std::vector<std::byte> pending_;
  std::size_t claims_ = 0;
};

/// Parse `text` as one WebSocket message (copied into a padded buffer).
/// The message stays alive in the sink until the next parse, as parse_result::detail needs.
inline parse_result parse(venue_adapter& a, std::string_view text, vector_sink& sink) {
  sink.message = simdjson::padded_string(text);
  return a.parse(sink.message, kReceiveNs, sink);
}

inline parse_result parse_snapshot(venue_adapter& a, const subscription& sub, std::string_view text, vector_sink& sink) {
  sink.message = simdjson::padded_string(text);
  return a.parse_snapshot(sub, sink.message, kReceiveNs, sink);
}

inline std::unique_ptr<venue_adapter> make(venue v, std::size_t max_record_bytes = 65535,
                                           std::size_t max_message_bytes = std::size_t{1} << 20) {
  adapter_options o;
  o.slot = slot_id::b;
  o.max_record_bytes = max_record_bytes;
  o.max_message_bytes = max_message_bytes;
  auto a = make_adapter(v, o);
  REQUIRE(a != nullptr);
  return a;
}

inline decimal dec(std::string_view text) {
  decimal d{};
  REQUIRE(parse_decimal(text, d) == parse_status::ok);
  return d;
}

/// Same mantissa and exponent: the adapter keeps the venue's scale.
inline bool same(decimal a, std::string_view text) { return same_representation(a, dec(text)); }

/// Lines of a recorded payload file (bench/data), one message each.
inline std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open " << path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Parse `rounds` corrupted copies of every line (truncated, bytes replaced by characters
/// that matter to JSON, bytes deleted): whatever the adapter makes of them, it must not
/// crash (the ASan build checks reads) and every record it writes must be valid.
inline void corrupt_and_parse(venue_adapter& a, const std::vector<std::string>& lines, int rounds) {
  std::uint64_t state = 0x9E3779B97F4A7C15ULL;
  auto next = [&] {  // splitmix64: deterministic across platforms
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  };
  static constexpr char kCharList[] = "{}[]\",:\\0123456789-.eE tfn\x00\xff";
  constexpr std::string_view kChars(kCharList, sizeof kCharList - 1);  // keeps the NUL
  vector_sink sink;
  std::size_t records = 0;
  for (const auto& line : lines) {
    for (int r = 0; r < rounds; ++r) {
      std::string m = line;
      const std::size_t edits = 1 + next() % 3;
      for (std::size_t k = 0; k < edits && !m.empty(); ++k) {
        const std::size_t at = next() % m.size();
        switch (next() % 3) {
          case 0: m.resize(at); break;
          case 1: m[at] = kChars[next() % kChars.size()]; break;
          default: m.erase(at, 1 + next() % 8); break;
        }
      }
      sink.clear();
      const auto res = parse(a, m, sink);
      CHECK(res.records == sink.size());
      for (std::size_t i = 0; i < sink.size(); ++i) {
        record_view v;
        CHECK(record_view::parse(sink.frames[i], v) == record_status::ok);
      }
      records += sink.size();
    }
  }
  MESSAGE("records from corrupted messages: " << records);
}

}  // namespace mdbus::feed::test

namespace mdbus::feed {
// doctest prints these in failed CHECK(a == b) comparisons.
inline std::ostream& operator<<(std::ostream& os, parse_error e) { return os << to_string(e); }
inline std::ostream& operator<<(std::ostream& os, control_event e) { return os << static_cast<int>(e); }
inline std::ostream& operator<<(std::ostream& os, resync_method m) { return os << static_cast<int>(m); }
}  // namespace mdbus::feed
namespace mdbus {
inline std::ostream& operator<<(std::ostream& os, record_type t) { return os << to_string(t); }
inline std::ostream& operator<<(std::ostream& os, book_side s) { return os << to_string(s); }
inline std::ostream& operator<<(std::ostream& os, aggressor_side s) { return os << to_string(s); }
inline std::ostream& operator<<(std::ostream& os, channel c) { return os << to_string(c); }
inline std::ostream& operator<<(std::ostream& os, venue v) { return os << to_string(v); }
inline std::ostream& operator<<(std::ostream& os, slot_id s) { return os << to_string(s); }
}  // namespace mdbus
