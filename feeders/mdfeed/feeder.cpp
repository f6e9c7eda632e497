#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace mdbus::feed {
namespace {

constexpr std::int64_t kMs = 1'000'000;
// Log keys beyond the parse_error reasons (which use their own values).
// The merger's doorbell: looked for every 100 ms until it exists, then checked for a
// replacement once a second (a replaced bell costs the merger at most its 20 ms sleep cap).
constexpr std::int64_t kBellAttachEveryNs = 100 * kMs;
constexpr std::int64_t kBellCheckEveryNs = 1'000 * kMs;
constexpr unsigned kKeyNotice = 16;
constexpr unsigned kKeyVenueError = 17;
constexpr unsigned kKeyPace = 23;  // feeder_stale.cpp has 22
static_assert(static_cast<unsigned>(parse_error::count_) <= kKeyNotice);
static_assert(static_cast<std::size_t>(parse_error::count_) <= kFeederErrorSlots);

/// The process's part of the venue's section: its connection group's symbols only.
config::venue_config venue_section(const config::bus_config& cfg, const feeder_options& o) {
  const config::venue_config* vc = cfg.find(o.venue_id);
  if (vc == nullptr)
    throw config::config_error(cfg.source + ": venues." + std::string(to_string(o.venue_id)) + ": not configured");
  if (!vc->has_slot(o.slot))
    throw config::config_error(cfg.source + ": venues." + std::string(to_string(o.venue_id)) + ".slots: has no slot " +
                               std::string(to_string(o.slot)));
  if (o.group >= vc->connections())
    throw config::config_error(cfg.source + ": venues." + std::string(to_string(o.venue_id)) + ": " +
                               std::to_string(vc->connections()) + " connection group(s), no group " + std::to_string(o.group));
  return config::group_view(*vc, o.group);
}

adapter_options adapter_options_for(const config::bus_config& cfg, const config::venue_config& vc, slot_id slot) {
  adapter_options a;
  a.slot = slot;
  a.max_record_bytes = cfg.rings.feeder_max_frame < kMaxRecordSize ? cfg.rings.feeder_max_frame : kMaxRecordSize;
  a.max_message_bytes = vc.policy.max_message_bytes;
  return a;
}

ws_client_options transport_options(const config::venue_config& vc) {
  ws_client_options o;
  o.tls = vc.ep.tls;
  o.ca_file = vc.ep.ca_file;
  o.max_message_bytes = vc.policy.max_message_bytes;
  return o;
}

std::vector<subscription> subscriptions_of(const config::venue_config& vc) {
  std::vector<subscription> subs;
  for (const auto& sym : vc.symbols)
    for (const auto& ch : vc.channels)
      if (vc.carries(sym, ch.id)) subs.push_back({ch.id, sym, ch.variant});  // OKX funding-rate: swaps only
  return subs;
}

}  // namespace

feeder::feeder(const config::bus_config& cfg, const feeder_options& options)
    : venue_(venue_section(cfg, options)),
      config_id_(config::config_identity(cfg, venue_)),
      options_(options),
      name_(feeder_display_name(options.venue_id, options.slot, options.group)),
      ring_(spsc_ring_writer::create(feeder_ring_name(cfg.bus, options.venue_id, options.slot, options.group),
                                     {cfg.rings.feeder_bytes, cfg.rings.feeder_max_frame}, cfg.segment_mode)),
      bell_name_(merge_doorbell_name(cfg.bus)),
      status_(feeder_status_writer::create(feeder_status_name(cfg.bus, options.venue_id, options.slot, options.group), options.venue_id,
                                           options.slot, cfg.segment_mode)),
      control_name_(feeder_control_name(cfg.bus, options.venue_id, options.slot, options.group)),
      control_path_("/dev/shm/" + control_name_),
      adapter_(make_adapter(options.venue_id, adapter_options_for(cfg, venue_, options.slot))),
      budget_(venue_budget::open_or_create(cfg.bus, options.venue_id, default_venue_limits(options.venue_id), cfg.segment_mode)),
      sink_(ring_),
      log_("mdfeed " + name_, options.log_interval_ms),
      backoff_(venue_.policy.reconnect_min_ms, venue_.policy.reconnect_max_ms,
               static_cast<std::uint64_t>(getpid()) * 0x9E3779B97F4A7C15ULL ^ static_cast<std::uint64_t>(mono_ns())) {
  if (adapter_ == nullptr) throw std::runtime_error("mdfeed: no adapter for venue " + std::string(to_string(options.venue_id)));
  const std::vector<subscription> subs = subscriptions_of(venue_);
  target_.host = venue_.ep.host;
  target_.port = venue_.ep.port;
  target_.server_name = venue_.ep.server_name;
  target_.path = adapter_->ws_path(subs);  // throws std::invalid_argument for a sub the venue refuses
  // feeders/CONFORMANCE.md "Hosts and REST" (checked 2026-12): the stream hosts serve no REST.
  rest_target_.host = venue_.rest_ep.host;
  rest_target_.port = venue_.rest_ep.port;
  rest_target_.server_name = venue_.rest_ep.server_name;
  subscribe_messages_ = adapter_->subscribe_messages(subs);
  if (const venue_descriptor* d = find_venue(options.venue_id); d != nullptr && d->connection.control_messages_per_s > 0)
    subscribe_gap_ns_ = 2'000'000'000LL / d->connection.control_messages_per_s;
  adapter_->set_subscriptions(subs);  // data of any other stream is refused (unknown_stream)
  status_.fields().alloc_counting.store(options_.allocations != nullptr ? 1 : 0, std::memory_order_relaxed);
  status_.fields().config_id.store(config_id_, std::memory_order_relaxed);
  ws_ = std::make_unique<ws_client>(static_cast<ws_events&>(*this), transport_options(venue_));
  build_resync_table();
  build_stale_table();
}

feeder::~feeder() {
  finished_ = true;  // whatever lws reports while it tears down is no longer acted on
  ws_.reset();
}

int feeder::run() {
  const std::int64_t now = mono_ns();
  log_.always("started (pid %d): %s%s:%u%s, ring %s", static_cast<int>(getpid()), venue_.ep.tls ? "wss://" : "ws://",
              target_.host.c_str(), static_cast<unsigned>(target_.port), target_.path.c_str(), ring_.segment().name().c_str());
  if (options_.start_down) {
    intent_ = intent::disconnected;
    set_state(feeder_state::down, slot_reason::operator_request, "waiting for a connect command");
  } else {
    start_connect(now);
  }
  while (!finished_) {
    ws_->service();
    // The merger, if asleep, wakes once a pass for every record the pass wrote: the messages
    // of one socket read (a venue's 100 ms book windows close together, a burst of one per
    // instrument), REST answers, the tick's. Once a message woke the merger for each message
    // of a burst, each wake-up a context switch on cores the feeders need: at 50 k msgs/s the
    // merger took twice the CPU and the bus's p99 was 2-3x longer (bench/RESULTS.md, e2e).
    ring_.notify();
  }
  return exit_code_;
}

// ---- connection lifecycle ----------------------------------------------------------------

void feeder::start_connect(std::int64_t now) noexcept {
  // Every attempt of every slot of the venue shares one pace inside the venue's limit
  // (Binance 300 connection attempts per 5 minutes per IP, OKX 3 connection requests per
  // second per IP; feeders/CONFORMANCE.md): rotations and crash loops included.
  if (const budget_decision d = budget_.try_connect(); !d.granted()) {
    const std::int64_t wait = std::max<std::int64_t>(d.retry_in_ns, kMs);
    reconnect_at_ = now + wait;
    bump(status_.fields().connect_deferrals);
    log_.log(kKeyPace, now, "connection attempt deferred %lld ms: the venue's connection pace (%s)",
             static_cast<long long>(wait / kMs), std::string_view(to_string(d.reason)).data());
    return;
  }
  ++connection_;
  bump(status_.fields().connections);
  if (connection_ > 1) bump(status_.fields().reconnects);
  reconnect_at_ = 0;
  ping_sent_ = 0;
  live_since_ = 0;
  attempt_start_ = now;
  close_reason_ = slot_reason::none;
  close_text_[0] = '\0';
  set_state(feeder_state::connecting, connection_ == 1 ? slot_reason::startup : slot_reason::none);
  try {
    (void)ws_->connect(target_);  // a refusal at once has reported on_closed already
  } catch (const std::exception& e) {  // allocation failure building the request: treat as a failed attempt
    note_error("connect: %s", e.what());
  }
}

void feeder::on_established() noexcept {
  if (finished_) return;
  const std::int64_t now = mono_ns();
  last_rx_ = now;
  stale_.connection_started(now);
  status_.fields().connect_time_ns.store(wall_ns(), std::memory_order_relaxed);
  subscribe_sent_ = 0;
  next_subscribe_ = now;
  if (!send_subscriptions(now)) return;
  set_state(feeder_state::subscribed, slot_reason::none);
  log_.always("connection %llu established; %zu of %zu subscribe request(s) sent%s", static_cast<unsigned long long>(connection_),
              subscribe_sent_, subscribe_messages_.size(), subscribe_sent_ < subscribe_messages_.size() ? ", the rest paced" : "");
  resync_on_established(now);
  if (intent_ != intent::run) begin_close(slot_reason::operator_request, "command arrived while connecting", now);
}

bool feeder::send_subscriptions(std::int64_t now) noexcept {
  try {
    while (subscribe_sent_ < subscribe_messages_.size() && now >= next_subscribe_) {
      ws_->send_text(subscribe_messages_[subscribe_sent_++]);  // copies: allocation at connect time only
      if (subscribe_gap_ns_ > 0) next_subscribe_ = now + subscribe_gap_ns_;
    }
  } catch (const std::exception& e) {
    note_error("subscribe: %s", e.what());
    drop(slot_reason::network_error, "cannot queue the subscriptions", now);
    return false;
  }
  return true;
}

void feeder::on_closed(const close_info& info) noexcept {
  if (finished_) return;
  const std::int64_t now = mono_ns();
  feeder_status& f = status_.fields();
  f.connect_time_ns.store(0, std::memory_order_relaxed);
  slot_reason why = close_reason_;
  if (!info.by_us) {
    if (info.established) {
      bump(f.remote_closes);
      why = slot_reason::remote_close;
    } else {
      bump(f.connect_failures);
      why = slot_reason::handshake_failed;
    }
    if (info.code != 0) {
      std::snprintf(close_text_, sizeof close_text_, "close code %d %.*s", info.code, static_cast<int>(info.text.size()),
                    info.text.data());
    } else {
      std::snprintf(close_text_, sizeof close_text_, "%.*s", static_cast<int>(info.text.size()), info.text.data());
    }
    note_error("connection %llu %s: %s", static_cast<unsigned long long>(connection_),
               info.established ? "closed by the venue" : "failed", close_text_);
  } else if (!info.established && why == slot_reason::none) {
    bump(f.connect_failures);
  }
  const bool was_healthy = live_since_ != 0 && now - live_since_ >= venue_.policy.reconnect_max_ms * kMs;
  live_since_ = 0;
  ping_sent_ = 0;
  resync_on_closed();

  if (intent_ == intent::stopping) {
    finish(now);
    return;
  }
  if (intent_ == intent::disconnected) {
    set_state(feeder_state::down, slot_reason::operator_request, "disconnected on command");
    return;
  }
  if (reconnect_now_) {
    reconnect_now_ = false;
    set_state(feeder_state::down, slot_reason::operator_request, "reconnect on command");
    start_connect(now);
    return;
  }
  // A connection that stayed live longer than the longest backoff proves the venue is
  // healthy again: start from the shortest delay. Anything shorter keeps doubling, so a
  // venue that accepts and cuts at once cannot drive a reconnect storm.
  if (was_healthy) backoff_.reset();
  const std::int64_t delay_ms = backoff_.next_delay_ms();
  reconnect_at_ = now + delay_ms * kMs;
  set_state(feeder_state::down, why == slot_reason::none ? slot_reason::network_error : why, close_text_);
  log_.always("connection %llu down (%s%s%s); reconnecting in %lld ms", static_cast<unsigned long long>(connection_),
              std::string_view(to_string(why)).data(), close_text_[0] != '\0' ? ": " : "", close_text_,
              static_cast<long long>(delay_ms));
}

/// Drop the connection now (watchdogs): no close frame, the venue may be gone.
void feeder::drop(slot_reason why, const char* text, std::int64_t now) noexcept {
  (void)now;
  close_reason_ = why;
  std::snprintf(close_text_, sizeof close_text_, "%s", text);
  note_error("connection %llu: %s", static_cast<unsigned long long>(connection_), text);
  ws_->abort();
}

/// Close gracefully (commands, stop): a close frame, then at most drain_timeout_ms.
void feeder::begin_close(slot_reason why, const char* text, std::int64_t now) noexcept {
  close_reason_ = why;
  std::snprintf(close_text_, sizeof close_text_, "%s", text);
  if (!ws_->established()) {
    ws_->abort();
    return;
  }
  drain_deadline_ = now + venue_.policy.drain_timeout_ms * kMs;
  set_state(feeder_state::draining, why, text);
  ws_->close(text);
}

void feeder::request_stop(const char* why, std::int64_t now) noexcept {
  intent_ = intent::stopping;
  reconnect_at_ = 0;
  log_.always("stopping: %s", why);
  if (ws_->active()) {
    begin_close(slot_reason::operator_request, why, now);
  } else {
    finish(now);
  }
}

void feeder::finish(std::int64_t now) noexcept {
  (void)now;
  set_state(feeder_state::stopped, slot_reason::operator_request, "stopped");
  if (stop_acked_pending_) status_.ack(stop_word_, command_result::accepted, wall_ns());
  ring_.segment().heartbeat(mono_ns());
  status_.segment().heartbeat(mono_ns());
  log_.always("stopped: %llu messages, %llu records, %llu parse errors, %llu ring overflows, %llu reconnects",
              static_cast<unsigned long long>(status_.fields().messages.load(std::memory_order_relaxed)),
              static_cast<unsigned long long>(status_.fields().records.load(std::memory_order_relaxed)),
              static_cast<unsigned long long>(status_.fields().parse_errors_total.load(std::memory_order_relaxed)),
              static_cast<unsigned long long>(sink_.dropped()),
              static_cast<unsigned long long>(status_.fields().reconnects.load(std::memory_order_relaxed)));
  finished_ = true;
}

// ---- hot path ----------------------------------------------------------------------------

void feeder::on_message(simdjson::padded_string_view data, bool binary, std::int64_t first_byte_ns) noexcept {
  if (finished_) return;
  const std::int64_t now = mono_ns();
  feeder_status& f = status_.fields();
  last_rx_ = now;
  bump(f.messages);
  bump(f.bytes, data.size());
  f.last_message_ns.store(first_byte_ns, std::memory_order_relaxed);
  if (binary) {  // neither venue sends binary frames: whatever it is, it is not JSON text
    count_error(parse_error::not_json, "binary frame", {data.data(), data.size()}, now);
    return;
  }
  record_now_ = now;  // the stale watch's clock for the records this message commits
  const parse_result r = adapter_->parse(data, first_byte_ns, sink_);
  if (r.records > 0) {
    bump(f.records, r.records);
  }
  f.ring_overflows.store(sink_.dropped(), std::memory_order_relaxed);
  if (r.event == control_event::pong) {
    bump(f.pongs_received);
    ping_sent_ = 0;
  }
  if (r.error != parse_error::none) count_error(r.error, r.detail, {data.data(), data.size()}, now);
  switch (r.event) {
    case control_event::going_away:
      // The supervisor rotates the slot make-before-break on this (ARCHITECTURE.md "Supervision");
      // alone, the feeder keeps the connection until the venue closes it and then reconnects.
      bump(f.venue_notices);
      if (log_.log(kKeyNotice, now, "venue announced it will close this connection: %.*s", static_cast<int>(r.detail.size()),
                   r.detail.data()))
        note_error("venue going-away notice");
      break;
    case control_event::venue_error:
      bump(f.venue_errors);
      break;
    case control_event::none:
    case control_event::subscribed:
    case control_event::unsubscribed:  // the first half of an OKX resync
    case control_event::pong:
      break;
  }
  if (r.records > 0 && live_since_ == 0) {
    live_since_ = now;
    set_state(feeder_state::live, slot_reason::none);
    log_.always("connection %llu live", static_cast<unsigned long long>(connection_));  // once per connection
  }
}

void feeder::on_oversize(std::uint64_t bytes) noexcept {
  if (finished_) return;
  const std::int64_t now = mono_ns();
  feeder_status& f = status_.fields();
  last_rx_ = now;
  bump(f.messages);
  bump(f.bytes, bytes);
  char detail[64];
  std::snprintf(detail, sizeof detail, "%llu bytes, limit %llu", static_cast<unsigned long long>(bytes),
                static_cast<unsigned long long>(venue_.policy.max_message_bytes));
  count_error(parse_error::message_too_large, detail, {}, now);
}

void feeder::on_pong() noexcept {
  if (finished_) return;
  last_rx_ = mono_ns();
  ping_sent_ = 0;
  bump(status_.fields().pongs_received);
}

void feeder::count_error(parse_error e, std::string_view detail, std::string_view message, std::int64_t now) noexcept {
  feeder_status& f = status_.fields();
  const auto i = static_cast<unsigned>(e);
  if (i < kFeederErrorSlots) bump(f.parse_errors[i]);
  bump(f.parse_errors_total);
  const unsigned key = e == parse_error::venue_error ? kKeyVenueError : i;
  char sample[97];
  log_limiter::sanitize(message, sample, 96);
  if (log_.log(key, now, "dropped a message: %s (%.*s)%s%s", std::string_view(to_string(e)).data(),
               static_cast<int>(detail.size()), detail.data(), sample[0] != '\0' ? ": " : "", sample))
    note_error("dropped a message: %s (%.*s)", std::string_view(to_string(e)).data(), static_cast<int>(detail.size()),
               detail.data());
}

// ---- timer: watchdogs, commands, heartbeats ------------------------------------------------

void feeder::on_tick() noexcept {
  if (finished_) return;
  const std::int64_t now = mono_ns();
  if (options_.stop_flag != nullptr && *options_.stop_flag != 0 && intent_ != intent::stopping)
    request_stop("signal", now);
  poll_control(now);
  if (finished_) return;
  ring_.segment().heartbeat(now);
  status_.segment().heartbeat(now);
  feeder_status& f = status_.fields();
  if (options_.allocations != nullptr) f.allocations.store(options_.allocations(), std::memory_order_relaxed);
  f.ring_overflows.store(sink_.dropped(), std::memory_order_relaxed);
  if (ws_->established() && subscribe_sent_ < subscribe_messages_.size()) (void)send_subscriptions(now);
  advance_instruments(now);
  publish_reference(now);
  advance_resyncs(now);
  advance_backfills(now);
  check_watchdogs(now);
  attend_doorbell(now);
  // What this tick wrote (snapshots, slot status, command and REST answers) is rung by run()
  // at the end of this event-loop pass, with everything else the pass wrote.
}

void feeder::attend_doorbell(std::int64_t now) noexcept {
  if (now < next_bell_check_) return;
  next_bell_check_ = now + (bell_.valid() ? kBellCheckEveryNs : kBellAttachEveryNs);
  if (bell_.valid() ? !bell_.replaced() : !shm_segment::exists(bell_name_)) return;  // no allocation
  try {
    doorbell_segment fresh;
    std::string why;
    if (doorbell_segment::try_open(bell_name_, fresh, why) != attach_status::ok) return;  // no merger yet
    bell_ = std::move(fresh);
    ring_.attach_doorbell(bell_.line());
  } catch (...) {  // a string allocation on this idle path: try again on a later tick
  }
}

void feeder::check_watchdogs(std::int64_t now) noexcept {
  const config::venue_policy& p = venue_.policy;
  if (!ws_->active()) {
    if (intent_ == intent::run && reconnect_at_ != 0 && now >= reconnect_at_) start_connect(now);
    return;
  }
  if (!ws_->established()) {
    if (now - attempt_start_ > p.connect_timeout_ms * kMs && close_reason_ == slot_reason::none)
      drop(slot_reason::handshake_failed, "connect timeout", now);
    return;
  }
  if (status_.state() == feeder_state::draining) {
    if (now > drain_deadline_) ws_->abort();  // the venue never answered our close
    return;
  }
  if (close_reason_ != slot_reason::none) return;  // already dropping
  char text[96];
  // Connection liveness is any byte or pong (ARCHITECTURE.md "Two watchdogs, not one"): OKX
  // keeps a connection whose instruments are all quiet open as long as our "ping" gets its
  // "pong" (feeders/CONFORMANCE.md "Connections and keepalive"), so a quiet market must not
  // trip this watchdog. A stream that stops on a connection that still delivers is the stale
  // watch's business.
  if (now - last_rx_ > p.no_data_ms * kMs) {
    bump(status_.fields().no_data_trips);
    std::snprintf(text, sizeof text, "nothing received for %lld ms, not even a pong (no_data_ms %lld)",
                  static_cast<long long>((now - last_rx_) / kMs), static_cast<long long>(p.no_data_ms));
    drop(slot_reason::idle_watchdog, text, now);
  } else if (ping_sent_ != 0 && now - ping_sent_ > p.pong_timeout_ms * kMs) {
    bump(status_.fields().pong_timeouts);
    std::snprintf(text, sizeof text, "no pong within %lld ms", static_cast<long long>(p.pong_timeout_ms));
    drop(slot_reason::pong_timeout, text, now);
  } else if (ping_sent_ == 0 && now - last_rx_ >= p.keepalive_ms * kMs) {
    // CONFORMANCE.md: OKX wants the text "ping" before 30 s of silence; Binance pings us, and a
    // WebSocket ping of ours (answered by a pong frame) proves the line when it is quiet.
    const std::string_view ka = adapter_->keepalive_text();
    if (ka.empty()) {
      ws_->send_ping();
    } else {
      ws_->send_text(std::string(ka));  // "ping": short-string storage, no allocation
    }
    ping_sent_ = now;
    bump(status_.fields().keepalives_sent);
  } else if (live_since_ != 0 && now >= next_stale_check_) {
    next_stale_check_ = now + 100 * kMs;
    check_stale_streams(now);
  }
}

}  // namespace mdbus::feed
