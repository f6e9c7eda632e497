#include "bus/feeder_block.hpp"

#include "bus/clock.hpp"

#include <cstdio>
#include <cstring>
#include <new>
#include <unistd.h>

namespace mdbus {
namespace {

bool valid_venue(std::uint64_t v) noexcept { return v <= 0xff && find_venue(static_cast<venue>(v)) != nullptr; }
bool valid_slot(std::uint64_t s) noexcept { return s == static_cast<std::uint64_t>(slot_id::a) || s == static_cast<std::uint64_t>(slot_id::b); }

segment_spec block_spec(const std::string& name, segment_kind kind, std::uint64_t size, venue v, slot_id s,
                        std::uint64_t third, mode_t mode) {
  if (!valid_venue(static_cast<std::uint64_t>(v))) throw segment_error("segment " + name + ": no venue given");
  if (!valid_slot(static_cast<std::uint64_t>(s))) throw segment_error("segment " + name + ": slot must be A or B");
  segment_spec spec;
  spec.name = name;
  spec.kind = kind;
  spec.total_size = size;
  spec.geometry = {static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(s), third};
  spec.mode = mode;
  return spec;
}

/// Checks what check_header() does not: the exact size and the geometry of a feeder block.
std::string check_block(const shm_segment& seg, std::uint64_t size, std::uint64_t third) {
  const auto& g = seg.header().geometry;
  if (seg.size() != size)
    return "segment " + seg.name() + ": " + std::to_string(seg.size()) + " bytes, this build's layout is " + std::to_string(size);
  if (!valid_venue(g[0])) return "segment " + seg.name() + ": venue " + std::to_string(g[0]) + " is not a known venue";
  if (!valid_slot(g[1])) return "segment " + seg.name() + ": slot " + std::to_string(g[1]) + " is not A or B";
  if (g[2] != third)
    return "segment " + seg.name() + ": geometry word " + std::to_string(g[2]) + ", expected " + std::to_string(third);
  return {};
}

}  // namespace

std::string_view to_string(feeder_state s) noexcept {
  switch (s) {
    case feeder_state::starting: return "starting";
    case feeder_state::connecting: return "connecting";
    case feeder_state::subscribed: return "subscribed";
    case feeder_state::live: return "live";
    case feeder_state::draining: return "draining";
    case feeder_state::down: return "down";
    case feeder_state::stopped: return "stopped";
  }
  return "unknown";
}

std::string_view to_string(feeder_command c) noexcept {
  switch (c) {
    case feeder_command::none: return "none";
    case feeder_command::connect: return "connect";
    case feeder_command::disconnect: return "disconnect";
    case feeder_command::reconnect: return "reconnect";
    case feeder_command::stop: return "stop";
    case feeder_command::rotate: return "rotate";
  }
  return "unknown";
}

std::string_view to_string(command_result r) noexcept {
  switch (r) {
    case command_result::none: return "none";
    case command_result::accepted: return "accepted";
    case command_result::baseline: return "baseline";
    case command_result::unknown: return "unknown";
  }
  return "unknown";
}

std::string slot_path(venue v, slot_id s, std::uint32_t group, char sep) {
  std::string p(to_string(v));
  p += sep;
  if (group != 0) {
    p += 'g';
    p += std::to_string(group);
    p += sep;
  }
  p += to_string(s);
  return p;
}

std::string feeder_object(venue v, slot_id s, std::uint32_t group) { return "feed." + slot_path(v, s, group); }

std::string feeder_ring_name(std::string_view bus, venue v, slot_id s, std::uint32_t group) {
  return segment_name(bus, feeder_object(v, s, group));
}
std::string feeder_status_name(std::string_view bus, venue v, slot_id s, std::uint32_t group) {
  return segment_name(bus, feeder_object(v, s, group) + ".status");
}
std::string feeder_control_name(std::string_view bus, venue v, slot_id s, std::uint32_t group) {
  return segment_name(bus, feeder_object(v, s, group) + ".control");
}
std::string feeder_display_name(venue v, slot_id s, std::uint32_t group) { return slot_path(v, s, group, '/'); }

// ---- status block ------------------------------------------------------------------------

feeder_status_writer feeder_status_writer::create(const std::string& name, venue v, slot_id s, mode_t mode) {
  feeder_status_writer w;
  w.segment_ = shm_segment::create_or_adopt(
      block_spec(name, segment_kind::status_block, kFeederStatusSize, v, s, kFeederErrorSlots, mode));
  w.status_ = std::launder(reinterpret_cast<feeder_status*>(w.segment_.body()));
  feeder_status& f = *w.status_;
  const std::int64_t now = wall_ns();
  // A fresh block is zero-filled; an adopted one keeps its counters (totals across restarts)
  // but describes the new process.
  f.start_time_ns.store(now, std::memory_order_relaxed);
  f.connect_time_ns.store(0, std::memory_order_relaxed);
  f.ack_result.store(static_cast<std::uint32_t>(command_result::none), std::memory_order_relaxed);
  w.set_state(feeder_state::starting, slot_reason::startup, now);
  // The pid last, with release: adopting took the writer lock and beat the heartbeat before
  // this block's state was ours, so for a moment a killed writer's "live" looks alive. A
  // reader that acquires our pid also sees our "starting" (or a later state of ours): the
  // supervisor trusts a state only under its own child's pid (rotation_gate.hpp).
  f.pid.store(getpid(), std::memory_order_release);
  return w;
}

void feeder_status_writer::set_state(feeder_state s, slot_reason why, std::int64_t now_wall_ns) noexcept {
  status_->reason.store(static_cast<std::uint32_t>(why), std::memory_order_relaxed);
  status_->state_since_ns.store(now_wall_ns, std::memory_order_relaxed);
  // release: the reason, the time and every field set before this transition (connect time,
  // counters) are visible to a reader that acquires this state; pairs with
  // feeder_status_reader::state().
  status_->state.store(static_cast<std::uint32_t>(s), std::memory_order_release);
}

feeder_state feeder_status_writer::state() const noexcept {
  return static_cast<feeder_state>(status_->state.load(std::memory_order_relaxed));  // our own field
}

void feeder_status_writer::ack(std::uint64_t word, command_result r, std::int64_t now_wall_ns) noexcept {
  status_->ack_result.store(static_cast<std::uint32_t>(r), std::memory_order_relaxed);
  status_->ack_time_ns.store(now_wall_ns, std::memory_order_relaxed);
  // release: the result and the state change the command caused are visible to a commander
  // that acquires ack_word; pairs with feeder_status_reader::ack_word().
  status_->ack_word.store(word, std::memory_order_release);
}

void feeder_status_writer::set_last_error(std::string_view text, std::int64_t now_wall_ns) noexcept {
  feeder_status& f = *status_;
  const std::size_t n = text.size() < kLastErrorCapacity ? text.size() : kLastErrorCapacity;
  const std::uint64_t seq = f.error_seq.load(std::memory_order_relaxed);
  // Seqlock without fences (the broadcast ring's argument): odd first; every word after it
  // is a release store, so a reader whose acquire load saw any new word also sees the odd
  // sequence on its re-check and discards the copy.
  f.error_seq.store(seq + 1, std::memory_order_relaxed);
  f.error_time_ns.store(now_wall_ns, std::memory_order_release);
  f.error_length.store(n, std::memory_order_release);
  for (std::size_t i = 0; i < kLastErrorCapacity / 8; ++i) {
    std::uint64_t word = 0;
    const std::size_t at = i * 8;
    if (at < n) std::memcpy(&word, text.data() + at, n - at < 8 ? n - at : 8);
    f.error_text[i].store(word, std::memory_order_release);
  }
  // release: the complete text; pairs with the reader's acquire of error_seq before its copy.
  f.error_seq.store(seq + 2, std::memory_order_release);
}

attach_status feeder_status_reader::try_open(const std::string& name, feeder_status_reader& out, std::string& reason) {
  attach_result r = shm_segment::try_open(name, segment_kind::status_block, access_mode::read_only);
  if (r.status != attach_status::ok) {
    reason = std::move(r.reason);
    return r.status;
  }
  if (auto why = check_block(r.segment, kFeederStatusSize, kFeederErrorSlots); !why.empty()) {
    reason = std::move(why);
    return attach_status::incompatible;
  }
  out.segment_ = std::move(r.segment);
  out.status_ = std::launder(reinterpret_cast<const feeder_status*>(out.segment_.body()));
  return attach_status::ok;
}

feeder_status_reader feeder_status_reader::open(const std::string& name, int wait_ms) {
  const std::int64_t deadline = mono_ns() + std::int64_t{wait_ms} * 1'000'000;
  feeder_status_reader rd;
  std::string reason;
  for (;;) {
    const attach_status s = try_open(name, rd, reason);
    if (s == attach_status::ok) return rd;
    if (s == attach_status::incompatible || mono_ns() >= deadline) throw segment_error(reason);
    usleep(1000);  // set-up path
  }
}

feeder_state feeder_status_reader::state() const noexcept {
  // acquire: pairs with set_state's release; the fields written before it are visible.
  return static_cast<feeder_state>(status_->state.load(std::memory_order_acquire));
}

bool feeder_status_reader::writer_alive() const noexcept { return segment_.is_locked_by_other(lock_role::writer); }

feeder_state feeder_status_reader::observed_state() const noexcept {
  const feeder_state written = state();
  return written == feeder_state::stopped || writer_alive() ? written : feeder_state::down;
}

std::uint64_t feeder_status_reader::ack_word() const noexcept {
  // acquire: pairs with ack()'s release; the command's effects on the block are visible.
  return status_->ack_word.load(std::memory_order_acquire);
}

std::string feeder_status_reader::last_error() const {
  const feeder_status& f = *status_;
  char buf[kLastErrorCapacity];
  for (int attempt = 0; attempt < 1000; ++attempt) {
    // acquire: pairs with the writer's final release of error_seq; its words are visible.
    const std::uint64_t s1 = f.error_seq.load(std::memory_order_acquire);
    if (s1 & 1U) continue;
    // acquire on each word: if any comes from a newer write, so does error_seq below.
    std::uint64_t n = f.error_length.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < kLastErrorCapacity / 8; ++i) {
      const std::uint64_t w = f.error_text[i].load(std::memory_order_acquire);
      std::memcpy(buf + i * 8, &w, 8);
    }
    if (f.error_seq.load(std::memory_order_relaxed) != s1) continue;
    if (n > kLastErrorCapacity) n = kLastErrorCapacity;  // never trust a length as an index
    return std::string(buf, n);
  }
  return {};
}

feeder_status_snapshot feeder_status_reader::snapshot() const {
  const feeder_status& f = *status_;
  feeder_status_snapshot s;
  const auto& g = segment_.header().geometry;
  s.venue_id = static_cast<venue>(g[0]);
  s.slot = static_cast<slot_id>(g[1]);
  s.writer_alive = writer_alive();
  s.state = observed_state();
  s.reason = s.writer_alive || s.state == feeder_state::stopped ? static_cast<slot_reason>(f.reason.load(std::memory_order_relaxed))
                                                                : slot_reason::process_exit;
  s.state_since_ns = f.state_since_ns.load(std::memory_order_relaxed);
  s.pid = f.pid.load(std::memory_order_relaxed);
  s.start_time_ns = f.start_time_ns.load(std::memory_order_relaxed);
  s.connect_time_ns = f.connect_time_ns.load(std::memory_order_relaxed);
  s.last_message_ns = f.last_message_ns.load(std::memory_order_relaxed);
  s.connections = f.connections.load(std::memory_order_relaxed);
  s.reconnects = f.reconnects.load(std::memory_order_relaxed);
  s.ack_word = ack_word();
  s.ack_result = static_cast<command_result>(f.ack_result.load(std::memory_order_relaxed));
  s.ack_time_ns = f.ack_time_ns.load(std::memory_order_relaxed);
  s.messages = f.messages.load(std::memory_order_relaxed);
  s.bytes = f.bytes.load(std::memory_order_relaxed);
  s.records = f.records.load(std::memory_order_relaxed);
  s.ring_overflows = f.ring_overflows.load(std::memory_order_relaxed);
  s.parse_errors_total = f.parse_errors_total.load(std::memory_order_relaxed);
  s.keepalives_sent = f.keepalives_sent.load(std::memory_order_relaxed);
  s.pongs_received = f.pongs_received.load(std::memory_order_relaxed);
  s.pong_timeouts = f.pong_timeouts.load(std::memory_order_relaxed);
  s.no_data_trips = f.no_data_trips.load(std::memory_order_relaxed);
  s.venue_notices = f.venue_notices.load(std::memory_order_relaxed);
  s.venue_errors = f.venue_errors.load(std::memory_order_relaxed);
  s.connect_failures = f.connect_failures.load(std::memory_order_relaxed);
  s.remote_closes = f.remote_closes.load(std::memory_order_relaxed);
  s.allocations = f.allocations.load(std::memory_order_relaxed);
  s.alloc_counting = f.alloc_counting.load(std::memory_order_relaxed);
  s.resync_requests = f.resync_requests.load(std::memory_order_relaxed);
  s.resyncs_done = f.resyncs_done.load(std::memory_order_relaxed);
  s.resync_failures = f.resync_failures.load(std::memory_order_relaxed);
  s.stale_resubscribes = f.stale_resubscribes.load(std::memory_order_relaxed);
  s.config_id = f.config_id.load(std::memory_order_relaxed);
  s.connect_deferrals = f.connect_deferrals.load(std::memory_order_relaxed);
  s.rest_deferrals = f.rest_deferrals.load(std::memory_order_relaxed);
  s.rest_rejections = f.rest_rejections.load(std::memory_order_relaxed);
  s.backfill_requests = f.backfill_requests.load(std::memory_order_relaxed);
  s.backfill_pages = f.backfill_pages.load(std::memory_order_relaxed);
  s.backfilled_trades = f.backfilled_trades.load(std::memory_order_relaxed);
  s.backfill_failures = f.backfill_failures.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kFeederErrorSlots; ++i) s.parse_errors[i] = f.parse_errors[i].load(std::memory_order_relaxed);
  s.last_error = last_error();
  s.last_error_time_ns = f.error_time_ns.load(std::memory_order_relaxed);
  return s;
}

// ---- control block -----------------------------------------------------------------------

namespace {

std::string hex_id(std::uint64_t id) {
  char b[24];
  std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(id));
  return b;
}

std::string identity_mismatch(const std::string& name, std::uint64_t have, std::uint64_t want) {
  return "segment " + name + ": made for another configuration (identity " + hex_id(have) + ", this process " +
         hex_id(want) + "): the config was edited while the bus ran; stop the whole bus and start it again";
}

/// Stamps `want` into a block without an identity (CAS: two commanders agree), or says why
/// the block's identity is not ours. Empty when fine. Read-write mappings only.
std::string claim_config_id(std::atomic<std::uint64_t>& stored, std::uint64_t want, const std::string& name) {
  if (want == 0) return {};
  std::uint64_t have = 0;
  // relaxed: the identity guards no other data; a racing stamp is read back by the CAS.
  if (stored.compare_exchange_strong(have, want, std::memory_order_relaxed) || have == want) return {};
  return identity_mismatch(name, have, want);
}

}  // namespace

namespace {

/// The resync table's symbol count must be 1..kMaxResyncSymbols.
std::size_t checked_symbols(const std::string& name, std::size_t symbols) {
  if (symbols == 0 || symbols > kMaxResyncSymbols)
    throw segment_error("segment " + name + ": " + std::to_string(symbols) + " symbols; a control block holds 1.." +
                        std::to_string(kMaxResyncSymbols));
  return symbols;
}

/// Opens an existing control block for venue `v`, slot `s` and `symbols` symbols and validates
/// it (kind, the size its geometry says, that it was made for this venue, slot and symbol
/// count). One attempt.
attach_status open_control_block(const std::string& name, venue v, slot_id s, std::size_t symbols, access_mode mode,
                                 shm_segment& out, std::string& reason, std::uint64_t config_id) {
  attach_result r = shm_segment::try_open(name, segment_kind::control_block, mode);
  if (r.status != attach_status::ok) {
    reason = std::move(r.reason);
    return r.status;
  }
  const auto& g = r.segment.header().geometry;
  if (g[2] != symbols) {
    reason = "segment " + name + ": made for another configuration (its resync table holds " + std::to_string(g[2]) +
             " symbols, this process has " + std::to_string(symbols) +
             "): the config was edited while the bus ran; stop the whole bus and start it again";
    return attach_status::incompatible;
  }
  if (auto why = check_block(r.segment, feeder_control_size(symbols), symbols); !why.empty()) {
    reason = std::move(why);
    return attach_status::incompatible;
  }
  if (g[0] != static_cast<std::uint64_t>(v) || g[1] != static_cast<std::uint64_t>(s)) {
    reason = "segment " + name + ": made for another venue or slot";
    return attach_status::incompatible;
  }
  auto* control = std::launder(reinterpret_cast<feeder_control*>(r.segment.body()));
  if (mode == access_mode::read_write) {
    if (auto why = claim_config_id(control->config_id, config_id, name); !why.empty()) {
      reason = std::move(why);
      return attach_status::incompatible;
    }
  } else if (const std::uint64_t have = control->config_id.load(std::memory_order_relaxed);
             config_id != 0 && have != 0 && have != config_id) {
    reason = identity_mismatch(name, have, config_id);  // read-only mapping: no CAS here
    return attach_status::incompatible;
  }
  out = std::move(r.segment);
  return attach_status::ok;
}

}  // namespace

feeder_control_writer feeder_control_writer::create(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                                    mode_t mode, std::uint64_t config_id) {
  checked_symbols(name, symbols);
  feeder_control_writer w;
  w.segment_ = shm_segment::create_or_adopt(
      block_spec(name, segment_kind::control_block, feeder_control_size(symbols), v, s, symbols, mode));
  w.control_ = std::launder(reinterpret_cast<feeder_control*>(w.segment_.body()));
  if (auto why = claim_config_id(w.control_->config_id, config_id, name); !why.empty()) throw segment_error(why);
  return w;
}

feeder_control_writer feeder_control_writer::create_or_share(const std::string& name, venue v, slot_id s,
                                                             std::size_t symbols, mode_t mode, std::uint64_t config_id) {
  try {
    return create(name, v, s, symbols, mode, config_id);
  } catch (const segment_owner_error&) {
    throw;  // another user's block: nothing to share
  } catch (const segment_error&) {
    feeder_control_writer w;
    std::string why;
    const attach_status st = open_control_block(name, v, s, symbols, access_mode::read_write, w.segment_, why, config_id);
    if (st == attach_status::incompatible) throw segment_error(why);
    if (st != attach_status::ok) throw;
    w.control_ = std::launder(reinterpret_cast<feeder_control*>(w.segment_.body()));
    return w;
  }
}

std::uint64_t feeder_control_writer::send(feeder_command c, std::uint8_t arg) noexcept {
  std::uint64_t old = control_->command_word.load(std::memory_order_relaxed);
  std::uint64_t word = 0;
  do {
    word = pack_command(command_seq(old) + 1, c, arg);
    // release: nothing else is published with the word today, but a future request slot
    // written before it would be; pairs with feeder_control_reader::load()'s acquire.
  } while (!control_->command_word.compare_exchange_weak(old, word, std::memory_order_release, std::memory_order_relaxed));
  return word;
}

std::uint64_t feeder_control_writer::current() const noexcept {
  return control_->command_word.load(std::memory_order_relaxed);  // we (or our CAS) wrote it
}

attach_status feeder_resync_requester::try_open(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                               feeder_resync_requester& out, std::string& reason, std::uint64_t config_id) {
  const attach_status st = open_control_block(name, v, s, symbols, access_mode::read_write, out.segment_, reason, config_id);
  if (st == attach_status::ok) {
    out.control_ = std::launder(reinterpret_cast<feeder_control*>(out.segment_.body()));
    out.slots_ = symbols * kResyncChannelsPerSymbol;
  }
  return st;
}

std::uint64_t feeder_resync_requester::request(std::size_t index) noexcept {
  if (control_ == nullptr || index >= slots_) return 0;
  // release: pairs with the feeder's acquire in resync_generation().
  return resync_slots(control_)[index].fetch_add(1, std::memory_order_release) + 1;
}

std::uint64_t feeder_resync_requester::request_backfill(std::size_t index, std::uint64_t from, std::uint64_t to,
                                                       std::uint64_t skip) noexcept {
  if (control_ == nullptr || index >= slots_) return 0;
  feeder_backfill_slot& b = backfill_slots(control_, slots_)[index];
  const std::uint64_t seq = b.seq.load(std::memory_order_relaxed) | 1U;  // odd: being written
  b.seq.store(seq, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);  // the odd seq is seen before the new ids
  b.from.store(from, std::memory_order_relaxed);
  b.to.store(to, std::memory_order_relaxed);
  b.skip.store(skip, std::memory_order_relaxed);
  b.seq.store(seq + 1, std::memory_order_release);  // even again: the ids are published
  return (seq + 1) / 2;
}

backfill_request feeder_control_reader::backfill(std::size_t index) const noexcept {
  if (index >= slots_) return {};
  const feeder_backfill_slot& b = backfill_slots(const_cast<feeder_control*>(control_), slots_)[index];
  for (int tries = 0; tries < 64; ++tries) {
    const std::uint64_t s1 = b.seq.load(std::memory_order_acquire);
    if ((s1 & 1U) != 0) continue;  // being written: a few stores, read again
    const std::uint64_t from = b.from.load(std::memory_order_relaxed);
    const std::uint64_t to = b.to.load(std::memory_order_relaxed);
    const std::uint64_t skip = b.skip.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (b.seq.load(std::memory_order_relaxed) == s1) return {s1 / 2, from, to, skip};
  }
  return {};  // the writer is mid-write every time we look (never in practice): next poll
}

attach_status feeder_control_reader::try_open(const std::string& name, venue v, slot_id s, std::size_t symbols,
                                              feeder_control_reader& out, std::string& reason, std::uint64_t config_id) {
  const attach_status st = open_control_block(name, v, s, symbols, access_mode::read_only, out.segment_, reason, config_id);
  if (st == attach_status::ok) {
    out.control_ = std::launder(reinterpret_cast<const feeder_control*>(out.segment_.body()));
    out.slots_ = symbols * kResyncChannelsPerSymbol;
  }
  return st;
}

}  // namespace mdbus
