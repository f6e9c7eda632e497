#include "bus/venue_budget.hpp"

#include "bus/clock.hpp"

#include <chrono>
#include <cstring>
#include <new>
#include <thread>

namespace mdbus {
namespace {

constexpr std::int64_t kMs = 1'000'000;
/// A clock_behind answer means another process rolled the window between our clock read and
/// our CAS: a fresh read is in that window, so a couple of retries always suffice.
constexpr int kClockRetries = 4;

std::uint64_t pack_limit(const rate_limit& l) noexcept {
  return (std::uint64_t{l.budget} << 32) | static_cast<std::uint64_t>(l.window_ns / kMs);
}

rate_limit unpack_limit(std::uint64_t word, std::uint64_t kind) noexcept {
  return {static_cast<window_kind>(kind & 0xFF), static_cast<std::uint32_t>(word >> 32),
          static_cast<std::int64_t>(word & 0xFFFF'FFFFULL) * kMs};
}

std::string describe(const rate_limit& l) {
  return std::to_string(l.budget) + " per " + std::to_string(l.window_ns / kMs) + " ms " +
         (l.kind == window_kind::fixed ? "fixed" : l.kind == window_kind::sliding ? "sliding" : "?");
}

std::string describe(const venue_limits& l) { return "rest " + describe(l.rest) + ", connect " + describe(l.connect); }

void check_limits(const std::string& name, const venue_limits& l) {
  if (const char* why = validate(l.rest); *why != '\0') throw segment_error("segment " + name + ": rest limit: " + why);
  if (const char* why = validate(l.connect); *why != '\0')
    throw segment_error("segment " + name + ": connect limit: " + why);
}

std::int64_t clock_for(const rate_limit& l) noexcept { return l.kind == window_kind::fixed ? wall_ns() : mono_ns(); }

void bump(std::atomic<std::int64_t>& c, std::int64_t n = 1) noexcept {
  // relaxed: a statistic; nothing is published with it.
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace

std::array<std::uint64_t, 3> venue_budget_geometry(venue v, const venue_limits& l) noexcept {
  return {std::uint64_t{static_cast<std::uint8_t>(v)} | (std::uint64_t{static_cast<std::uint8_t>(l.rest.kind)} << 8) |
              (std::uint64_t{static_cast<std::uint8_t>(l.connect.kind)} << 16),
          pack_limit(l.rest), pack_limit(l.connect)};
}

venue_budget::venue_budget(venue_budget&& other) noexcept
    : segment_(std::move(other.segment_)), body_(other.body_), venue_(other.venue_), limits_(other.limits_) {
  other.body_ = nullptr;
}

venue_budget& venue_budget::operator=(venue_budget&& other) noexcept {
  if (this != &other) {
    segment_ = std::move(other.segment_);
    body_ = other.body_;
    venue_ = other.venue_;
    limits_ = other.limits_;
    other.body_ = nullptr;
  }
  return *this;
}

std::string venue_budget::segment_name_for(std::string_view bus, venue v) {
  return segment_name(bus, "budget." + std::string(to_string(v)));
}

void venue_budget::bind(shm_segment seg, venue v) {
  const auto& g = seg.header().geometry;
  if (seg.size() != kVenueBudgetSegmentSize)
    throw segment_error("segment " + seg.name() + ": size " + std::to_string(seg.size()) + ", a venue budget is " +
                        std::to_string(kVenueBudgetSegmentSize));
  if ((g[0] & 0xFF) != static_cast<std::uint8_t>(v))
    throw segment_error("segment " + seg.name() + ": holds the budget of venue " + std::to_string(g[0] & 0xFF) +
                        ", expected " + std::string(to_string(v)));
  venue_limits l{unpack_limit(g[1], g[0] >> 8), unpack_limit(g[2], g[0] >> 16)};
  check_limits(seg.name(), l);  // never trust a header field as a divisor before this
  segment_ = std::move(seg);
  body_ = std::launder(reinterpret_cast<venue_budget_layout*>(segment_.body()));
  venue_ = v;
  limits_ = l;
}

venue_budget venue_budget::open_or_create(std::string_view bus, venue v, const venue_limits& limits, mode_t mode,
                                          int wait_ms) {
  segment_spec spec;
  spec.name = segment_name_for(bus, v);
  check_limits(spec.name, limits);
  spec.kind = kVenueBudgetKind;
  spec.total_size = kVenueBudgetSegmentSize;
  spec.geometry = venue_budget_geometry(v, limits);
  spec.mode = mode;

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  std::string last;
  for (;;) {
    attach_result r = shm_segment::try_open(spec.name, spec.kind, access_mode::read_write);
    if (r.status == attach_status::ok) {
      if (r.segment.header().geometry != spec.geometry) {
        venue_budget other;
        other.bind(std::move(r.segment), v);  // decodes (and validates) the segment's limits
        throw segment_error("segment " + spec.name + ": limits differ: the segment has " + describe(other.limits_) +
                            ", this process asks for " + describe(limits) +
                            " (every process of a bus must use the same; remove the segment to change them)");
      }
      venue_budget b;
      b.bind(std::move(r.segment), v);
      return b;
    }
    bool create = r.status == attach_status::await;
    if (r.status == attach_status::incompatible) {
      // Only a segment its creator abandoned half-built (version 0, writer lock free) is
      // replaced; anything else (another layout, another kind, no permission) may be in use
      // by other processes and is the supervisor's to remove.
      const segment_info i = inspect_segment(spec.name);
      const bool ours = !i.permission_denied && !i.foreign_owner;
      create = ours && i.file_size > 0 && i.layout_version == 0 && !i.writer_alive;
      if (r.foreign_owner) throw segment_owner_error(r.reason);  // another user's: never ours to replace
      // "Abandoned" was one look; a second that finds a writer, or the version stored, saw a
      // creator at work (racing openers): look again rather than fail.
      const bool racing = ours && r.abandoned && (i.writer_alive || i.layout_version != 0);
      if (!create && !racing) throw segment_error(r.reason);
    }
    last = r.reason;
    if (create) {
      // O_EXCL inside. Racing creators: one wins; the others find its writer lock held
      // ("already has a live writer") and go round to try_open, which waits for the winner's
      // version store. The writer lock only serialises creation here: every process writes
      // the body, by CAS, whoever holds it.
      try {
        venue_budget b;
        b.bind(shm_segment::create_or_adopt(spec), v);
        return b;
      } catch (const segment_error& e) {
        last = e.what();
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) throw segment_error(last);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // set-up path, not the hot path
  }
}

venue_budget venue_budget::open(std::string_view bus, venue v, access_mode mode, int wait_ms) {
  venue_budget b;
  b.bind(shm_segment::open(segment_name_for(bus, v), kVenueBudgetKind, mode, wait_ms), v);
  return b;
}

bool venue_budget::remove(std::string_view bus, venue v) noexcept {
  try {
    return shm_segment::remove(segment_name_for(bus, v));
  } catch (...) {
    return false;
  }
}

std::int64_t venue_budget::rest_clock_ns() const noexcept { return clock_for(limits_.rest); }
std::int64_t venue_budget::connect_clock_ns() const noexcept { return clock_for(limits_.connect); }

budget_decision venue_budget::try_rest(std::uint32_t cost) noexcept {
  budget_decision d = try_rest_at(cost, rest_clock_ns());
  for (int i = 0; i < kClockRetries && d.reason == budget_reason::clock_behind; ++i)
    d = try_rest_at(cost, rest_clock_ns());
  return d;
}

budget_decision venue_budget::try_rest_at(std::uint32_t cost, std::int64_t now) noexcept {
  if (!segment_.writable()) return budget_refused(budget_reason::read_only);
  if (const budget_reason r = rate_refusal(limits_.rest, cost); r != budget_reason::none) {
    bump(body_->rest_refused);
    return budget_refused(r);
  }
  // seq_cst on rest_word and rest_blocked_until (not acq/rel): the re-check below is a
  // store-load pattern across two words, which only a single total order makes sound.
  std::uint64_t word = body_->rest_word.load(std::memory_order_seq_cst);
  for (;;) {
    const std::int64_t blocked = body_->rest_blocked_until.load(std::memory_order_seq_cst);
    budget_decision d = blocked_at(blocked, now) ? budget_wait(budget_reason::retry_after, blocked, now)
                                                 : budget_decision{};
    std::uint64_t next = word;
    if (d.outcome != budget_outcome::wait) d = rate_try(limits_.rest, next, cost, now);
    if (!d.granted()) {
      bump(body_->rest_deferred);
      if (d.reason == budget_reason::retry_after) bump(body_->rest_blocked);
      return d;
    }
    // One CAS publishes the spend; a failure reloads `word` and decides again.
    if (body_->rest_word.compare_exchange_weak(word, next, std::memory_order_seq_cst)) break;
  }
  // A 429 recorded by another process after our first block check but before our CAS: in
  // the total order our grant then follows the block, so withdraw it (the units stay spent,
  // which only defers others). If this load misses the block, our CAS preceded it: the
  // request counts as sent before the 429 was known.
  if (const std::int64_t blocked = body_->rest_blocked_until.load(std::memory_order_seq_cst); blocked_at(blocked, now)) {
    bump(body_->rest_deferred);
    bump(body_->rest_blocked);
    return budget_wait(budget_reason::retry_after, blocked, now);
  }
  bump(body_->rest_granted);
  bump(body_->rest_units_granted, cost);
  return budget_granted();
}

void venue_budget::note_rest_answer(int http_status, std::int64_t used_weight, std::int64_t retry_after_s) noexcept {
  note_rest_answer_at(http_status, used_weight, retry_after_s, rest_clock_ns());
}

void venue_budget::note_rest_answer_at(int http_status, std::int64_t used_weight, std::int64_t retry_after_s,
                                       std::int64_t now) noexcept {
  if (!segment_.writable()) return;
  bump(body_->rest_answers);
  const bool limited = http_status == 429 || http_status == 418;
  if (limited) {
    bump(http_status == 429 ? body_->http_429 : body_->http_418);
    // The block first: it is what stops every process. Max-CAS: a shorter Retry-After seen
    // later never shortens a longer block.
    const std::int64_t until = now + block_ns_for(limits_.rest, http_status, retry_after_s);
    std::int64_t cur = body_->rest_blocked_until.load(std::memory_order_seq_cst);
    while (cur < until && !body_->rest_blocked_until.compare_exchange_weak(cur, until, std::memory_order_seq_cst)) {
    }
  }
  if (used_weight >= 0) {
    body_->last_used_header.store(used_weight, std::memory_order_relaxed);
    std::uint64_t word = body_->rest_word.load(std::memory_order_seq_cst);
    for (;;) {
      std::uint64_t next = word;
      if (!rate_observe_used(limits_.rest, next, static_cast<std::uint64_t>(used_weight), now)) break;
      if (body_->rest_word.compare_exchange_weak(word, next, std::memory_order_seq_cst)) {
        bump(body_->used_raises);
        break;
      }
    }
  }
  if (limited) {
    std::uint64_t word = body_->rest_word.load(std::memory_order_seq_cst);
    for (;;) {
      std::uint64_t next = word;
      if (!rate_saturate(limits_.rest, next, now)) break;
      if (body_->rest_word.compare_exchange_weak(word, next, std::memory_order_seq_cst)) break;
    }
  }
}

budget_decision venue_budget::try_connect() noexcept {
  budget_decision d = try_connect_at(connect_clock_ns());
  for (int i = 0; i < kClockRetries && d.reason == budget_reason::clock_behind; ++i)
    d = try_connect_at(connect_clock_ns());
  return d;
}

budget_decision venue_budget::try_connect_at(std::int64_t now) noexcept {
  if (!segment_.writable()) return budget_refused(budget_reason::read_only);
  // relaxed: the pace is this one word; its invariant needs only the word's own
  // modification order (every CAS is an atomic read-modify-write), nothing else is published.
  std::uint64_t word = body_->connect_word.load(std::memory_order_relaxed);
  for (;;) {
    std::uint64_t next = word;
    const budget_decision d = rate_try(limits_.connect, next, 1, now);
    if (!d.granted()) {
      bump(body_->connect_deferred);
      return d;
    }
    if (body_->connect_word.compare_exchange_weak(word, next, std::memory_order_relaxed)) {
      bump(body_->connect_granted);
      return d;
    }
  }
}

venue_budget_stats venue_budget::stats() const noexcept {
  venue_budget_stats s;
  if (body_ == nullptr) return s;
  const auto get = [](const std::atomic<std::int64_t>& a) { return a.load(std::memory_order_relaxed); };
  s.rest_granted = get(body_->rest_granted);
  s.rest_units_granted = get(body_->rest_units_granted);
  s.rest_deferred = get(body_->rest_deferred);
  s.rest_blocked = get(body_->rest_blocked);
  s.rest_refused = get(body_->rest_refused);
  s.rest_answers = get(body_->rest_answers);
  s.http_429 = get(body_->http_429);
  s.http_418 = get(body_->http_418);
  s.connect_granted = get(body_->connect_granted);
  s.connect_deferred = get(body_->connect_deferred);
  s.used_raises = get(body_->used_raises);
  s.last_used_header = get(body_->last_used_header);
  return s;
}

std::uint64_t venue_budget::rest_in_use(std::int64_t now) const noexcept {
  if (body_ == nullptr) return 0;
  return rate_in_use(limits_.rest, body_->rest_word.load(std::memory_order_relaxed), now);
}

std::int64_t venue_budget::rest_blocked_until() const noexcept {
  if (body_ == nullptr) return 0;
  return body_->rest_blocked_until.load(std::memory_order_relaxed);
}

}  // namespace mdbus
