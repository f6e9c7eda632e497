// The feeder's side of the control word and of the status block: command polling and
// execution, state transitions (with their slot_status records in the ring), error text.
#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <cstdarg>
#include <cstdio>
#include <unistd.h>

namespace mdbus::feed {
namespace {

constexpr std::int64_t kControlRetryNs = 100'000'000;  // look for a missing control block every 100 ms

bool slot_state_of(feeder_state s, slot_state& out) noexcept {
  switch (s) {
    case feeder_state::connecting: out = slot_state::connecting; return true;
    case feeder_state::subscribed: out = slot_state::syncing; return true;
    case feeder_state::live: out = slot_state::up; return true;
    case feeder_state::down:
    case feeder_state::stopped: out = slot_state::down; return true;
    case feeder_state::starting:
    case feeder_state::draining: break;
  }
  return false;
}

}  // namespace

void feeder::poll_control(std::int64_t now) noexcept {
  if (!control_.valid()) {
    // The commander creates the block (supervisor; tests). Until it exists, a stat of the
    // name every 100 ms: no allocation, unlike an attach attempt that builds error text.
    if (now < next_control_check_) return;
    next_control_check_ = now + kControlRetryNs;
    if (::access(control_path_.c_str(), F_OK) != 0) return;
    std::string why;
    try {
      const attach_status st = feeder_control_reader::try_open(control_name_, options_.venue_id, options_.slot, venue_.symbols.size(),
                                                                 control_, why, config_id_);
      if (st == attach_status::incompatible && why.find("another configuration") != std::string::npos) {
        // Its resync slots index another symbol list: serving them would resync the wrong
        // streams, silently. Refuse, as a config error.
        log_.always("refusing the control block: %s", why.c_str());
        note_error("%s", why.c_str());
        exit_code_ = kExitUsage;
        request_stop("the control block belongs to another configuration", now);
        return;
      }
      if (st != attach_status::ok) {
        if (!why.empty()) log_.log(kFeederErrorSlots + 2, now, "control block not usable yet: %s", why.c_str());
        return;
      }
    } catch (const std::exception& e) {
      log_.log(kFeederErrorSlots + 2, now, "control block: %s", e.what());
      return;
    }
    // Whatever the word holds now was meant for an earlier feeder (or none): acknowledge
    // it without acting, so a stale "stop" never stops a freshly started slot.
    last_command_word_ = control_.load();
    status_.ack(last_command_word_, command_result::baseline, wall_ns());
    log_.always("control block %s attached (command sequence %llu)", control_name_.c_str(),
                static_cast<unsigned long long>(command_seq(last_command_word_)));
    // Resync generations have no baseline: one already moved when the block is found is a
    // request the merger made while this feeder was not there to see it, and is served
    // (feeder_resync.cpp, README "Resync").
    poll_resync(now);
    poll_backfill(now);
    return;
  }
  const std::uint64_t word = control_.load();
  if (word != last_command_word_) take_command(word, now);
  if (finished_) return;
  poll_resync(now);
  poll_backfill(now);
}

void feeder::take_command(std::uint64_t word, std::int64_t now) noexcept {
  last_command_word_ = word;
  const command_result r = execute(command_of(word), now);
  if (r == command_result::none) {  // a stop: acknowledged when the feeder has stopped
    stop_acked_pending_ = true;
    stop_word_ = word;
    status_.ack(word, command_result::accepted, wall_ns());
    return;
  }
  // After the command's state change: the release in ack() publishes both.
  status_.ack(word, r, wall_ns());
}

command_result feeder::execute(feeder_command c, std::int64_t now) noexcept {
  log_.always("command %s (sequence %llu)", std::string_view(to_string(c)).data(),
              static_cast<unsigned long long>(command_seq(last_command_word_)));
  switch (c) {
    case feeder_command::connect:
      if (intent_ == intent::stopping) return command_result::accepted;
      intent_ = intent::run;
      if (!ws_->active()) {
        start_connect(now);  // also cuts a backoff wait short
      } else if (status_.state() == feeder_state::draining) {
        reconnect_now_ = true;  // a disconnect still closing: connect again as soon as it has
      }
      return command_result::accepted;
    case feeder_command::disconnect:
      if (intent_ == intent::stopping) return command_result::accepted;
      intent_ = intent::disconnected;
      reconnect_at_ = 0;
      if (ws_->active()) {
        begin_close(slot_reason::operator_request, "disconnect command", now);
      } else {
        set_state(feeder_state::down, slot_reason::operator_request, "disconnected on command");
      }
      return command_result::accepted;
    case feeder_command::reconnect:
      if (intent_ == intent::stopping) return command_result::accepted;
      intent_ = intent::run;
      if (ws_->active()) {
        reconnect_now_ = true;
        begin_close(slot_reason::operator_request, "reconnect command", now);
      } else {
        start_connect(now);
      }
      return command_result::accepted;
    case feeder_command::rotate: {
      if (intent_ == intent::stopping) return command_result::accepted;
      intent_ = intent::run;
      auto why = static_cast<slot_reason>(command_arg(last_command_word_));
      if (to_string(why) == "unknown") why = slot_reason::operator_request;
      // Tell the merger (and through it the consumers) that this line is being replaced on
      // purpose, and why; then as reconnect.
      write_slot_status(slot_state::rotating, why, "rotation");
      if (ws_->active()) {
        reconnect_now_ = true;
        begin_close(why, "rotation", now);
      } else {
        start_connect(now);
      }
      return command_result::accepted;
    }
    case feeder_command::stop:
      request_stop("stop command", now);
      return command_result::none;
    case feeder_command::none:
      break;
  }
  return command_result::unknown;
}

void feeder::set_state(feeder_state s, slot_reason why, const char* text) noexcept {
  const std::int64_t now = wall_ns();
  status_.set_state(s, why, now);
  slot_state st{};
  if (!slot_state_of(s, st)) return;
  write_slot_status(st, why, text);
}

void feeder::write_slot_status(slot_state st, slot_reason why, const char* text) noexcept {
  // In-band marker for the merger: where in the ring a connection began, went live or
  // ended, so it can tell a line's silence from a line's absence without polling status.
  auto r = make_record<slot_status_record>();
  r.header.venue_id = options_.venue_id;
  r.header.slot = options_.slot;
  r.header.receive_time_ns = wall_ns();
  r.group = static_cast<std::uint16_t>(options_.group);
  r.state = st;
  r.reason = why;
  r.connection_epoch = static_cast<std::uint32_t>(connection_);
  r.set_reason_text(text != nullptr ? text : "");
  (void)ring_.try_write(static_cast<std::uint32_t>(record_type::slot_status), record_bytes(r));  // a full ring counts it
}

void feeder::note_error(const char* fmt, ...) noexcept {
  char text[kLastErrorCapacity + 1];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  status_.set_last_error({text, static_cast<std::size_t>(n) < sizeof text ? static_cast<std::size_t>(n) : sizeof text - 1},
                         wall_ns());
}

}  // namespace mdbus::feed
