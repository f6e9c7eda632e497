// The instrument check at start (ARCHITECTURE.md "Venues as data": an unknown symbol is refused, not
// silently subscribed). Binance stays silent on a stream of a symbol it does not list, so a
// typo in the config would otherwise cost the user every message of that symbol without a
// word. The feeder asks the venue's instrument list on the REST host (inside the shared REST
// budget) while its WebSocket starts; a symbol that is not listed, or not trading, is refused:
// one line per symbol in the log and the status block's last error, exit 2 (a config error).
// No usable answer (network, HTTP error) is retried with a backoff and never stops the data.
#include "feeders/mdfeed/feeder.hpp"

#include "bus/clock.hpp"

#include <algorithm>

namespace mdbus::feed {
namespace {
constexpr std::int64_t kMs = 1'000'000;
constexpr unsigned kKeyInstruments = 25;  // feeder_resync.cpp 19-21 and 24, feeder_stale.cpp 22, feeder.cpp 23
static_assert(kKeyInstruments < log_limiter::kKeys);
/// A query's path (and query string) at most this long: the REST client's request head has
/// room for 4 KB with the other headers (libwebsockets' header space), and Binance names the
/// symbols in the query (`symbols=[…]`, ~16 characters each once escaped), so a list of
/// hundreds is asked in several queries.
constexpr std::size_t kMaxInstrumentsPath = 2000;
}  // namespace

std::size_t feeder::instruments_batch() const {
  const std::span<const std::string> rest = std::span<const std::string>(venue_.symbols).subspan(instruments_from_);
  if (instruments_each_ || rest.size() <= 1) return std::min<std::size_t>(1, rest.size());
  std::size_t n = 1;  // at least one, whatever its length
  while (n < rest.size() && adapter_->instruments_path(rest.first(n + 1)).size() <= kMaxInstrumentsPath) ++n;
  return n;
}

void feeder::advance_instruments(std::int64_t now) noexcept {
  if (instruments_ != instruments_phase::waiting || now < instruments_at_ || intent_ == intent::stopping) return;
  const std::size_t lane = rest_->free_lane();
  if (lane >= rest_->lanes() || now < rest_not_before_) return;
  if (const budget_decision d = budget_.try_rest(adapter_->instruments_cost()); !d.granted()) {
    rest_not_before_ = now + std::max<std::int64_t>(d.retry_in_ns, kMs);
    bump(status_.fields().rest_deferrals);
    return;
  }
  std::string path;
  try {
    instruments_count_ = instruments_batch();
    path = adapter_->instruments_path(std::span<const std::string>(venue_.symbols).subspan(instruments_from_, instruments_count_));
    if (!rest_->get(lane, rest_target_, path, now + venue_.policy.connect_timeout_ms * kMs)) {
      instruments_retry(rest_->error_text(), now);
      return;
    }
  } catch (const std::exception& e) {
    instruments_retry(e.what(), now);
    return;
  }
  lane_stream_[lane] = kInstrumentsLane;
  instruments_ = instruments_phase::fetching;
}

void feeder::on_instruments_done(const rest_result& r) noexcept {
  const std::int64_t now = mono_ns();
  instruments_ = instruments_phase::waiting;
  if (!r.complete) {
    instruments_retry(std::string(r.error), now);
    return;
  }
  try {
    const std::span<const std::string> asked =
        std::span<const std::string>(venue_.symbols).subspan(instruments_from_, instruments_count_);
    const instrument_check c = adapter_->check_instruments(r.status, std::string_view(r.body.data(), r.body.size()), asked);
    switch (c.result) {
      case instrument_check::outcome::retry:
        instruments_retry(c.problems.empty() ? std::string("no usable answer") : c.problems.front(), now);
        return;
      case instrument_check::outcome::ask_each:
        log_.always("instrument check: the venue refused the list of %zu symbols; asking for each", asked.size());
        instruments_each_ = true;  // from the first symbol of the refused list on
        return;
      case instrument_check::outcome::ok:
      case instrument_check::outcome::refused:
        break;
    }
    instruments_failures_ = 0;
    for (const auto& p : c.problems) instruments_problems_.push_back(p);
    for (const auto& i : c.instruments) reference_.push_back(i);
    instruments_from_ += asked.size();
    if (instruments_from_ < venue_.symbols.size()) return;  // the next query
    instruments_ = instruments_phase::done;
    if (!instruments_problems_.empty()) {
      refuse_symbols(instruments_problems_, now);
      return;
    }
    log_.always("instrument check: all %zu symbols are listed and trading (%s)", venue_.symbols.size(),
                venue_.rest_ep.host.c_str());
  } catch (const std::exception& e) {
    instruments_retry(e.what(), now);
  }
}

void feeder::publish_reference(std::int64_t now) noexcept {
  const std::int64_t interval_ms = venue_.policy.reference_interval_ms;
  if (instruments_ != instruments_phase::done || reference_.empty() || interval_ms <= 0 || now < next_reference_) return;
  next_reference_ = now + interval_ms * kMs;
  // The interval on the wall clock both slots share: their copies of one interval carry the
  // same seq, so the merger publishes one (bus/include/mdbus/records.hpp instrument_record).
  const std::int64_t wall = wall_ns();
  const std::int64_t period_ms = wall / 1'000'000 / interval_ms * interval_ms;
  std::uint64_t written = 0;
  for (instrument_record r : reference_) {
    r.header.slot = options_.slot;
    r.header.seq = static_cast<std::uint64_t>(period_ms);
    r.header.flags = static_cast<std::uint8_t>(r.header.flags | kHeaderHasSeq);
    r.header.receive_time_ns = wall;
    // A full ring counts it (ring_overflows); the next interval writes it again.
    if (ring_.try_write(static_cast<std::uint32_t>(record_type::instrument), record_bytes(r))) ++written;
  }
  if (written > 0) bump(status_.fields().records, written);
}

void feeder::instruments_retry(const std::string& why, std::int64_t now) noexcept {
  const std::int64_t delay_ms =
      std::min(venue_.policy.reconnect_min_ms << std::min(instruments_failures_, 16U), venue_.policy.reconnect_max_ms);
  ++instruments_failures_;
  instruments_at_ = now + delay_ms * kMs;
  instruments_ = instruments_phase::waiting;
  log_.log(kKeyInstruments, now, "instrument check: %s; asking again in %lld ms", why.c_str(), static_cast<long long>(delay_ms));
}

void feeder::refuse_symbols(const std::vector<std::string>& problems, std::int64_t now) noexcept {
  for (const auto& p : problems) log_.always("refusing the config: symbol %s", p.c_str());
  note_error("refusing the config: symbol %s%s", problems.front().c_str(),
             problems.size() > 1 ? " (and more: see the log)" : "");
  exit_code_ = kExitUsage;
  request_stop("a configured symbol is not listed or not trading", now);
}

}  // namespace mdbus::feed
