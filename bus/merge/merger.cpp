#include "bus/merge/merger.hpp"

#include "bus/clock.hpp"
#include "bus/merge_counter_names.hpp"
#include "mdbus/records.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <limits>

namespace mdbus::merge {
namespace {

constexpr std::int64_t kAttachEveryNs = 100'000'000;   // look for missing feeder rings
constexpr std::int64_t kWriterCheckEveryNs = 5'000'000;  // look whether feeders still hold their rings (one fcntl each) ...
constexpr std::size_t kWriterChecksPerPass = 20;        // ... this many inputs a look, in turn
constexpr std::int64_t kCountersEveryNs = 100'000'000;  // refresh the shared counters
constexpr std::int64_t kCountersOpenEveryNs = 1'000'000'000;  // look for the supervisor's counters segment
constexpr std::int64_t kOverflowBlameNs = 1'000'000'000;
constexpr std::int64_t kSweepEveryNs = 1'000'000'000;  // free the doorbell bits of consumers that died asleep
constexpr int kLogLinesPerSecond = 50;

arbiter_options options_from(const config::bus_config& cfg) {
  arbiter_options o;
  o.hole_fill_window_ns = cfg.merge.hole_fill_ms * 1'000'000;
  o.resync_retry_ns = cfg.merge.resync_retry_ms * 1'000'000;
  o.backfill_bound_ns = cfg.merge.backfill_bound_ms * 1'000'000;
  o.hold_bytes_per_stream = static_cast<std::size_t>(cfg.merge.hold_bytes_per_stream);
  o.hold_records_per_stream = static_cast<std::size_t>(cfg.merge.hold_records_per_stream);
  // Every configured stream, plus room for streams a feeder sends that the config does not
  // name (counted, merged all the same).
  std::size_t configured = 0;
  // (+1 per symbol: its instrument records, channel::reference).
  for (const auto& v : cfg.venues) configured += v.symbols.size() * (v.channels.size() + 1);
  o.max_streams = configured + 64;
  return o;
}

}  // namespace

merger::merger(const config::bus_config& cfg, std::FILE* log)
    : cfg_(cfg),
      log_(log),
      output_name_(segment_name(cfg.bus, "out")),
      arbiter_(options_from(cfg), *this) {
  const broadcast_ring_geometry g{cfg.rings.output_bytes, cfg.rings.output_max_frame};
  scratch_bytes_ = static_cast<std::size_t>(std::max<std::uint64_t>(cfg.rings.output_max_frame, kMaxRecordSize));
  scratch_ = std::make_unique<std::uint64_t[]>((scratch_bytes_ + 7) / 8);
  for (const auto& v : cfg.venues) {
    // Per connection group: its symbols' streams, and its slot pair's rings (one feeder each).
    for (std::uint32_t grp = 0; grp < v.connections(); ++grp) {
      const config::venue_config gv = config::group_view(v, grp);
      for (std::size_t i = 0; i < gv.symbols.size(); ++i)
        for (const auto& ch : gv.channels) {
          if (!v.carries(gv.symbols[i], ch.id)) continue;  // OKX funding-rate: swaps only
          (void)arbiter_.add_stream(v.id, ch.id, gv.symbols[i], grp);
          resync_places_[{v.id, ch.id, gv.symbols[i]}] = {grp, i};
        }
      for (const slot_id s : v.slots) {
        input in;
        in.v = v.id;
        in.slot = s;
        in.group = grp;
        in.name = feeder_display_name(v.id, s, grp);
        in.ring_name = feeder_ring_name(cfg.bus, v.id, s, grp);
        in.control_name = feeder_control_name(cfg.bus, v.id, s, grp);
        in.config_id = config::config_identity(cfg, gv);
        in.symbols = gv.symbols.size();
        inputs_.push_back(std::move(in));
      }
    }
  }
  out_ = broadcast_ring_writer::create(output_name_, g, cfg.segment_mode);
  bell_ = doorbell_segment::create(merge_doorbell_name(cfg.bus), cfg.segment_mode);
  prime_from_output();
  register_counters();
  next_counters_open_ns_ = mono_ns() + kCountersOpenEveryNs;
  arbiter_.finish_priming(mono_ns());
  housekeeping(mono_ns());
}

merger::~merger() = default;

std::size_t merger::inputs_attached() const noexcept {
  return static_cast<std::size_t>(std::count_if(inputs_.begin(), inputs_.end(), [](const input& i) { return i.attached; }));
}

void merger::log(const char* fmt, ...) noexcept {
  if (log_ == nullptr) return;
  const std::int64_t now = mono_ns();
  if (now - log_window_ns_ >= 1'000'000'000) {
    if (log_suppressed_ > 0) std::fprintf(log_, "mdmerge: %d log lines suppressed in the last second\n", log_suppressed_);
    log_window_ns_ = now;
    log_lines_ = 0;
    log_suppressed_ = 0;
  }
  if (++log_lines_ > kLogLinesPerSecond) {
    ++log_suppressed_;
    return;
  }
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  std::fprintf(log_, "mdmerge: %s\n", line);
  std::fflush(log_);
}

void merger::prime_from_output() {
  // Only this process writes the ring, and it has not started: a plain read from the oldest
  // frame sees everything still in the ring, untorn.
  broadcast_ring_reader rd;
  std::string why;
  if (broadcast_ring_reader::try_open(output_name_, rd, why, start_position::oldest, lap_policy::resume_oldest) !=
      attach_status::ok) {
    throw segment_error("cannot read back " + output_name_ + " to resume: " + why);
  }
  std::span<std::byte> buf(reinterpret_cast<std::byte*>(scratch_.get()), scratch_bytes_);
  std::uint64_t frames = 0, bad = 0;
  for (;;) {
    const broadcast_read_result r = rd.try_read(buf);
    if (r.status == broadcast_read_status::empty) break;
    if (r.status != broadcast_read_status::ok) {
      ++bad;
      if (r.status == broadcast_read_status::corrupt || bad > 16) break;
      continue;
    }
    ++frames;
    record_view v;
    if (record_view::parse(buf.first(r.length), v) != record_status::ok) {
      ++bad;
      continue;
    }
    arbiter_.prime(v);
  }
  if (frames > 0 || bad > 0)
    log("resuming %s: %llu records read back into the stream state (%llu unreadable frames)", output_name_.c_str(),
        static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bad));
}

void merger::try_attach(input& in, std::int64_t now_mono_ns) {
  if (!in.attached && !in.broken) {
    std::string why;
    const attach_status st = spsc_ring_reader::try_open(in.ring_name, in.reader, why);
    if (st == attach_status::ok) {
      in.attached = true;
      in.overflows_seen = in.reader.overflows();
      // A slot that went live before this merger attached wrote its "up" marker for an
      // earlier reader: what this one counts in step from here is this connection's (the
      // backlog's older markers reset it as they are read), so the rotation gate may trust it.
      in.live_marker_ns = wall_ns();
      in.writer_alive = in.reader.segment().is_locked_by_other(lock_role::writer);
      in.writer_gone = false;
      log("input %s attached: %s (backlog %llu bytes)", in.name.c_str(), in.ring_name.c_str(),
          static_cast<unsigned long long>(in.reader.backlog()));
    } else if (why != in.last_wait_reason) {
      in.last_wait_reason = why;
      if (st == attach_status::incompatible)
        log("input %s: %s", in.ring_name.c_str(), why.c_str());
      else if (!why.empty())
        log("input %s: waiting (%s)", in.ring_name.c_str(), why.c_str());
    }
  }
  if (!in.resync.valid()) {
    std::string why;
    // The supervisor's block (one owner per segment): without one (a merger run alone),
    // resync requests have nowhere to go; request_resync says so when it needs one.
    const attach_status st =
        feeder_resync_requester::try_open(in.control_name, in.v, in.slot, in.symbols, in.resync, why, in.config_id);
    if (st == attach_status::ok)
      log("control block %s opened: resync requests reach %s", in.control_name.c_str(), in.name.c_str());
    // One line per new reason (the attach is retried every poll): a block of another config
    // is refused, and the slot gets no resync requests until the bus is restarted whole.
    if (st == attach_status::incompatible && why != in.last_control_reason) {
      if (in.reloaded)  // the block of the config before a reload: the supervisor replaces it as it restarts the slot
        log("control block %s is the old config's: waiting for the supervisor's new one (reload)", in.control_name.c_str());
      else
        log("control block %s refused: %s", in.control_name.c_str(), why.c_str());
    }
    if (st == attach_status::ok) in.reloaded = false;
    in.last_control_reason = why;
  }
  (void)now_mono_ns;
}

std::size_t merger::poll_once(std::int64_t now_mono_ns, std::size_t batch) noexcept {
  std::size_t taken = 0;
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    input& in = inputs_[i];
    if (!in.attached) continue;
    std::size_t n = 0;
    spsc_frame f;
    while (n < batch) {
      const spsc_read_status st = in.reader.peek(f);
      if (st == spsc_read_status::empty) break;
      if (st == spsc_read_status::corrupt) {
        in.attached = false;
        in.broken = true;
        log("input %s: corrupt frame header at position %llu: the feeder's ring is broken, reading stopped",
            in.ring_name.c_str(), static_cast<unsigned long long>(in.reader.position()));
        break;
      }
      const std::uint64_t pos = in.reader.position();
      record_view v;
      if (record_view::parse(f.payload, v) != record_status::ok) {
        ++in.malformed;
      } else if (v.header().type == record_type::slot_status) {
        const auto ss = v.slot_status();
        // A new feeder process's first marker (startup) while its predecessor's last said it
        // was not down: the predecessor died, and its successor took the ring before a look
        // saw the lock free. Its down marker goes exactly here, between the two processes.
        if (ss && ss->reason == slot_reason::startup && in.last_marker != slot_state::down &&
            in.last_marker != slot_state::unknown)
          mark_exited(in);
        // Per slot, never a duplicate: the merger passes the feeder's state changes on.
        write_out(v.bytes());
        if (ss) {
          in.last_marker = ss->state;
          note_slot_state(in, ss->state, v.header().receive_time_ns);
          // A new connection (or none): the slot must show it is in step again.
          if (ss->state != slot_state::up) arbiter_.slot_reset(in.v, in.slot, in.group);
          else in.live_marker_ns = v.header().receive_time_ns;
          log("%s: %s (%s) %s", in.name.c_str(), std::string(to_string(ss->state)).c_str(),
              std::string(to_string(ss->reason)).c_str(), std::string(ss->reason_text_view()).c_str());
        }
      } else {
        if (!in.state_told) note_slot_state(in, slot_state::up, v.header().receive_time_ns);
        in.last_data_ns = v.header().receive_time_ns;
        arbiter_.offer(v, in.slot, now_mono_ns, pos, in.group);
      }
      in.reader.advance();
      ++n;
    }
    if (n > 0) {
      in.frames += n;
      taken += n;
      // Release the ring up to the oldest record of this ring still waiting in a hole-fill
      // hold: a restarted merger reads those again.
      in.reader.publish_tail_at(std::min(in.reader.position(), arbiter_.oldest_pinned(in.v, in.slot, in.group)));
    }
  }
  if (now_mono_ns >= arbiter_.next_deadline()) arbiter_.tick(now_mono_ns);
  out_.notify();  // once per pass, not per record: the fence is paid once per batch (nothing when nothing was published)
  return taken;
}

void merger::write_out(std::span<const std::byte> record) noexcept {
  if (record.size() > scratch_bytes_) {
    ++output_oversize_;
    return;
  }
  auto* buf = reinterpret_cast<std::byte*>(scratch_.get());
  std::memcpy(buf, record.data(), record.size());
  const std::int64_t now = wall_ns();
  std::memcpy(buf + offsetof(record_header, publish_time_ns), &now, sizeof now);
  const auto type = static_cast<std::uint32_t>(static_cast<std::uint8_t>(record[offsetof(record_header, type)]));
  if (!out_.write(type, {buf, record.size()})) ++output_oversize_;
}

void merger::publish(std::span<const std::byte> record, slot_id winner) noexcept {
  (void)winner;  // the record's header already names its slot: the one that delivered it first
  write_out(record);
}

void merger::publish_gap(const gap_record& gap) noexcept {
  gap_record g = gap;
  g.header.receive_time_ns = wall_ns();
  const std::int64_t now = mono_ns();
  // A hole right after a feeder ring overflowed on this venue: say so.
  for (const auto& in : inputs_)
    if (in.v == g.header.venue_id && now < in.overflow_until_ns) g.reason = gap_reason::ring_overflow;
  write_out(record_bytes(g));
  log("gap %s/%s/%s: after %llu, next %llu (%s, held %.3f ms)", std::string(to_string(g.header.venue_id)).c_str(),
      std::string(to_string(g.header.channel_id)).c_str(), std::string(g.header.symbol_view()).c_str(),
      static_cast<unsigned long long>(g.last_seq_held), static_cast<unsigned long long>(g.first_seq_after),
      std::string(to_string(g.reason)).c_str(), static_cast<double>(g.held_ns) / 1e6);
}

void merger::request_resync(venue v, channel c, std::string_view symbol, slot_id ask) noexcept {
  // The symbol's connection group, and its position in the group's list: the index in that
  // group's control blocks. Not configured: no slot.
  const auto place = resync_places_.find({v, c, std::string(symbol)});
  const std::uint32_t group = place != resync_places_.end() ? place->second.first : 0;
  const std::size_t index = resync_index(place != resync_places_.end() ? place->second.second : kMaxResyncSymbols, c);
  std::size_t routed = 0;
  for (auto& in : inputs_) {
    if (in.v != v || in.group != group || (ask != slot_id::none && in.slot != ask)) continue;
    if (in.resync.request(index) != 0) ++routed;
  }
  if (routed == 0 && ask != slot_id::none)  // that slot's control block is not there: ask every feeder of the group
    for (auto& in : inputs_)
      if (in.v == v && in.group == group && in.resync.request(index) != 0) ++routed;
  if (routed == 0) ++resync_unrouted_;
  log("resync %s/%s/%.*s requested from %zu feeder(s)%s", std::string(to_string(v)).c_str(),
      std::string(to_string(c)).c_str(), static_cast<int>(symbol.size()), symbol.data(), routed,
      routed == 0 ? ": no control block to ask (is the supervisor running?)" : "");
}

bool merger::request_backfill(venue v, channel c, std::string_view symbol, std::uint64_t from, std::uint64_t to,
                              slot_id ask, std::uint64_t skip) noexcept {
  // Where the stream's resync requests go (its group, its slot index): the same control block
  // carries the backfill table. Only the slot asked: it delivers the stream, so it is
  // connected, and asking both would spend the venue's REST budget twice.
  const auto place = resync_places_.find({v, c, std::string(symbol)});
  if (place == resync_places_.end()) {
    ++backfill_unrouted_;
    return false;
  }
  const std::size_t index = resync_index(place->second.second, c);
  for (auto& in : inputs_) {
    if (in.v != v || in.group != place->second.first || in.slot != ask) continue;
    if (in.resync.request_backfill(index, from, to, skip) == 0) break;
    log("backfill %s/%s/%.*s: ids %llu..%llu asked of %s", std::string(to_string(v)).c_str(),
        std::string(to_string(c)).c_str(), static_cast<int>(symbol.size()), symbol.data(),
        static_cast<unsigned long long>(from), static_cast<unsigned long long>(to), in.name.c_str());
    return true;
  }
  ++backfill_unrouted_;
  log("backfill %s/%s/%.*s: no control block of slot %s to ask (is the supervisor running?): the hole is a gap",
      std::string(to_string(v)).c_str(), std::string(to_string(c)).c_str(), static_cast<int>(symbol.size()), symbol.data(),
      ask == slot_id::b ? "B" : "A");
  return false;
}

void merger::housekeeping(std::int64_t now_mono_ns) {
  out_.segment().heartbeat(now_mono_ns);
  if (now_mono_ns >= next_attach_ns_) {
    next_attach_ns_ = now_mono_ns + kAttachEveryNs;
    for (auto& in : inputs_)
      if (!in.attached || !in.resync.valid()) try_attach(in, now_mono_ns);
  }
  // The feeders' writer locks, a few inputs a pass in turn (one fcntl each): every input every
  // 5 ms on a bus of up to 20 inputs, and no more than 4000 looks a second on a larger one.
  if (now_mono_ns >= next_writer_check_ns_ && !inputs_.empty()) {
    next_writer_check_ns_ = now_mono_ns + kWriterCheckEveryNs;
    for (std::size_t n = 0; n < std::min<std::size_t>(inputs_.size(), kWriterChecksPerPass); ++n) {
      input& in = inputs_[next_writer_input_++ % inputs_.size()];
      if (in.attached && !in.writer_gone) watch_writer(in);
    }
  }
  for (auto& in : inputs_) {
    if (!in.attached) continue;
    if (in.writer_gone) watch_writer(in);  // waiting for its ring to drain
    const std::uint64_t o = in.reader.overflows();
    if (o != in.overflows_seen) {
      log("input %s: feeder ring full, %llu records dropped by the feeder (the other slot may cover them)",
          in.ring_name.c_str(), static_cast<unsigned long long>(o - in.overflows_seen));
      in.overflows_seen = o;
      in.overflow_until_ns = now_mono_ns + kOverflowBlameNs;
    }
  }
  if (now_mono_ns >= next_sweep_ns_) {
    next_sweep_ns_ = now_mono_ns + kSweepEveryNs;
    if (const std::uint32_t n = out_.sweep_dead_sleepers())
      log("output doorbell: freed %u reader slot(s) of consumers that died asleep", n);
  }
  if (!counters_open_ && now_mono_ns >= next_counters_open_ns_) {
    next_counters_open_ns_ = now_mono_ns + kCountersOpenEveryNs;
    register_counters();
  }
  if (now_mono_ns >= next_counters_ns_) {
    next_counters_ns_ = now_mono_ns + kCountersEveryNs;
    update_counters();
  }
}

void merger::watch_writer(input& in) noexcept {
  const bool alive = in.reader.segment().is_locked_by_other(lock_role::writer);
  if (in.writer_alive && !alive) in.writer_gone = true;
  in.writer_alive = alive;
  // Everything the process wrote comes first: the marker goes out once its ring is drained.
  // (A successor quicker than this look is caught by its startup marker instead.)
  if (!in.writer_gone || in.reader.backlog() != 0) return;
  in.writer_gone = false;
  if (in.last_marker != slot_state::down) mark_exited(in);  // unless it said so itself on its way out
}

void merger::mark_exited(input& in) noexcept {
  auto r = make_record<slot_status_record>();
  r.header.venue_id = in.v;
  r.header.slot = in.slot;
  r.header.receive_time_ns = wall_ns();
  r.group = static_cast<std::uint16_t>(in.group);
  r.state = slot_state::down;
  r.reason = slot_reason::process_exit;
  r.set_reason_text("feeder process exited");
  write_out(record_bytes(r));
  in.last_marker = slot_state::down;
  note_slot_state(in, slot_state::down, r.header.receive_time_ns);
  in.writer_gone = false;  // this is the marker a look that saw the lock free would have written
  arbiter_.slot_reset(in.v, in.slot, in.group);
  log("%s: down (process_exit): its feeder process ended without a down marker", in.name.c_str());
}

void merger::note_slot_state(input& in, slot_state state, std::int64_t time_ns) noexcept {
  in.state_told = true;
  const std::optional<outage_window> w = outages_.note(in.v, in.group, in.slot, state, time_ns, in.last_data_ns);
  if (!w) return;
  // Streams whose ids show a hole have had their gap records (or backfill); the others cannot
  // show one: each gets a suspect record for the window (records.hpp, suspect_window).
  std::size_t n = 0, refetch = 0;
  for (std::size_t k = 0; k < arbiter_.stream_count(); ++k) {
    const stream_id id = arbiter_.stream_key_at(k);
    if (id.v != in.v || arbiter_.group_at(k) != in.group || id.c == channel::reference) continue;
    const sequence_rule rule = rule_for_channel(id.c);
    if (rule == sequence_rule::consecutive || rule == sequence_rule::range || arbiter_.carries_deltas_at(k)) continue;
    const stream_stats& st = arbiter_.stream_at(k);
    if (st.published[0] + st.published[1] == 0) continue;  // never delivered: nothing to have missed
    auto g = make_record<gap_record>();
    g.header.venue_id = id.v;
    g.header.channel_id = id.c;
    (void)g.header.set_symbol(id.symbol);
    g.header.slot = in.slot;
    g.header.venue_time_ns = w->start_ns;
    g.header.receive_time_ns = wall_ns();
    g.last_seq_held = arbiter_.last_seq_at(k);
    g.first_seq_after = 0;
    g.held_ns = w->end_ns - w->start_ns;
    g.reason = gap_reason::suspect_window;
    write_out(record_bytes(g));
    ++n;
    // Where the venue keeps the stream's trades (OKX fills), the next trade starts their backfill.
    if (arbiter_.await_window_backfill(k)) ++refetch;
  }
  suspect_windows_ += n;
  log("%s: every slot of the group was down for %.3f ms: %zu suspect record(s) for the streams whose ids cannot show a "
      "loss; %zu of them will backfill their trades",
      in.name.c_str(), static_cast<double>(w->end_ns - w->start_ns) / 1e6, n, refetch);
}

std::string merger::summary() const {
  const arbiter_stats& a = arbiter_.stats();
  std::uint64_t frames = 0, malformed = 0;
  for (const auto& in : inputs_) {
    frames += in.frames;
    malformed += in.malformed;
  }
  return "frames " + std::to_string(frames) + ", published " + std::to_string(a.published) + ", duplicates " +
         std::to_string(a.duplicates) + ", gaps " + std::to_string(a.gaps) + ", holes filled " +
         std::to_string(a.holes_filled) + ", resync requests " + std::to_string(a.resync_requests) +
         ", malformed " + std::to_string(malformed) + ", streams " + std::to_string(arbiter_.stream_count());
}

}  // namespace mdbus::merge
