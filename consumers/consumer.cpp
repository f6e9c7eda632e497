#include "mdbus/consumer.hpp"

#include "bus/clock.hpp"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace mdbus {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/// Whether a peeked header is sound enough to filter on: what record_view::parse checks that
/// the header alone can tell. A record failing this is copied whole and parsed, so it is
/// reported as bad_record exactly as without a filter; only a book record's level count
/// (in its body) goes unchecked when the filter skips it.
bool header_plausible(const record_header& h, std::uint32_t length) noexcept {
  const auto t = static_cast<std::uint8_t>(h.type);
  if (h.version != kRecordLayoutVersion || t < static_cast<std::uint8_t>(record_type::trade) ||
      t > static_cast<std::uint8_t>(kLastRecordType) || h.size > length)
    return false;
  return is_book_type(h.type) ? h.size >= sizeof(book_record) : h.size == fixed_record_size(h.type);
}

}  // namespace

std::string_view to_string(poll_status s) noexcept {
  switch (s) {
    case poll_status::record: return "record";
    case poll_status::empty: return "empty";
    case poll_status::lapped: return "lapped";
    case poll_status::bad_record: return "bad_record";
    case poll_status::corrupt: return "corrupt";
  }
  return "unknown";
}

attach_status consumer::try_open(const consumer_options& options, consumer& out, std::string& reason) {
  std::string name;
  try {
    name = mdbus::segment_name(options.bus, options.object);
  } catch (const segment_error& e) {
    reason = e.what();
    return attach_status::incompatible;
  }
  broadcast_ring_reader reader;
  const attach_status s = broadcast_ring_reader::try_open(name, reader, reason, options.start, options.on_lap);
  if (s != attach_status::ok) return s;
  consumer c;
  c.reader_ = std::move(reader);
  c.options_ = options;
  // The ring's max_payload bounds every frame, so try_read can never answer too_small.
  c.buffer_bytes_ = c.reader_.geometry().max_payload;
  c.buffer_ = std::make_unique<std::uint64_t[]>((c.buffer_bytes_ + 7) / 8);
  if (options.register_reader) {
    const std::string tag = options.reader_name.empty() ? std::string(program_invocation_short_name) : options.reader_name;
    c.registration_ = reader_registration::claim(name, tag, c.registration_problem_);
    c.publish_progress(poll_status::empty);
    c.registration_.touch(mono_ns());
  }
  out = std::move(c);
  return attach_status::ok;
}

consumer consumer::open(const consumer_options& options) {
  const auto deadline = mono_ns() + std::int64_t{options.open_wait_ms} * 1'000'000;
  consumer c;
  std::string reason;
  for (;;) {
    const attach_status s = try_open(options, c, reason);
    if (s == attach_status::ok) return c;
    if (s == attach_status::incompatible || mono_ns() >= deadline) throw segment_error(reason);
    timespec ts{0, 1'000'000};
    nanosleep(&ts, nullptr);
  }
}

poll_result consumer::poll() noexcept {
  poll_result r = poll_ring();
  if (registration_.valid()) publish_progress(r.status);
  return r;
}

void consumer::publish_progress(poll_status s) noexcept {
  // Relaxed stores to our own line of the reader table, only when something changed: on a
  // busy ring one or two stores per poll, on an idle one none (README "Reader table").
  if (reader_.position() != published_pos_) {
    published_pos_ = reader_.position();
    registration_.update(published_pos_, reader_.next_seq());
  }
  if (s == poll_status::lapped) registration_.update_losses(stats_.laps, stats_.missed_frames);
  if (++polls_since_touch_ >= reader_registration::kTouchEvery || s == poll_status::lapped) {
    polls_since_touch_ = 0;
    registration_.touch(mono_ns());
  }
}

broadcast_read_result consumer::read_next(std::span<std::byte> buf) noexcept {
  if (options_.filter.empty()) return reader_.try_read(buf);
  const std::size_t head = buf.size() < sizeof(record_header) ? buf.size() : sizeof(record_header);
  for (;;) {
    const broadcast_read_result peek = reader_.try_peek(buf.first(head));
    if (peek.status != broadcast_read_status::ok) return peek;
    if (peek.length >= sizeof(record_header)) {
      record_header h;
      std::memcpy(&h, buf.data(), sizeof h);
      if (header_plausible(h, peek.length) && !options_.filter.pass(h)) {
        reader_.skip_peeked();  // the body is never copied
        ++stats_.filtered;
        continue;  // bounded: a writer faster than this loop laps us, which returns
      }
    }
    return reader_.read_peeked(buf);
  }
}

poll_result consumer::poll_ring() noexcept {
  poll_result r;
  if (reopen_) {
    // After `corrupt` the ring reader would stay on the bad header; a fresh attach starts
    // at the newest frame, the only position known to be good. (std::string inside
    // try_open may allocate: this is the cold path of a broken writer.)
    broadcast_ring_reader fresh;
    std::string reason;
    try {
      if (broadcast_ring_reader::try_open(reader_.segment().name(), fresh, reason, start_position::newest,
                                          options_.on_lap) != attach_status::ok) {
        r.status = poll_status::corrupt;
        return r;
      }
    } catch (...) {
      r.status = poll_status::corrupt;
      return r;
    }
    reader_ = std::move(fresh);
    reopen_ = false;
  }
  const std::span<std::byte> buf(reinterpret_cast<std::byte*>(buffer_.get()), buffer_bytes_);
  for (;;) {
    const broadcast_read_result res = read_next(buf);
    switch (res.status) {
      case broadcast_read_status::empty:
        return r;
      case broadcast_read_status::lapped:
        ++stats_.laps;
        stats_.missed_frames += res.missed_frames;
        stats_.missed_bytes += res.missed_bytes;
        r.status = poll_status::lapped;
        r.missed_frames = res.missed_frames;
        r.missed_bytes = res.missed_bytes;
        return r;
      case broadcast_read_status::too_small:  // cannot happen (buffer = max_payload): treat as the ring's fault
      case broadcast_read_status::corrupt:
        ++stats_.corrupt;
        reopen_ = true;
        r.status = poll_status::corrupt;
        return r;
      case broadcast_read_status::ok:
        break;
    }
    const record_status rs = record_view::parse(buf.first(res.length), r.record);
    if (rs != record_status::ok) {
      ++stats_.bad_records;
      r.status = poll_status::bad_record;
      r.error = rs;
      r.seq = res.seq;
      return r;
    }
    if (!options_.filter.pass(r.record.header())) {
      ++stats_.filtered;
      continue;  // bounded: a writer faster than this loop laps us, which returns
    }
    ++stats_.records;
    r.status = poll_status::record;
    r.seq = res.seq;
    return r;
  }
}

poll_result consumer::wait_on_doorbell(doorbell_line& bell, std::int64_t now, std::int64_t deadline,
                                       const idle_policy& idle) noexcept {
  // The longest single sleep: the reader table's update time (tools' "alive, idle") moves at
  // least this often while the bus is quiet.
  constexpr std::int64_t kMaxSleepNs = 100'000'000;
  const std::uint64_t bit = registration_.sleeper_bit();
  poll_result r;
  for (;;) {
    // Spin: a record that follows within spin_ns costs no system call on either side.
    for (const std::int64_t spin_until = now + idle.spin_ns; now < spin_until && now < deadline; now = mono_ns()) {
      cpu_relax();
      r = poll();
      if (r.status != poll_status::empty) return r;
    }
    if (now >= deadline) return r;
    // Announce, look once more (the merger may have published after our last poll and seen
    // no sleeper), and only then sleep (bus/include/mdbus/doorbell.hpp).
    registration_.touch(now);  // idle but alive
    const std::int64_t left = deadline - now;
    const doorbell_wake_reason why = doorbell_wait(bell, bit, left < kMaxSleepNs ? left : kMaxSleepNs, [&] {
      r = poll();
      return r.status != poll_status::empty;
    });
    if (why == doorbell_wake_reason::looked) return r;
    ++stats_.sleeps;
    r = poll();
    if (r.status != poll_status::empty || why == doorbell_wake_reason::signal) return r;
    now = mono_ns();
  }
}

poll_result consumer::wait(std::int64_t timeout_ns, const idle_policy& idle) noexcept {
  poll_result r = poll();
  if (r.status != poll_status::empty || timeout_ns <= 0) return r;
  const std::int64_t start = mono_ns();
  const std::int64_t deadline = start + timeout_ns;
  if (idle.mode == idle_mode::wait)
    if (doorbell_line* bell = registration_.doorbell()) return wait_on_doorbell(*bell, start, deadline, idle);
  std::uint32_t spins = 0, yields = 0;
  std::int64_t sleep_ns = 1000;
  for (;;) {
    switch (idle.mode) {
      case idle_mode::busy_spin:
        cpu_relax();
        break;
      case idle_mode::yield:
        sched_yield();
        break;
      case idle_mode::wait:  // no doorbell to sleep on (not registered, or slot >= 64): back off
      case idle_mode::backoff:
        if (spins < idle.spins) {
          ++spins;
          cpu_relax();
        } else if (yields < idle.yields) {
          ++yields;
          sched_yield();
        } else {
          const std::int64_t now = mono_ns();
          registration_.touch(now);  // idle but alive: the clock is read here anyway
          const std::int64_t left = deadline - now;
          if (left <= 0) return poll();
          std::int64_t ns = sleep_ns < left ? sleep_ns : left;
          if (ns > idle.max_sleep_ns) ns = idle.max_sleep_ns;
          timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
          nanosleep(&ts, nullptr);
          if (sleep_ns < idle.max_sleep_ns) sleep_ns *= 2;
        }
        break;
    }
    r = poll();
    if (r.status != poll_status::empty) return r;
    // The clock is a vDSO read (~20 ns); checking it every 64 spins keeps the spin tight.
    if ((idle.mode != idle_mode::busy_spin || (spins++ & 63) == 0) && mono_ns() >= deadline) return r;
  }
}

writer_liveness consumer::writer_state(std::int64_t max_heartbeat_age_ns) const noexcept {
  return reader_.segment().writer_state(max_heartbeat_age_ns, mono_ns());
}

}  // namespace mdbus
