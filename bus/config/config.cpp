#include "bus/config/config.hpp"

#include "mdbus/broadcast_ring.hpp"
#include "bus/counters.hpp"
#include "bus/runtime_dir.hpp"
#include "bus/sched_slice.hpp"
#include "bus/spsc_ring.hpp"
#include "mdbus/venues/registry.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

namespace mdbus::config {
namespace {

using json = nlohmann::json;

/// Debian's system CA bundle: the default trust for a TLS endpoint without ca_file.
/// (libwebsockets' own default, LWS_OPENSSL_CLIENT_CERTS, is "../share" on Debian: useless.)
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

/// Smallest frame any ring must take: the largest fixed-size record (slot_status).
constexpr std::uint64_t kMinFrame = std::max({sizeof(trade_record), sizeof(bbo_record), sizeof(gap_record),
                                               sizeof(slot_status_record)});

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

/// One JSON object being read: knows its path for messages and which keys were consumed,
/// so finish() can refuse every key nobody asked for.
class object_reader {
 public:
  object_reader(const json& j, std::string path, const std::string& source) : j_(j), path_(std::move(path)), source_(source) {
    if (!j_.is_object()) fail(path_, "must be an object");
  }

  [[noreturn]] void fail(const std::string& path, const std::string& what) const {
    throw config_error(source_ + ": " + (path.empty() ? std::string("(top level)") : path) + ": " + what);
  }

  [[nodiscard]] std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  /// The value of `key`, or nullptr when absent (then `required` makes it an error).
  const json* get(std::string_view key, bool required) {
    seen_.emplace(key);
    const auto it = j_.find(std::string(key));
    if (it == j_.end()) {
      if (required) fail(at(key), "missing (required)");
      return nullptr;
    }
    return &*it;
  }

  std::string string(std::string_view key, bool required, std::string fallback = {}) {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_string()) fail(at(key), "must be a string");
    return v->get<std::string>();
  }

  bool boolean(std::string_view key, bool fallback) {
    const json* v = get(key, false);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail(at(key), "must be true or false");
    return v->get<bool>();
  }

  /// An integer in [lo, hi]. A float (even 1.0), a string or a bool is refused.
  std::int64_t integer(std::string_view key, bool required, std::int64_t fallback, std::int64_t lo, std::int64_t hi) {
    const json* v = get(key, required);
    if (v == nullptr) return fallback;
    if (!v->is_number_integer()) fail(at(key), "must be an integer");
    std::int64_t n = 0;
    if (v->is_number_unsigned()) {
      const auto u = v->get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) fail(at(key), "out of range");
      n = static_cast<std::int64_t>(u);
    } else {
      n = v->get<std::int64_t>();
    }
    if (n < lo || n > hi)
      fail(at(key), std::to_string(n) + " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return n;
  }

  /// Refuses every key that no getter asked for.
  void finish() const {
    for (const auto& [key, value] : j_.items())
      if (!seen_.contains(key)) fail(at(key), "unknown key");
  }

  [[nodiscard]] const std::string& source() const { return source_; }

 private:
  const json& j_;
  std::string path_;
  const std::string& source_;
  std::set<std::string, std::less<>> seen_;
};

/// True when `s` is 1..max characters of [A-Za-z0-9_-] (and '.' between tokens when `dots`).
bool plain_name(std::string_view s, std::size_t max, bool dots) {
  if (s.empty() || s.size() > max) return false;
  bool token_start = true;
  for (const char ch : s) {
    const bool word = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '_' || ch == '-';
    if (ch == '.' && dots && !token_start) {
      token_start = true;
      continue;
    }
    if (!word) return false;
    token_start = false;
  }
  return !token_start;
}

/// Section "bridge" (issue 18): where mdbridge publishes the bus and how the stream is set up.
void read_bridge(const json& j, bridge_settings& b, const std::string& source) {
  object_reader r(j, "bridge", source);
  b.configured = true;
  const json* servers = r.get("servers", true);
  if (!servers->is_array() || servers->empty()) r.fail("bridge.servers", "must be a non-empty array of NATS URLs");
  for (const auto& v : *servers) {
    if (!v.is_string() || v.get<std::string>().empty())
      r.fail("bridge.servers", "must hold non-empty strings (nats://host:port)");
    b.servers.push_back(v.get<std::string>());
  }
  b.stream = r.string("stream", false, b.stream);
  if (!plain_name(b.stream, 64, false)) r.fail("bridge.stream", in_quotes(b.stream) + " must be 1..64 characters of [A-Za-z0-9_-]");
  b.subject_prefix = r.string("subject_prefix", false, b.subject_prefix);
  if (!plain_name(b.subject_prefix, 128, true))
    r.fail("bridge.subject_prefix", in_quotes(b.subject_prefix) + " must be dot-separated tokens of [A-Za-z0-9_-]");
  b.replicas = r.integer("replicas", false, b.replicas, 1, 5);
  const std::string storage = r.string("storage", false, "file");
  if (storage != "file" && storage != "memory") r.fail("bridge.storage", in_quotes(storage) + " must be \"file\" or \"memory\"");
  b.file_storage = storage == "file";
  b.max_age_ms = r.integer("max_age_ms", false, b.max_age_ms, 0, std::int64_t{1} << 40);
  b.max_bytes = r.integer("max_bytes", false, b.max_bytes, -1, std::int64_t{1} << 50);
  if (b.max_bytes == 0) r.fail("bridge.max_bytes", "must be -1 (no limit) or positive");
  b.duplicate_window_ms = r.integer("duplicate_window_ms", false, b.duplicate_window_ms, 100, 86'400'000);
  if (b.max_age_ms != 0 && b.duplicate_window_ms > b.max_age_ms)
    r.fail("bridge.duplicate_window_ms", "must not exceed max_age_ms (JetStream refuses such a stream)");
  b.max_in_flight = r.integer("max_in_flight", false, b.max_in_flight, 1, 1 << 20);
  b.ack_timeout_ms = r.integer("ack_timeout_ms", false, b.ack_timeout_ms, 10, 600'000);
  r.finish();
}

/// A symbol as the venue spells it (its descriptor's grammar) that fits a record's symbol field.
std::string symbol_problem(venue v, std::string_view s) {
  if (s.size() > kSymbolCapacity) return in_quotes(s) + " is longer than " + std::to_string(kSymbolCapacity) + " characters";
  const venue_descriptor* d = find_venue(v);
  return d == nullptr ? "unknown venue" : d->symbol_problem(s);
}

/// `key` ("endpoint", "rest_endpoint"), or the venue's production host from its descriptor
/// when the section names none: TLS on the documented port, the system CA bundle.
endpoint read_endpoint(object_reader& parent, const char* key, const std::string& base_dir, std::string_view default_host,
                       std::uint16_t default_port) {
  const json* j = parent.get(key, false);
  endpoint ep;
  if (j == nullptr) {
    ep.host = std::string(default_host);
    ep.port = default_port;
    ep.tls = true;
    ep.ca_file = kSystemCaBundle;
    ep.server_name = ep.host;
    return ep;
  }
  object_reader r(*j, parent.at(key), parent.source());
  ep.host = r.string("host", true);
  if (ep.host.empty()) r.fail(r.at("host"), "must not be empty");
  ep.port = static_cast<std::uint16_t>(r.integer("port", true, 0, 1, 65535));
  ep.tls = r.boolean("tls", true);
  ep.ca_file = r.string("ca_file", false);
  if (ep.tls && ep.ca_file.empty()) ep.ca_file = kSystemCaBundle;
  if (!ep.tls && r.get("ca_file", false) != nullptr) r.fail(r.at("ca_file"), "given but tls is false");
  if (!ep.ca_file.empty() && ep.ca_file.front() != '/' && !base_dir.empty()) ep.ca_file = base_dir + "/" + ep.ca_file;
  ep.server_name = r.string("server_name", false, ep.host);
  if (ep.server_name.empty()) r.fail(r.at("server_name"), "must not be empty");
  r.finish();
  return ep;
}

venue_policy read_policy(object_reader& parent, venue v) {
  venue_policy p;
  const venue_descriptor& d = *find_venue(v);
  p.max_age_ms = d.timing.max_age_ms;  // the venue's own age limit (its descriptor), 0: none
  const json* j = parent.get("policy", false);
  if (j == nullptr) return p;
  object_reader r(*j, parent.at("policy"), parent.source());
  constexpr std::int64_t kDay = 7 * 86'400'000LL;  // a week: anything longer is a typo
  p.max_age_ms = r.integer("max_age_ms", false, p.max_age_ms, 0, kDay);
  p.rotate_margin_ms = r.integer("rotate_margin_ms", false, p.rotate_margin_ms, 0, kDay);
  p.keepalive_ms = r.integer("keepalive_ms", false, p.keepalive_ms, 1, kDay);
  p.pong_timeout_ms = r.integer("pong_timeout_ms", false, p.pong_timeout_ms, 1, kDay);
  p.no_data_ms = r.integer("no_data_ms", false, p.no_data_ms, 1, kDay);
  p.stale_stream_ms = r.integer("stale_stream_ms", false, p.stale_stream_ms, 1, kDay);
  p.reconnect_min_ms = r.integer("reconnect_min_ms", false, p.reconnect_min_ms, 1, kDay);
  p.reconnect_max_ms = r.integer("reconnect_max_ms", false, p.reconnect_max_ms, 1, kDay);
  p.connect_timeout_ms = r.integer("connect_timeout_ms", false, p.connect_timeout_ms, 1, kDay);
  p.drain_timeout_ms = r.integer("drain_timeout_ms", false, p.drain_timeout_ms, 0, kDay);
  p.reference_interval_ms = r.integer("reference_interval_ms", false, p.reference_interval_ms, 0, kDay);
  p.max_message_bytes = static_cast<std::uint64_t>(
      r.integer("max_message_bytes", false, static_cast<std::int64_t>(p.max_message_bytes), 1024, 256LL << 20));
  r.finish();
  if (p.reconnect_max_ms < p.reconnect_min_ms)
    r.fail(r.at("reconnect_max_ms"), std::to_string(p.reconnect_max_ms) + " is below reconnect_min_ms " +
                                         std::to_string(p.reconnect_min_ms));
  if (p.max_age_ms > 0 && p.rotate_margin_ms >= p.max_age_ms)
    r.fail(r.at("rotate_margin_ms"), std::to_string(p.rotate_margin_ms) + " must be below max_age_ms " +
                                         std::to_string(p.max_age_ms));
  // The venue cuts a connection silent for idle_cut_ms (its descriptor: OKX 30 s); the
  // keepalive must go out before that.
  if (d.timing.idle_cut_ms > 0 && p.keepalive_ms >= d.timing.idle_cut_ms)
    r.fail(r.at("keepalive_ms"), std::to_string(p.keepalive_ms) + " must be below " + std::to_string(d.timing.idle_cut_ms) + " (" +
                                     std::string(d.title) + " closes a connection after " +
                                     std::to_string(d.timing.idle_cut_ms / 1000) + " s of silence)");
  return p;
}

venue_config read_venue(const json& j, const std::string& path, venue v, const std::string& source,
                        const std::string& base_dir) {
  object_reader r(j, path, source);
  venue_config vc;
  vc.id = v;
  const venue_descriptor& d = *find_venue(v);
  // Both hosts omitted: the venue's production hosts (its descriptor). One given: the other is
  // required too, so a config aimed at a simulator never sends half its traffic to the venue.
  const bool production = r.get("endpoint", false) == nullptr && r.get("rest_endpoint", false) == nullptr;
  if (!production) {
    (void)r.get("endpoint", true);
    (void)r.get("rest_endpoint", true);
  }
  vc.ep = read_endpoint(r, "endpoint", base_dir, d.endpoints.stream_host, d.endpoints.stream_port);
  vc.rest_ep = read_endpoint(r, "rest_endpoint", base_dir, d.endpoints.rest_host, d.endpoints.rest_port);
  // One lws context per feeder carries one TLS trust for the stream and the REST host.
  if (vc.rest_ep.tls != vc.ep.tls)
    r.fail(r.at("rest_endpoint") + ".tls", "must equal endpoint.tls (one TLS setting per feeder)");
  if (vc.rest_ep.ca_file != vc.ep.ca_file)
    r.fail(r.at("rest_endpoint") + ".ca_file", in_quotes(vc.rest_ep.ca_file) + " must equal endpoint.ca_file " +
                                                    in_quotes(vc.ep.ca_file) + " (one CA bundle per feeder)");

  const json* syms = r.get("symbols", true);
  if (!syms->is_array() || syms->empty()) r.fail(r.at("symbols"), "must be a non-empty array of strings");
  for (std::size_t i = 0; i < syms->size(); ++i) {
    const std::string at = r.at("symbols") + "[" + std::to_string(i) + "]";
    if (!(*syms)[i].is_string()) r.fail(at, "must be a string");
    auto s = (*syms)[i].get<std::string>();
    if (auto why = symbol_problem(v, s); !why.empty()) r.fail(at, why);
    if (std::find(vc.symbols.begin(), vc.symbols.end(), s) != vc.symbols.end()) r.fail(at, in_quotes(s) + " listed twice");
    vc.symbols.push_back(std::move(s));
  }

  const json* chans = r.get("channels", true);
  if (!chans->is_array() || chans->empty()) r.fail(r.at("channels"), "must be a non-empty array of strings");
  for (std::size_t i = 0; i < chans->size(); ++i) {
    const std::string at = r.at("channels") + "[" + std::to_string(i) + "]";
    if (!(*chans)[i].is_string()) r.fail(at, "must be a string");
    const auto name = (*chans)[i].get<std::string>();
    if (auto why = login_only_reason(v, name); !why.empty()) r.fail(at, why);
    channel_spec c = parse_channel(v, name);
    if (c.id == channel::unknown)
      r.fail(at, "unknown " + std::string(find_venue(v)->title) + " channel " + in_quotes(name) + " (known: " +
                     std::string(find_venue(v)->channel_spellings) + ")");
    for (const auto& other : vc.channels)
      if (other.name == name) r.fail(at, in_quotes(name) + " listed twice");
    // One connection serves one URL path (Binance USD-M routes /public and /market since
    // 2026-04-23; a stream on the other path stays silent): each route the channels need is
    // a connection of its own (connections(), group_view()).
    const std::string route(channel_rule_of(c.id).route);
    if (vc.channels.empty()) vc.routes = {route};
    else if (std::find(vc.routes.begin(), vc.routes.end(), route) == vc.routes.end()) vc.routes.push_back(route);
    vc.channels.push_back(std::move(c));
  }
  // A channel applies to the symbols the venue serves it for (OKX funding-rate: swaps only);
  // one that no symbol of the section takes is a mistake: one line, before a feeder subscribes.
  for (std::size_t i = 0; i < vc.channels.size(); ++i) {
    const channel ch = vc.channels[i].id;
    if (std::none_of(vc.symbols.begin(), vc.symbols.end(), [&](const std::string& s) { return vc.carries(s, ch); }))
      r.fail(r.at("channels") + "[" + std::to_string(i) + "]",
             d.subscription_problem(ch, vc.symbols.front()) + ": no symbol of the section takes it");
  }
  if (const json* g = r.get("groups", false)) {
    if (!g->is_number_integer() || g->get<std::int64_t>() < 1 || g->get<std::int64_t>() > kMaxGroups)
      r.fail(r.at("groups"), "must be an integer 1.." + std::to_string(kMaxGroups));
    vc.groups = g->get<std::uint32_t>();
  }
  // Every symbol × channel it takes of a connection group is a stream on that group's
  // connection (Binance: 1024 at most).
  std::vector<std::size_t> per_group(vc.groups, 0);
  for (const auto& s : vc.symbols) ++per_group[vc.group_of(s)];
  for (std::uint32_t g = 0; g < vc.groups; ++g)
    if (per_group[g] == 0)
      r.fail(r.at("groups"), "group " + std::to_string(g) + " of " + std::to_string(vc.groups) +
                                 " has no symbol (a symbol's group is a hash of its name): configure fewer groups");
  for (std::uint32_t g = 0; g < vc.connections(); ++g) {
    const venue_config gv = group_view(vc, g);
    std::size_t streams = 0;
    for (const auto& s : gv.symbols)
      for (const auto& c : gv.channels) streams += vc.carries(s, c.id) ? 1 : 0;
    const std::string which = vc.connections() == 1 ? std::string()
                              : " (connection group " + std::to_string(g) + (vc.routes.size() > 1 ? ", " + vc.routes[g / vc.groups] : std::string()) + ")";
    if (streams == 0)
      r.fail(r.at("channels"), "no stream on one connection" + which + ": none of its symbols takes its channels");
    if (const std::uint32_t max = d.connection.max_streams; max != 0 && streams > max)
      r.fail(vc.groups == 1 ? r.at("symbols") : r.at("groups"),
             std::to_string(gv.symbols.size()) + " symbols x " + std::to_string(gv.channels.size()) + " channels = " +
                 std::to_string(streams) + " streams on one connection" + which + "; " + std::string(d.title) +
                 " allows " + std::to_string(max) + " (" + std::string(d.connection.source) +
                 "): configure more groups, or fewer symbols or channels");
  }

  if (const json* slots = r.get("slots", false)) {
    if (!slots->is_array() || slots->empty() || slots->size() > 2)
      r.fail(r.at("slots"), "must be an array of one or two of \"A\", \"B\"");
    for (std::size_t i = 0; i < slots->size(); ++i) {
      const std::string at = r.at("slots") + "[" + std::to_string(i) + "]";
      const slot_id s = (*slots)[i].is_string() ? slot_from_string((*slots)[i].get<std::string>()) : slot_id::none;
      if (s == slot_id::none) r.fail(at, "must be \"A\" or \"B\"");
      if (vc.has_slot(s)) r.fail(at, "slot listed twice");
      vc.slots.push_back(s);
    }
  } else {
    vc.slots = {slot_id::a, slot_id::b};
  }

  vc.policy = read_policy(r, v);
  r.finish();
  return vc;
}

}  // namespace

bool venue_config::has_slot(slot_id s) const noexcept {
  return std::find(slots.begin(), slots.end(), s) != slots.end();
}

std::uint32_t venue_config::group_of(std::string_view symbol) const noexcept {
  if (groups <= 1) return 0;
  std::uint32_t h = 2166136261u;  // FNV-1a 32: the name alone decides, so the others never move
  for (const char c : symbol) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619u;
  }
  return h % groups;
}

std::uint32_t venue_config::connection_of(std::string_view symbol, channel ch) const noexcept {
  const std::string_view route = channel_rule_of(ch).route;
  const auto it = std::find(routes.begin(), routes.end(), route);
  const auto r = static_cast<std::uint32_t>(it == routes.end() ? 0 : it - routes.begin());
  return r * groups + group_of(symbol);
}

bool venue_config::carries(std::string_view symbol, channel ch) const {
  const venue_descriptor* d = find_venue(id);
  return d == nullptr || d->subscription_problem == nullptr || d->subscription_problem(ch, symbol).empty();
}

venue_config group_view(const venue_config& v, std::uint32_t g) {
  venue_config out = v;
  out.group = g;
  const std::uint32_t symbol_group = v.groups > 0 ? g % v.groups : 0;
  const std::size_t route = v.groups > 0 ? g / v.groups : 0;
  out.symbols.clear();
  for (const auto& s : v.symbols)
    if (v.group_of(s) == symbol_group) out.symbols.push_back(s);
  if (v.routes.size() > 1) {
    out.channels.clear();
    for (const auto& c : v.channels)
      if (route < v.routes.size() && channel_rule_of(c.id).route == v.routes[route]) out.channels.push_back(c);
  }
  return out;
}

const venue_config* bus_config::find(venue v) const noexcept {
  for (const auto& vc : venues)
    if (vc.id == v) return &vc;
  return nullptr;
}

std::string_view to_string(idle_mode m) noexcept {
  switch (m) {
    case idle_mode::spin: return "spin";
    case idle_mode::backoff: return "backoff";
    case idle_mode::wait: return "wait";
  }
  return "?";
}

bool idle_mode_from_string(std::string_view s, idle_mode& out) noexcept {
  for (const idle_mode m : {idle_mode::spin, idle_mode::backoff, idle_mode::wait})
    if (s == to_string(m)) {
      out = m;
      return true;
    }
  return false;
}

slot_id slot_from_string(std::string_view s) noexcept {
  if (s == "A") return slot_id::a;
  if (s == "B") return slot_id::b;
  return slot_id::none;
}

channel_spec parse_channel(venue v, std::string_view name) {
  channel_spec c;
  c.name = std::string(name);
  if (const venue_descriptor* d = find_venue(v)) {
    const parsed_channel p = d->parse_channel(name);
    c.id = p.id;
    c.variant = std::string(p.variant);
  }
  return c;
}

std::string login_only_reason(venue v, std::string_view name) {
  const venue_descriptor* d = find_venue(v);
  return d == nullptr ? std::string() : d->login_only_reason(name);
}

std::uint32_t counters_capacity(const bus_config& c) noexcept {
  std::uint64_t streams = 0, slots = 0;
  for (const auto& v : c.venues) {
    streams += v.symbols.size() * (v.channels.size() + 1);  // + the reference stream
    slots += v.slots.size() * v.connections();
  }
  constexpr std::uint64_t kPerStream = 10, kPerSlot = 32, kBus = 64;
  const std::uint64_t want = std::max<std::uint64_t>(4096, 2 * (kBus + streams * kPerStream + slots * kPerSlot));
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(want, kMaxCountersLimit));
}

std::uint64_t config_identity(const bus_config& c, const venue_config& v) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&h](std::string_view s) {
    for (const char ch : s) {
      h ^= static_cast<unsigned char>(ch);
      h *= 0x100000001b3ULL;
    }
    h ^= 0xff;  // separator: ("ab","c") and ("a","bc") differ
    h *= 0x100000001b3ULL;
  };
  mix(c.bus);
  mix(to_string(v.id));
  if (v.connections() > 1) mix("g" + std::to_string(v.group) + "/" + std::to_string(v.connections()));
  for (const auto& s : v.symbols) mix(s);
  mix("|");
  for (const auto& ch : v.channels) mix(ch.name);
  mix("|");
  for (const std::uint64_t n : {c.rings.feeder_bytes, c.rings.feeder_max_frame, c.rings.output_bytes, c.rings.output_max_frame})
    mix(std::string_view(reinterpret_cast<const char*>(&n), sizeof n));
  return h == 0 ? 1 : h;
}

bus_config parse_config(std::string_view text, const std::string& source, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw config_error(source + ": not valid JSON: " + e.what());
  }
  object_reader r(j, "", source);
  bus_config c;
  c.source = source;
  c.bus = r.string("bus", true);
  try {
    (void)segment_name(c.bus, "x");
  } catch (const segment_error&) {
    r.fail("bus", in_quotes(c.bus) + " must be 1-64 characters of [A-Za-z0-9_-]");
  }
  const std::string mode = r.string("segment_mode", false, "0600");
  if (mode == "0600") {
    c.segment_mode = 0600;
  } else if (mode == "0640") {
    c.segment_mode = 0640;
  } else {
    r.fail("segment_mode", in_quotes(mode) + " must be \"0600\" (owner only) or \"0640\" (group-readable)");
  }

  if (const json* rings = r.get("rings", false)) {
    object_reader rr(*rings, "rings", source);
    constexpr std::int64_t kMaxRing = std::int64_t{1} << 40;
    c.rings.feeder_bytes = static_cast<std::uint64_t>(rr.integer("feeder_bytes", false, static_cast<std::int64_t>(c.rings.feeder_bytes), 4096, kMaxRing));
    c.rings.feeder_max_frame = static_cast<std::uint64_t>(rr.integer("feeder_max_frame", false, static_cast<std::int64_t>(c.rings.feeder_max_frame), static_cast<std::int64_t>(kMinFrame), kMaxRing));
    c.rings.output_bytes = static_cast<std::uint64_t>(rr.integer("output_bytes", false, static_cast<std::int64_t>(c.rings.output_bytes), 4096, kMaxRing));
    c.rings.output_max_frame = static_cast<std::uint64_t>(rr.integer("output_max_frame", false, static_cast<std::int64_t>(c.rings.output_max_frame), static_cast<std::int64_t>(kMinFrame), kMaxRing));
    rr.finish();
    if (auto why = check_geometry(spsc_ring_geometry{c.rings.feeder_bytes, c.rings.feeder_max_frame}); !why.empty())
      rr.fail("rings.feeder_bytes", "feeder ring: " + why);
    if (auto why = check_geometry(broadcast_ring_geometry{c.rings.output_bytes, c.rings.output_max_frame}); !why.empty())
      rr.fail("rings.output_bytes", "output ring: " + why);
  }

  if (const json* m = r.get("merge", false)) {
    object_reader mr(*m, "merge", source);
    c.merge.hole_fill_ms = mr.integer("hole_fill_ms", false, c.merge.hole_fill_ms, 0, 60'000);
    c.merge.resync_retry_ms = mr.integer("resync_retry_ms", false, c.merge.resync_retry_ms, 10, 3'600'000);
    c.merge.backfill_bound_ms = mr.integer("backfill_bound_ms", false, c.merge.backfill_bound_ms, 0, 60'000);
    const std::string idle = mr.string("idle", false, "wait");
    if (!idle_mode_from_string(idle, c.merge.idle))
      mr.fail("merge.idle", in_quotes(idle) +
                                " must be \"wait\" (sleep until a feeder rings), \"spin\" (busy-poll) or \"backoff\" (timed pauses)");
    c.merge.idle_sleep_max_us = mr.integer("idle_sleep_max_us", false, c.merge.idle_sleep_max_us, 1, 100'000);
    c.merge.idle_spin_us = mr.integer("idle_spin_us", false, c.merge.idle_spin_us, 0, 1'000'000);
    c.merge.hold_bytes_per_stream = mr.integer("hold_bytes_per_stream", false, c.merge.hold_bytes_per_stream, 0, std::int64_t{1} << 30);
    c.merge.hold_records_per_stream = mr.integer("hold_records_per_stream", false, c.merge.hold_records_per_stream, 0, 1 << 20);
    mr.finish();
    if (static_cast<std::uint64_t>(c.merge.hold_bytes_per_stream) < c.rings.feeder_max_frame && c.merge.hold_bytes_per_stream != 0)
      mr.fail("merge.hold_bytes_per_stream", "must be 0 or at least rings.feeder_max_frame (" +
                                                 std::to_string(c.rings.feeder_max_frame) + "), so any record can wait in a hole");
  }

  if (const json* sc = r.get("scheduling", false)) {
    object_reader scr(*sc, "scheduling", source);
    c.scheduling.wake_slice_us = scr.integer("wake_slice_us", false, c.scheduling.wake_slice_us, 0, kMaxWakeSliceUs);
    scr.finish();
    if (c.scheduling.wake_slice_us != 0 && c.scheduling.wake_slice_us < kMinWakeSliceUs)
      scr.fail("scheduling.wake_slice_us", std::to_string(c.scheduling.wake_slice_us) + " must be 0 (the kernel's default) or " +
                                               std::to_string(kMinWakeSliceUs) + ".." + std::to_string(kMaxWakeSliceUs) +
                                               " (the kernel clamps a slice to that range)");
  }

  if (const json* br = r.get("bridge", false)) read_bridge(*br, c.bridge, source);

  // A private runtime directory, never a shared /tmp path (bus/runtime_dir.hpp).
  c.supervisor.control_socket = default_control_socket(c.bus);
  if (const json* sv = r.get("supervisor", false)) {
    object_reader sr(*sv, "supervisor", source);
    c.supervisor.control_socket = sr.string("control_socket", false, c.supervisor.control_socket);
    if (c.supervisor.control_socket.empty() || c.supervisor.control_socket.size() > 107)
      sr.fail("supervisor.control_socket", "must be a path of 1..107 characters (a unix socket path)");
    c.supervisor.metrics_port = static_cast<int>(sr.integer("metrics_port", false, c.supervisor.metrics_port, -1, 65535));
    auto& ss = c.supervisor;
    ss.restart_backoff_min_ms = sr.integer("restart_backoff_min_ms", false, ss.restart_backoff_min_ms, 1, 3'600'000);
    ss.restart_backoff_max_ms = sr.integer("restart_backoff_max_ms", false, ss.restart_backoff_max_ms, ss.restart_backoff_min_ms, 3'600'000);
    ss.heartbeat_timeout_ms = sr.integer("heartbeat_timeout_ms", false, ss.heartbeat_timeout_ms, 100, 3'600'000);
    ss.crash_loop_restarts = sr.integer("crash_loop_restarts", false, ss.crash_loop_restarts, 2, 1000);
    ss.crash_loop_window_ms = sr.integer("crash_loop_window_ms", false, ss.crash_loop_window_ms, 100, 86'400'000);
    ss.health_window_ms = sr.integer("health_window_ms", false, ss.health_window_ms, 100, 3'600'000);
    ss.health_min_rate_percent = sr.integer("health_min_rate_percent", false, ss.health_min_rate_percent, 0, 100);
    ss.health_min_partner_rate = sr.integer("health_min_partner_rate", false, ss.health_min_partner_rate, 0, 10'000'000);
    ss.rotation_sync_wait_ms = sr.integer("rotation_sync_wait_ms", false, ss.rotation_sync_wait_ms, 0, 3'600'000);
    sr.finish();
  }

  const json* venues = r.get("venues", true);
  if (!venues->is_object() || venues->empty()) r.fail("venues", "must be an object with at least one venue");
  for (const auto& [key, value] : venues->items()) {
    const std::string path = "venues." + key;
    const venue_descriptor* d = find_venue(std::string_view(key));
    if (d == nullptr) r.fail(path, "unknown venue (known: " + known_venue_names() + ")");
    c.venues.push_back(read_venue(value, path, d->id, source, base_dir));
  }
  r.finish();
  return c;
}

std::string read_config_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error(path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw config_error(path + ": read failed");
  return text.str();
}

std::string config_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : (slash == 0 ? std::string("/") : path.substr(0, slash));
}

bus_config load_config(const std::string& path) { return parse_config(read_config_text(path), path, config_dir(path)); }

}  // namespace mdbus::config
