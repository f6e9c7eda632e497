#pragma once
/// The one interface between the feeder's connection loop and a venue's protocol. One
/// implementation file per venue (binance_adapter.cpp, okx_adapter.cpp) plus one line in
/// adapter_registry.cpp: that is all a new venue needs. Endpoints, symbols, channels and
/// timings come from config; adapters hold protocol knowledge only.
///
/// Hot path: parse() turns one complete WebSocket text message into zero or more bus
/// records written straight into the feeder's SPSC ring through a record_sink (claim →
/// fill → commit: no copy, no allocation, no exception). Anything wrong with a message is
/// a parse_error the feeder counts per reason and logs (rate-limited); it never stops the
/// feeder.
///
/// Atomicity: a message is all or nothing. parse() decodes and checks the whole message
/// (every data element, every level, the subscription, the end of the JSON document) before
/// the first record reaches the sink: records are staged in the adapter and committed only
/// once the message has been found good, so a message that fails anywhere (truncated JSON,
/// a bad value in its last element, a duplicate key) leaves nothing in the ring. Only a
/// full ring can cut a message short while it is being committed (parse_result::records
/// says how many went; a split snapshot's missing last part shows it). One limit: values of
/// fields the adapter does not read are skipped by On Demand, which checks that their
/// brackets balance but not their scalar text.
#include "mdbus/records.hpp"
#include "mdbus/venue.hpp"

#include <simdjson.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus::feed {

/// One stream to subscribe: a channel of one instrument, symbol in the venue's spelling
/// ("BTCUSDT", "BTC-USDT"). `variant` selects a flavour of the channel where the venue has
/// several: Binance depth "100ms" (or "" for 1000 ms), partial depth levels "5"/"10"/"20"
/// optionally "5@100ms"; empty otherwise.
struct subscription {
  channel ch = channel::unknown;
  std::string symbol;
  std::string variant;
};

/// Why a message produced no (or not all) records. Values index the feeder's per-reason
/// counters: append only.
enum class parse_error : std::uint8_t {
  none = 0,
  not_json,          ///< not valid JSON (or truncated)
  unexpected_shape,  ///< valid JSON but not a message shape this venue sends
  missing_field,     ///< a required field is absent
  wrong_type,        ///< a required field has the wrong JSON type
  bad_number,        ///< a decimal string or integer that does not parse exactly
  unknown_stream,    ///< data for a stream/channel we did not subscribe to or do not know
  record_too_large,  ///< more levels than fit in the largest ring frame, even split
  ring_full,         ///< the sink refused a claim: records dropped (the ring counts overflows)
  venue_error,       ///< the venue answered a request with an error event
  message_too_large, ///< the message exceeds adapter_options::max_message_bytes (not even looked at)
  invalid_value,     ///< a well-formed value the venue never sends there: price <= 0, trade quantity 0, U > u, prevSeqId < -1, f > l
  duplicate_key,     ///< an object repeats a key the adapter reads ("data", "stream", "arg", "p", …): which one holds is unknowable
  count_             ///< number of reasons (array size), not a reason
};
std::string_view to_string(parse_error e) noexcept;

/// Protocol events the connection loop acts on (besides records).
enum class control_event : std::uint8_t {
  none = 0,
  subscribed,    ///< a subscription was acknowledged
  pong,          ///< answer to our application-level keepalive (OKX "pong")
  going_away,    ///< the venue announced it will close us (Binance serverShutdown, OKX notice 64008): rotate now
  venue_error,   ///< an error event (bad request, unknown channel, rate limit)
  unsubscribed,  ///< an unsubscription was acknowledged (OKX "event":"unsubscribe"; a resync's first half)
};

struct parse_result {
  std::uint32_t records = 0;  ///< records committed to the sink
  parse_error error = parse_error::none;
  control_event event = control_event::none;
  /// What went wrong, in a few words, for the rate-limited log line. Static text or a view
  /// into the message: valid only until the next parse.
  std::string_view detail;
};

/// How the feeder answers the merger's resync request for one stream (ARCHITECTURE.md "Arbitration":
/// after a real gap on a book stream the book is resynchronised).
enum class resync_method : std::uint8_t {
  none = 0,       ///< not a book stream, or one that needs none (every message is a snapshot: partial depth, books5)
  rest_snapshot,  ///< GET snapshot_path(sub, rest_depth) and parse_snapshot() it into the ring (Binance depth)
  resubscribe,    ///< unsubscribe_messages() then subscribe_messages() on the live connection: the venue pushes a fresh snapshot (OKX books)
};

struct resync_plan {
  resync_method method = resync_method::none;
  int rest_depth = 0;  ///< levels to ask for (rest_snapshot)
  /// What the snapshot request costs in the venue's REST budget (bus/venue_budget.hpp): Binance
  /// request weight by `limit`, OKX units of its books endpoint's 40 requests / 2 s.
  std::uint32_t rest_cost = 0;
};

/// How the trades of one channel are fetched back from the venue's trade history after a hole
/// the merger could not fill (issue 16, backfill). Pages of at most `max_rows`, by id.
struct backfill_plan {
  bool available = false;       ///< false: the venue keeps no public history of this channel
  std::uint32_t rest_cost = 0;  ///< one page's cost in the venue's REST budget
  std::size_t max_rows = 0;     ///< the most rows one page gives (the endpoint's limit maximum)
  /// Pages run from the newest id down (OKX history-trades `after`: older than a cursor) and
  /// list the venue's fills, not the channel's messages: the feeder collects the fills down to
  /// the first id asked, then writes them oldest first. False: pages from an id up (Binance fromId).
  bool newest_first = false;
};

/// What one page of trade history held (parse_backfill).
struct backfill_page {
  std::uint32_t rows = 0;        ///< trades in the answer
  std::uint64_t first_id = 0;    ///< the lowest id in it (0 when empty)
  std::uint64_t last_id = 0;     ///< the highest
  std::uint32_t written = 0;     ///< records written (ids from..to)
};

/// The outcome of checking configured symbols against the venue's instrument list.
struct instrument_check {
  enum class outcome : std::uint8_t {
    ok,           ///< every symbol is listed and trading
    refused,      ///< `problems` names each symbol that is not (one line each)
    ask_each,     ///< the venue refused the list query as a whole (Binance -1121): ask symbol by symbol
    retry,        ///< no usable answer (HTTP error, malformed body): ask again later
  };
  outcome result = outcome::retry;
  std::vector<std::string> problems;  ///< refused: "\"BTCUSDX\" is not listed by Binance"; retry: why
  /// ok: the reference data the list gave for the symbols, one instrument record each (header:
  /// venue and symbol only; the feeder stamps the rest when it publishes them). Empty when the
  /// venue's list carries none the bus uses.
  std::vector<instrument_record> instruments;
};

/// Where an adapter writes records. The feeder's implementation claims space in its SPSC
/// ring; tests collect into a vector.
class record_sink {
 public:
  /// Reserve `bytes` contiguous bytes; an empty span means the record must be dropped.
  [[nodiscard]] virtual std::span<std::byte> claim(std::size_t bytes) noexcept = 0;
  /// Publish the claimed record, `used` <= claimed bytes.
  virtual void commit(record_type type, std::size_t used) noexcept = 0;

 protected:
  ~record_sink() = default;
};

/// One adapter per connection: parse() and parse_snapshot() reuse one JSON parser and one
/// level buffer, so an adapter is not to be shared between threads.
class venue_adapter {
 public:
  virtual ~venue_adapter() = default;

  [[nodiscard]] virtual venue id() const noexcept = 0;

  /// Path and query of the WebSocket URL for these subscriptions
  /// (Binance: "/stream?streams=btcusdt@trade/..."; OKX: "/ws/v5/public").
  [[nodiscard]] virtual std::string ws_path(std::span<const subscription> subs) const = 0;

  /// Text messages to send once connected, in order (OKX: subscribe requests, each within
  /// the venue's size limit; Binance: none when the streams are in the URL).
  [[nodiscard]] virtual std::vector<std::string> subscribe_messages(std::span<const subscription> subs) const = 0;

  /// Text messages that end these subscriptions on a live connection, in order (OKX op
  /// "unsubscribe", Binance method "UNSUBSCRIBE"). The feeder resyncs an OKX book by sending
  /// these and then subscribe_messages() for the same stream: the venue answers the new
  /// subscription with a fresh snapshot. Throws std::invalid_argument like ws_path().
  [[nodiscard]] virtual std::vector<std::string> unsubscribe_messages(std::span<const subscription> subs) const = 0;

  /// Text messages that end and re-establish these subscriptions on a live connection, in
  /// order: the per-stream staleness watchdog's cure for a silently dropped subscription
  /// (Binance UNSUBSCRIBE + SUBSCRIBE, even for streams named in the URL; OKX unsubscribe +
  /// subscribe). Throws std::invalid_argument like ws_path().
  [[nodiscard]] virtual std::vector<std::string> resubscribe_messages(std::span<const subscription> subs) const = 0;

  /// The application-level keepalive text to send after a quiet period ("ping" for OKX);
  /// empty when the venue uses WebSocket ping frames (Binance: the server pings, we pong).
  [[nodiscard]] virtual std::string_view keepalive_text() const noexcept = 0;

  /// The streams this connection subscribes to (the same list as ws_path() and
  /// subscribe_messages(); a resync resubscribes a subset of it). Set-up time only: it
  /// allocates, and throws std::invalid_argument for a subscription ws_path() would refuse.
  /// From then on parse() refuses data of any other stream as unknown_stream (Binance: the
  /// combined stream name, or event type and `s` on a raw stream; OKX: arg.channel and
  /// arg.instId), by an allocation-free hash lookup. Until it is called the adapter accepts
  /// every stream it can decode (tools and tests that replay recorded traffic); mdfeed
  /// always calls it. A second call replaces the list.
  virtual void set_subscriptions(std::span<const subscription> subs) = 0;

  /// Parse one complete text message and write its records to `sink`, stamping
  /// receive_time_ns and slot. Never throws, never allocates (the parser and the level
  /// buffers are sized from adapter_options at construction). `message` must carry
  /// simdjson::SIMDJSON_PADDING readable bytes past its end.
  [[nodiscard]] virtual parse_result parse(simdjson::padded_string_view message, std::int64_t receive_ns,
                                           record_sink& sink) noexcept = 0;

  /// REST path (and query) of a book snapshot for a resync
  /// (Binance "/api/v3/depth?symbol=BTCUSDT&limit=5000"; OKX "/api/v5/market/books?instId=BTC-USDT&sz=400").
  [[nodiscard]] virtual std::string snapshot_path(const subscription& sub, int depth) const = 0;

  /// REST path (and query) of the instrument list that covers `symbols` (Binance
  /// "/api/v3/exchangeInfo?symbols=[...]", OKX "/api/v5/public/instruments?instType=SPOT"), and
  /// its cost in the venue's REST budget. Set-up path: allocates, throws std::invalid_argument.
  [[nodiscard]] virtual std::string instruments_path(std::span<const std::string> symbols) const = 0;
  [[nodiscard]] virtual std::uint32_t instruments_cost() const noexcept = 0;
  /// Reads an instrument-list answer (HTTP `status`, `body`) for `symbols`: every one must be
  /// listed and trading. Set-up path: allocates, never throws.
  [[nodiscard]] virtual instrument_check check_instruments(int status, std::string_view body,
                                                           std::span<const std::string> symbols) const = 0;

  /// How a stream of channel `c` is resynchronised; method none for channels that need no resync.
  [[nodiscard]] virtual resync_plan resync_plan_for(channel c) const noexcept = 0;

  /// Parse a REST book snapshot body into book_snapshot records (split into parts that fit
  /// a frame: kBookFirstPart on the first, kBookLastPart on the last), flagged kHeaderFromRest.
  [[nodiscard]] virtual parse_result parse_snapshot(const subscription& sub, simdjson::padded_string_view body,
                                                    std::int64_t receive_ns, record_sink& sink) noexcept = 0;

  /// Backfill (issue 16): whether and how channel `c`'s trades can be fetched by id. The
  /// default: not at all (the venue keeps no public history of the channel, or its ids do not
  /// reveal holes).
  [[nodiscard]] virtual backfill_plan backfill_plan_for(channel c) const noexcept {
    (void)c;
    return {};
  }
  /// REST path (and query) of up to `limit` trades of `sub` from id `from` on (Binance
  /// "/api/v3/historicalTrades?symbol=BTCUSDT&fromId=42&limit=1000"); for a newest_first plan,
  /// the `limit` trades just below id `from` (OKX ".../history-trades?instId=BTC-USDT&type=1&
  /// after=42&limit=100"). Only for a channel whose plan is available; throws
  /// std::invalid_argument otherwise.
  [[nodiscard]] virtual std::string backfill_path(const subscription& sub, std::uint64_t from, std::size_t limit) const;
  /// Parse a trade-history answer into trade records flagged kHeaderBackfilled, exactly as the
  /// stream's records of the same trades but for the flag and venue_time_ns (the trade time),
  /// writing those with ids `from`..`to`, in id order. `page` tells what the answer held. A page
  /// whose first id is after `from` writes nothing (the venue no longer keeps `from`: the caller
  /// says so first, then asks from the page's first id). A newest_first plan's page writes its
  /// rows with ids `from`..`to` as they come, newest first (the caller orders them), one trade
  /// record per fill (trade_count 1). A body that is not a list of trades is an error and
  /// writes nothing.
  [[nodiscard]] virtual parse_result parse_backfill(const subscription& sub, simdjson::padded_string_view body,
                                                    std::uint64_t from, std::uint64_t to, std::int64_t receive_ns,
                                                    record_sink& sink, backfill_page& page) noexcept;
};

/// Settings every adapter gets from the feeder.
struct adapter_options {
  slot_id slot = slot_id::none;        ///< stamped into every record
  std::size_t max_record_bytes = 65535;  ///< largest record the ring takes (its max_payload); >= kMinRecordBytes
  /// Largest message (stream frame or REST body) parse() and parse_snapshot() accept; a
  /// longer one is dropped as message_too_large. The JSON parser and the level buffer are
  /// allocated for this size up front, which is what makes parsing allocation-free. The
  /// default covers a Binance REST depth snapshot of 5000 levels a side (~350 KB).
  std::size_t max_message_bytes = std::size_t{1} << 20;
};

/// Smallest usable max_record_bytes: every fixed record and a book record with one level fit.
inline constexpr std::size_t kMinRecordBytes = sizeof(bbo_record);

/// The registry: the adapter for a venue, or nullptr for a venue this build does not speak.
/// Throws std::invalid_argument when `options` are unusable (max_record_bytes below
/// kMinRecordBytes or above kMaxRecordSize, max_message_bytes 0).
std::unique_ptr<venue_adapter> make_adapter(venue v, const adapter_options& options);

}  // namespace mdbus::feed
