#pragma once
/// What the bus knows about a venue, as data: one descriptor per venue, in one place
/// (bus/venues/<venue>.hpp/.cpp). Config validation, the feeders' adapters and the merger's
/// sequence rules read it instead of naming venues themselves (issue 14; ARCHITECTURE.md
/// "Code conventions", rule 8).
///
/// A descriptor holds the venue's name, its production endpoints (stream and REST host, the
/// config's defaults), its symbol grammar, its channel grammar (the spellings a config and a
/// venue's stream names use), the channels that need a login, each channel's stream route
/// (the URL path that serves it) and sequence rule including how the first delta joins a
/// snapshot, the venue's own connection timing (age limit, idle cut), its REST and
/// connection-attempt limits, which channels serve which symbols; the venue's header holds its
/// REST weights. Message-rate limits
/// are still the adapters'.
#include "mdbus/venue.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace mdbus {

/// How the merger tells a duplicate from a hole on one stream: ARCHITECTURE.md's arbitration
/// table. The rule comes from the channel; the record's header flags say which sequence
/// fields it actually carries (bus/merge/sequence_rule.hpp weakens the rule to them).
enum class sequence_rule : std::uint8_t {
  /// Ids count up by one per message (Binance trade `t`, aggTrade `a`):
  /// duplicate when id <= last, hole when id > last + 1.
  consecutive,
  /// Each message covers first..last ids (Binance diff depth `U`..`u`):
  /// duplicate when u <= last, hole when U > last + 1.
  range,
  /// Each message names its predecessor (OKX books, books-l2-tbt, bbo-tbt `seqId`/`prevSeqId`;
  /// Binance futures `pu`): duplicate when seq <= last, hole when prev != last.
  chained,
  /// Ids only increase, gaps are normal (Binance bookTicker `u`, OKX trades `tradeId`,
  /// partial books): duplicate when id <= last, holes not detectable.
  increasing,
  /// No sequence at all (OKX tickers): duplicate when the same event time and content were
  /// published within a bounded window.
  content,
};

/// How the first delta after a snapshot joins it — each venue documents its own rule, and it
/// is not the chain rule (the snapshot is not a message of the stream).
enum class join_rule : std::uint8_t {
  /// The chain rule applies unchanged from the snapshot's sequence.
  chain,
  /// Binance spot diff depth (web-socket-streams.md "How to manage a local order book
  /// correctly", as corrected 2025-11-12): drop events with u <= lastUpdateId; the first kept
  /// one covers the snapshot, U <= lastUpdateId + 1 <= u. The `range` rule already reads so.
  covers,
  /// OKX books after the snapshot push was delisted (OKX v5 "Order book channel" and the
  /// changelog "Delist initial snapshot and checksum field in order book channels", production
  /// from August 2026): the first update applied has prevSeqId <= snapshot seqId < seqId;
  /// updates with seqId <= snapshot seqId are covered by the snapshot. A pushed snapshot's
  /// first update (prevSeqId == its seqId) satisfies the same rule.
  straddles,
  /// Binance USD-M diff depth (derivatives docs, "How to manage a local order book correctly",
  /// 2026-12): drop events with u < lastUpdateId; the first processed one has
  /// U <= lastUpdateId <= u; from then each event's pu must equal the previous event's u. The
  /// first event does not chain on pu (its pu is an id before the snapshot); an event whose pu
  /// names lastUpdateId itself follows it too.
  spans,
};

/// One channel of a venue: how the merger sequences it.
struct channel_rule {
  channel id = channel::unknown;
  sequence_rule rule = sequence_rule::content;
  join_rule join = join_rule::chain;
  /// The URL path prefix that serves the channel's streams: Binance USD-M "/public" (depth,
  /// bookTicker) or "/market" (trades, markPrice) since 2026-04-23; empty where a venue has
  /// one path for all. One connection serves one route.
  std::string_view route;
  /// The venue keeps this channel's messages behind a public REST history paged by their ids,
  /// so a hole can be backfilled (issue 16): Binance spot trade and aggTrade, USD-M aggTrade
  /// (a hole by id); OKX trades (rule `increasing`: after a suspect window, as fills). The
  /// adapter's backfill_plan_for says how; the merger asks only for these.
  bool history = false;
};

/// The venue's production hosts: what a config that names no endpoint connects to.
struct venue_endpoints {
  std::string_view stream_host;
  std::uint16_t stream_port = 443;
  std::string_view rest_host;
  std::uint16_t rest_port = 443;
  std::string_view source;  ///< the doc section
};

/// A channel spelling read by the venue's grammar: the bus channel and the venue's flavour of
/// it (Binance "100ms" for depth@100ms, "20@100ms" for depth20@100ms; empty otherwise). The
/// variant views the spelling it was read from.
struct parsed_channel {
  channel id = channel::unknown;
  std::string_view variant;
};

/// The venue's own connection rules (its documentation; the config's defaults and limits).
struct venue_timing {
  std::int64_t max_age_ms = 0;   ///< the venue cuts a connection this old (0: no limit)
  std::int64_t idle_cut_ms = 0;  ///< the venue cuts a connection silent this long (0: none); keepalive must go out before
  std::string_view max_age_source;   ///< the doc section that says so
  std::string_view idle_cut_source;
};

/// A documented pace: at most `units` per `window_ms`, counted per calendar window of the
/// venue's clock (`calendar_window`) or over any interval; `our_fraction` of it is what the
/// bus allows itself by default (bus/venue_budget_core.hpp says why each fraction).
struct documented_pace {
  bool calendar_window = false;
  std::uint32_t units = 0;
  std::int64_t window_ms = 0;
  double our_fraction = 1.0;
  std::string_view source;  ///< the doc section
};

/// The venue's per-IP limits that every process of a bus shares (bus/venue_budget.hpp).
struct venue_pace {
  documented_pace rest;     ///< REST units (Binance request weight; OKX books-request units)
  documented_pace connect;  ///< WebSocket connection attempts
};

/// What one WebSocket connection may carry (0: the venue documents no limit).
struct connection_limits {
  std::uint32_t max_streams = 0;             ///< streams (symbol × channel) on one connection
  std::uint32_t control_messages_per_s = 0;  ///< client → venue messages a second, pings and pongs included
  std::string_view source;
};

struct venue_descriptor {
  venue id = venue::unknown;
  std::string_view name;   ///< config key, segment and log spelling ("binance")
  std::string_view title;  ///< for messages ("Binance")
  std::string_view symbol_example;   ///< "BTCUSDT"
  std::string_view channel_spellings;  ///< for messages: the channels a config may name
  venue_endpoints endpoints;
  std::span<const channel_rule> channels;
  venue_timing timing;
  venue_pace limits;
  /// Why `symbol` is not a symbol of this venue as the config and the records spell it, or
  /// empty. Never allocates for a valid symbol.
  std::string (*symbol_problem)(std::string_view symbol) = nullptr;
  /// The venue's channel spelling (config, stream-name suffix) → channel and variant;
  /// channel::unknown when the grammar does not know it. noexcept, no allocation: it is
  /// on the feeders' message path.
  parsed_channel (*parse_channel)(std::string_view spelling) noexcept = nullptr;
  /// Why a channel spelling cannot be used on a public connection, or empty.
  std::string (*login_only_reason)(std::string_view spelling) = nullptr;
  /// Why `channel` cannot be subscribed for `symbol` (OKX funding-rate: perpetual swaps only), or
  /// empty. nullptr: every channel serves every symbol.
  std::string (*subscription_problem)(channel c, std::string_view symbol) = nullptr;
  connection_limits connection;
};

}  // namespace mdbus
