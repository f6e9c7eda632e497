// The feeder's side of the resync table in the control block: the merger bumps a stream's
// generation after a real gap (or a Binance depth stream that started without a snapshot);
// the feeder notices on its control poll and writes a fresh snapshot of that one stream into
// its ring, by the adapter's resync_plan:
//
// * rest_snapshot (Binance depth): HTTPS GET of the adapter's snapshot path on the venue's
//   host (rest_client, same lws loop), parsed straight into the ring as book_snapshot records
//   flagged kHeaderFromRest. The merger, holding the stream's deltas meanwhile, applies the
//   U/u procedure. Started only while the WebSocket is live: a snapshot is only joinable to a
//   diff stream that is running (feeders/CONFORMANCE.md "Book joins": the stream first, then the snapshot).
// * resubscribe (OKX books): unsubscribe + subscribe of that channel and instId on the live
//   connection; the venue pushes a snapshot (prevSeqId -1) and the updates chain from it.
//   Without a connection nothing is sent: the next connection's subscribe brings one.
//
// One request in flight per stream; a request that arrives meanwhile is served after it. A
// failed attempt is retried once after reconnect_min_ms; a second failure gives up (counted
// and logged) until the merger asks again. README "Resync" has the counters' exact meaning.
#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <algorithm>
#include <cstdio>

namespace mdbus::feed {
namespace {

constexpr std::int64_t kMs = 1'000'000;
/// Attempts per request: the first and one retry.
constexpr unsigned kResyncAttempts = 2;
/// REST requests in flight at once (each lane has a max_message_bytes body buffer).
constexpr std::size_t kRestLanes = 2;
// Log keys beyond the parse-error reasons (16, 17) and the control block (18): feeder.cpp,
// feeder_commands.cpp.
constexpr unsigned kKeyResyncDone = 19;
constexpr unsigned kKeyResyncRetry = 20;   // a failed first attempt
constexpr unsigned kKeyResyncGaveUp = 21;  // a request given up: its own key, so a retry's line never hides it
constexpr unsigned kKeyRestBudget = 24;     // feeder_stale.cpp 22, feeder.cpp 23
static_assert(kKeyResyncGaveUp < log_limiter::kKeys);

/// to_string(channel) views a string literal: NUL-terminated, fit for %s.
const char* channel_name(channel c) noexcept { return std::string_view(to_string(c)).data(); }

const char* method_name(resync_method m) noexcept {
  return m == resync_method::rest_snapshot ? "REST snapshot" : "resubscribe";
}

}  // namespace

void feeder::build_resync_table() {
  build_backfill_table();
  std::size_t rest_streams = histories_.size();
  for (std::size_t si = 0; si < venue_.symbols.size(); ++si) {
    for (const auto& ch : venue_.channels) {
      if (!venue_.carries(venue_.symbols[si], ch.id)) continue;  // not subscribed: nothing to resync
      const resync_plan plan = adapter_->resync_plan_for(ch.id);
      if (plan.method == resync_method::none) continue;
      const std::size_t index = resync_index(si, ch.id);
      if (index == kNoResyncSlot) {
        log_.always("resync: %s %s has no resync slot (symbol %zu; at most %zu per venue): it cannot be resynced",
                    channel_name(ch.id), venue_.symbols[si].c_str(), si, kMaxResyncSymbols);
        continue;
      }
      // depth and depth@100ms of one symbol share a slot (one channel id): one entry.
      if (std::any_of(books_.begin(), books_.end(), [&](const book_stream& b) { return b.index == index; })) continue;
      book_stream b;
      b.sub = {ch.id, venue_.symbols[si], ch.variant};
      b.method = plan.method;
      b.index = index;
      if (plan.method == resync_method::rest_snapshot) {
        b.rest_path = adapter_->snapshot_path(b.sub, plan.rest_depth);
        b.rest_cost = plan.rest_cost;
        ++rest_streams;
      } else {
        const std::span<const subscription> one(&b.sub, 1);
        b.resubscribe = adapter_->unsubscribe_messages(one);
        for (auto& m : adapter_->subscribe_messages(one)) b.resubscribe.push_back(std::move(m));
      }
      books_.push_back(std::move(b));
    }
  }
  // At least one lane: the instrument check at start (feeder_instruments.cpp) uses it too.
  const std::size_t lanes = std::clamp<std::size_t>(rest_streams, 1, kRestLanes);
  rest_ = std::make_unique<rest_client>(static_cast<rest_events&>(*this), ws_->context(), venue_.ep.tls, lanes,
                                        venue_.policy.max_message_bytes);
  lane_stream_.assign(lanes, SIZE_MAX);
}

// ---- requests ----------------------------------------------------------------------------

/// Called on every control poll: one acquire load per configured book stream, no allocation.
void feeder::poll_resync(std::int64_t now) noexcept {
  (void)now;
  if (!control_.valid() || intent_ == intent::stopping) return;
  for (book_stream& b : books_) {
    const std::uint64_t g = control_.resync_generation(b.index);  // acquire: pairs with request()'s bump
    if (g == b.generation) continue;
    const bool moved = g > b.generation;  // a smaller one is another block's count: adopt it silently
    b.generation = g;
    if (!moved) continue;
    bump(status_.fields().resync_requests);
    switch (b.phase) {
      case resync_phase::idle:
      case resync_phase::retry_wait:  // a fresh request: full attempts again, at once
        b.attempt = 0;
        set_phase(b, resync_phase::queued);
        break;
      case resync_phase::queued:
        break;  // not started yet: the one snapshot serves both
      case resync_phase::awaiting:
        // Nothing sent yet (no connection): the next connection's snapshot comes after this
        // request too. Otherwise the pushed snapshot may predate it: serve it after.
        if (b.at != 0) b.again = true;
        break;
      case resync_phase::fetching:
        b.again = true;  // the REST snapshot in flight may have been taken before this request
        break;
    }
  }
}

/// From the tick: deadlines, retries and starts.
void feeder::advance_resyncs(std::int64_t now) noexcept {
  if (books_.empty()) return;
  if (rest_) rest_->check_deadlines(now);  // a timeout reports through on_rest_done
  if (intent_ == intent::stopping) return;
  for (book_stream& b : books_) {
    switch (b.phase) {
      case resync_phase::retry_wait:
        if (now < b.at) break;
        set_phase(b, resync_phase::queued);
        start_resync(b, now);
        break;
      case resync_phase::queued:
        start_resync(b, now);
        break;
      case resync_phase::awaiting:
        if (b.at != 0 && now >= b.at) {
          char why[96];
          std::snprintf(why, sizeof why, "no snapshot within %lld ms (connect_timeout_ms)",
                        static_cast<long long>(venue_.policy.connect_timeout_ms));
          resync_attempt_failed(b, why, now);
        }
        break;
      case resync_phase::idle:
      case resync_phase::fetching:
        break;
    }
  }
}

void feeder::start_resync(book_stream& b, std::int64_t now) noexcept {
  if (now < b.not_before) return;  // backing off after failed requests: the venue is not hammered
  b.serving = b.generation;
  const std::int64_t deadline = now + venue_.policy.connect_timeout_ms * kMs;
  if (b.method == resync_method::rest_snapshot) {
    // Only against a running diff stream (its first events are in the ring or coming), so
    // the merger can join the snapshot to it; a request made while down waits for live.
    if (live_since_ == 0 || !ws_->established() || status_.state() == feeder_state::draining) return;
    const std::size_t lane = rest_->free_lane();
    if (lane >= rest_->lanes()) return;  // both lanes busy: next tick
    // One REST budget per venue and IP for every process of the bus (feeders/CONFORMANCE.md
    // "Hosts and REST"): a request waits for it; after a 429 nobody sends until Retry-After.
    if (now < rest_not_before_) return;
    if (const budget_decision d = budget_.try_rest(b.rest_cost); !d.granted()) {
      rest_not_before_ = now + std::max<std::int64_t>(d.retry_in_ns, kMs);
      bump(status_.fields().rest_deferrals);
      log_.log(kKeyRestBudget, now, "REST snapshot %s %s waits %lld ms for the venue's REST budget (%s)", channel_name(b.sub.ch),
               b.sub.symbol.c_str(), static_cast<long long>((rest_not_before_ - now) / kMs),
               std::string_view(to_string(d.reason)).data());
      return;
    }
    ++b.attempt;
    bool started = false;
    try {
      started = rest_->get(lane, rest_target_, b.rest_path, deadline);
    } catch (const std::exception&) {  // allocation failure inside lws's request set-up
    }
    if (!started) {
      resync_attempt_failed(b, rest_->error_text(), now);
      return;
    }
    b.lane = lane;
    lane_stream_[lane] = static_cast<std::size_t>(&b - books_.data());
    set_phase(b, resync_phase::fetching);
    return;
  }
  // resubscribe
  ++b.attempt;
  if (!ws_->established() || status_.state() == feeder_state::draining) {
    // A new subscription starts with a pushed snapshot (CONFORMANCE.md "Book joins"), and the next connection
    // subscribes to everything: no deadline until that connection is up.
    b.at = 0;
    set_phase(b, resync_phase::awaiting);
    return;
  }
  try {
    for (const auto& m : b.resubscribe) ws_->send_text(m);  // copies: a resync is not the message path
  } catch (const std::exception&) {
    resync_attempt_failed(b, "cannot queue the resubscribe", now);
    return;
  }
  b.at = deadline;
  set_phase(b, resync_phase::awaiting);
}

// ---- outcomes ----------------------------------------------------------------------------

void feeder::on_rest_done(std::size_t lane, const rest_result& r) noexcept {
  if (finished_ || lane >= lane_stream_.size()) return;
  // Every answer tells the budget what the venue counted (X-MBX-USED-WEIGHT-1M) and whether it
  // objected (429 / 418 with Retry-After): all processes of the bus hold back from then on.
  budget_.note_rest_answer(r.status, r.used_weight, r.retry_after_s);
  if (r.status == 429 || r.status == 418) bump(status_.fields().rest_rejections);
  const std::size_t owner = lane_stream_[lane];
  lane_stream_[lane] = SIZE_MAX;
  if (owner == kInstrumentsLane) {
    on_instruments_done(r);
    return;
  }
  if (owner >= kHistoryOwner && owner - kHistoryOwner < histories_.size()) {
    on_backfill_done(histories_[owner - kHistoryOwner], r);
    return;
  }
  if (owner >= books_.size()) return;
  book_stream& b = books_[owner];
  b.lane = SIZE_MAX;
  const std::int64_t now = mono_ns();
  char why[kLastErrorCapacity];
  if (!r.complete) {
    std::snprintf(why, sizeof why, "%.*s", static_cast<int>(r.error.size()), r.error.data());
    resync_attempt_failed(b, why, now);
    return;
  }
  if (r.status != 200) {  // Binance: 400 -1121 bad symbol, 429 rate limit, 418 banned
    char sample[81];
    log_limiter::sanitize({r.body.data(), r.body.size()}, sample, 80);
    std::snprintf(why, sizeof why, "HTTP %d: %s", r.status, sample);
    resync_attempt_failed(b, why, now);
    return;
  }
  const parse_result p = adapter_->parse_snapshot(b.sub, r.body, r.first_byte_ns, sink_);
  feeder_status& f = status_.fields();
  if (p.records > 0) bump(f.records, p.records);
  f.ring_overflows.store(sink_.dropped(), std::memory_order_relaxed);
  if (p.error != parse_error::none || p.records == 0) {
    // A cut snapshot (ring full) shows by its missing last part; the merger waits for whole ones.
    std::snprintf(why, sizeof why, "snapshot body: %s (%.*s)", std::string_view(to_string(p.error)).data(),
                  static_cast<int>(p.detail.size()), p.detail.data());
    resync_attempt_failed(b, why, now);
    return;
  }
  resync_served(b, p.records);
}

/// The venue's pushed snapshot for an awaiting stream (OKX resubscribe) has been committed.
void feeder::on_snapshot_committed(const book_record& r) noexcept {
  if ((r.header.flags & kHeaderFromRest) != 0 || (r.book_flags & kBookLastPart) == 0) return;
  for (book_stream& b : books_) {
    if (b.phase != resync_phase::awaiting || b.sub.ch != r.header.channel_id || b.sub.symbol != r.header.symbol_view())
      continue;
    resync_served(b, r.part_index + 1U);
    return;
  }
}

void feeder::resync_served(book_stream& b, std::uint32_t records) noexcept {
  b.failures = 0;
  b.not_before = 0;
  bump(status_.fields().resyncs_done);
  log_.log(kKeyResyncDone, mono_ns(), "resync %s %s: %s written (%u record%s, request generation %llu, attempt %u)",
           channel_name(b.sub.ch), b.sub.symbol.c_str(), b.method == resync_method::rest_snapshot ? "REST snapshot" : "pushed snapshot",
           records, records == 1 ? "" : "s", static_cast<unsigned long long>(b.serving), b.attempt);
  resync_next(b);
}

void feeder::resync_attempt_failed(book_stream& b, const char* why, std::int64_t now) noexcept {
  // Retries back off: reconnect_min_ms doubled for every request given up in a row, up to
  // reconnect_max_ms — a merger asking again and again never turns a failing venue into a
  // request storm (each request spends the venue's REST budget).
  const std::int64_t delay_ms =
      std::min(venue_.policy.reconnect_min_ms << std::min(b.failures, 16U), venue_.policy.reconnect_max_ms);
  if (b.attempt < kResyncAttempts) {
    log_.log(kKeyResyncRetry, now, "resync %s %s: %s attempt %u failed: %s; retrying in %lld ms",
             channel_name(b.sub.ch), b.sub.symbol.c_str(), method_name(b.method), b.attempt, why,
             static_cast<long long>(delay_ms));
    b.at = now + delay_ms * kMs;
    set_phase(b, resync_phase::retry_wait);
    return;
  }
  ++b.failures;
  b.not_before = now + delay_ms * kMs;
  bump(status_.fields().resync_failures);
  log_.log(kKeyResyncGaveUp, now, "resync %s %s: %s attempt %u failed: %s; giving up until the next request",
           channel_name(b.sub.ch), b.sub.symbol.c_str(), method_name(b.method), b.attempt, why);
  note_error("resync %s %s failed: %s", channel_name(b.sub.ch), b.sub.symbol.c_str(), why);
  resync_next(b);
}

/// After a request ended (served or given up): the one that arrived meanwhile, or idle.
void feeder::resync_next(book_stream& b) noexcept {
  b.attempt = 0;
  b.at = 0;
  if (b.again) {
    b.again = false;
    set_phase(b, resync_phase::queued);  // started from the next tick, never from inside a callback
  } else {
    set_phase(b, resync_phase::idle);
  }
}

void feeder::set_phase(book_stream& b, resync_phase p) noexcept {
  if (b.phase == p) return;
  if (b.phase == resync_phase::awaiting) --awaiting_;
  if (p == resync_phase::awaiting) ++awaiting_;
  b.phase = p;
  // The ring sink looks at committed snapshots only while someone waits for one.
  sink_.observe_snapshots(awaiting_ > 0 ? static_cast<snapshot_observer*>(this) : nullptr);
}

// ---- connection transitions --------------------------------------------------------------

/// The connection's subscribe requests went out: they bring a snapshot of every book
/// channel, so a stream waiting for one gets its deadline from now.
void feeder::resync_on_established(std::int64_t now) noexcept {
  for (book_stream& b : books_)
    if (b.phase == resync_phase::awaiting) b.at = now + venue_.policy.connect_timeout_ms * kMs;
}

/// No connection, no snapshot to expect: awaiting streams wait for the next one without a
/// deadline. REST requests in flight carry on (a snapshot is the venue's book whatever the line).
void feeder::resync_on_closed() noexcept {
  for (book_stream& b : books_)
    if (b.phase == resync_phase::awaiting) b.at = 0;
}

}  // namespace mdbus::feed
