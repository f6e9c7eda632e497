#include "tools/exsim/connection.hpp"

namespace mdbus::exsim {
namespace {
// A frame held back for a reorder is released on its own if nothing follows it this soon.
constexpr std::int64_t kHoldLimitUs = 500'000;
}  // namespace

connection::connection(std::uint32_t conn_id, venue v, std::int64_t now_us, std::size_t pre, std::size_t limit,
                       bool close_slow)
    : id(conn_id),
      venue_id(v),
      opened_us(now_us),
      last_rx_us(now_us),
      last_push_us(now_us),
      unsubscribed_since_us(now_us),
      pre_(pre),
      limit_(limit),
      close_slow_(close_slow),
      out_(pre, '\0') {}

void connection::request_close(int code, std::string reason, bool abrupt) {
  if (close_pending) return;
  close_pending = true;
  close_abrupt = abrupt;
  close_code = code;
  close_reason = std::move(reason);
}

connection::push_result connection::enqueue(std::string_view framed, std::int64_t now_us) {
  if (stalled(now_us)) {
    ++frames_dropped;
    return push_result::dropped;
  }
  if (queued_bytes() + framed.size() > limit_) {
    ++frames_dropped;
    if (close_slow_) request_close(1008, "slow consumer: send queue over limit", false);
    return push_result::overflow;
  }
  ++frames_queued;
  last_push_us = now_us;
  if (delay_us_ > 0 || !delayed_.empty()) {
    delayed_.emplace_back(now_us + delay_us_, std::string(framed));
    delayed_bytes_ += framed.size();
  } else {
    out_.append(framed);
  }
  return push_result::queued;
}

connection::push_result connection::push_frame(ws_opcode op, std::string_view payload, std::int64_t now_us) {
  scratch_.clear();
  append_ws_frame(scratch_, op, payload);
  return enqueue(scratch_, now_us);
}

connection::push_result connection::push_data(std::string_view payload, std::int64_t now_us) {
  scratch_.clear();
  append_ws_frame(scratch_, ws_opcode::text, payload);
  if (stalled(now_us)) {
    ++frames_dropped;
    return push_result::dropped;
  }
  if (reorder_ > 0 && held_.empty()) {
    --reorder_;
    held_ = scratch_;
    held_us_ = now_us;
    return push_result::queued;
  }
  auto r = enqueue(scratch_, now_us);
  if (duplicate_ > 0 && r == push_result::queued) {
    --duplicate_;
    r = enqueue(scratch_, now_us);
  }
  if (!held_.empty()) {
    const std::string held = std::move(held_);
    held_.clear();
    enqueue(held, now_us);
  }
  return r;
}

bool connection::release_due(std::int64_t now_us) {
  if (!held_.empty() && now_us - held_us_ > kHoldLimitUs) {
    const std::string held = std::move(held_);
    held_.clear();
    enqueue(held, now_us);
  }
  while (!delayed_.empty() && delayed_.front().first <= now_us) {
    out_.append(delayed_.front().second);
    delayed_bytes_ -= delayed_.front().second.size();
    delayed_.pop_front();
  }
  return has_output();
}

}  // namespace mdbus::exsim
