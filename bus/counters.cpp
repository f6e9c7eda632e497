#include "bus/counters.hpp"

#include "bus/clock.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <new>
#include <unistd.h>

namespace mdbus {

bool counters_segment::pid_alive(std::int64_t pid) noexcept {
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::string_view counters_segment::label_of(const counter_metadata& m) noexcept {
  return {m.label, strnlen(m.label, sizeof m.label)};
}

void counters_segment::bind(shm_segment seg) {
  const std::uint64_t n = seg.header().geometry[0];
  if (n == 0 || n > kMaxCountersLimit)
    throw segment_error("segment " + seg.name() + ": " + std::to_string(n) + " counters is out of range 1.." +
                        std::to_string(kMaxCountersLimit));
  if (seg.size() != counters_segment_size(n))
    throw segment_error("segment " + seg.name() + ": size " + std::to_string(seg.size()) + " does not fit " +
                        std::to_string(n) + " counters");
  segment_ = std::move(seg);
  max_counters_ = static_cast<std::uint32_t>(n);
  meta_ = std::launder(reinterpret_cast<counter_metadata*>(segment_.body()));
  values_ = std::launder(reinterpret_cast<counter_value*>(segment_.body() + n * sizeof(counter_metadata)));
}

counters_segment counters_segment::create(const std::string& name, std::uint32_t max_counters, mode_t mode) {
  if (max_counters == 0 || max_counters > kMaxCountersLimit)
    throw segment_error("segment " + name + ": max_counters " + std::to_string(max_counters) +
                        " is out of range 1.." + std::to_string(kMaxCountersLimit));
  segment_spec spec;
  spec.name = name;
  spec.kind = segment_kind::counters;
  spec.total_size = counters_segment_size(max_counters);
  spec.geometry = {max_counters, 0, 0};
  spec.mode = mode;
  counters_segment c;
  c.bind(shm_segment::create_or_adopt(spec));
  return c;
}

counters_segment counters_segment::open(const std::string& name, access_mode mode, int wait_ms) {
  counters_segment c;
  c.bind(shm_segment::open(name, segment_kind::counters, mode, wait_ms));
  return c;
}

counter counters_segment::register_counter(std::string_view label, std::uint32_t type_id) {
  if (!segment_.writable()) throw segment_error("segment " + segment_.name() + ": mapped read-only, cannot register");
  if (label.empty() || label.size() > kCounterLabelMax)
    throw segment_error("segment " + segment_.name() + ": counter label must be 1.." +
                        std::to_string(kCounterLabelMax) + " characters, got " + std::to_string(label.size()));
  const std::int64_t me = getpid();
  constexpr auto kFree = static_cast<std::uint32_t>(counter_state::free);
  constexpr auto kReserved = static_cast<std::uint32_t>(counter_state::reserved);
  constexpr auto kAllocated = static_cast<std::uint32_t>(counter_state::allocated);
  if (!indexed_) {
    // Once: every allocated label, the first slot of each (find() and the takeover agree).
    for (std::uint32_t i = 0; i < max_counters_; ++i) {
      const counter_metadata& m = meta_[i];
      if (m.state.load(std::memory_order_acquire) == kAllocated) index_.emplace(std::string(label_of(m)), i);
    }
    indexed_ = true;
  }
  // Take over our own or a dead owner's counter of the same name: its value carries on.
  const std::string key(label);
  if (const auto it = index_.find(key); it != index_.end()) {
    const std::uint32_t i = it->second;
    counter_metadata& m = meta_[i];
    // The slot may have been released and reused under another label since it was indexed.
    if (m.state.load(std::memory_order_acquire) == kAllocated && label_of(m) == label) {
      std::int64_t owner = m.owner_pid.load(std::memory_order_relaxed);
      if (owner == me) return counter(&values_[i].value, i);
      // CAS: two restarted processes racing for the same label — one wins, the other allocates anew.
      if (!pid_alive(owner) && m.owner_pid.compare_exchange_strong(owner, me, std::memory_order_acq_rel))
        return counter(&values_[i].value, i);
    }
    index_.erase(it);
  }
  for (std::uint32_t k = 0; k < max_counters_; ++k) {
    // From the slot after the last one we took, round once: slots are taken in order, so the
    // ones before it are seldom free.
    const std::uint32_t i = (free_hint_ + k) % max_counters_;
    counter_metadata& m = meta_[i];
    std::uint32_t expected = kFree;
    if (!m.state.compare_exchange_strong(expected, kReserved, std::memory_order_acquire)) continue;
    free_hint_ = i + 1 == max_counters_ ? 0 : i + 1;
    m.type_id = type_id;
    m.owner_pid.store(me, std::memory_order_relaxed);
    m.registered_ns = wall_ns();
    std::memset(m.label, 0, sizeof m.label);
    std::memcpy(m.label, label.data(), label.size());
    values_[i].value.store(0, std::memory_order_relaxed);
    // release: publishes label, owner and the zeroed value; pairs with for_each's acquire.
    m.state.store(kAllocated, std::memory_order_release);
    index_.insert_or_assign(key, i);
    return counter(&values_[i].value, i);
  }
  throw segment_error("segment " + segment_.name() + ": all " + std::to_string(max_counters_) +
                      " counters are in use; cannot register '" + std::string(label) + "'");
}

void counters_segment::release(const counter& c) noexcept {
  if (!c.valid() || c.id() >= max_counters_) return;
  // release: our last updates happen before the slot is reusable.
  meta_[c.id()].state.store(static_cast<std::uint32_t>(counter_state::free), std::memory_order_release);
}

std::size_t counters_segment::reclaim_dead() noexcept {
  std::size_t n = 0;
  for (std::uint32_t i = 0; i < max_counters_; ++i) {
    counter_metadata& m = meta_[i];
    std::uint32_t st = m.state.load(std::memory_order_acquire);
    if (st != static_cast<std::uint32_t>(counter_state::allocated)) continue;
    if (pid_alive(m.owner_pid.load(std::memory_order_relaxed))) continue;
    if (m.state.compare_exchange_strong(st, static_cast<std::uint32_t>(counter_state::free),
                                        std::memory_order_acq_rel))
      ++n;
  }
  return n;
}

std::optional<std::uint32_t> counters_segment::locate(std::string_view label) const {
  std::optional<std::uint32_t> out;
  for_each([&](const counter_entry& e) {
    if (!out && e.label == label) out = e.id;
  });
  return out;
}

std::optional<std::int64_t> counters_segment::value_if(std::uint32_t id, std::string_view label) const noexcept {
  if (id >= max_counters_) return std::nullopt;
  const counter_metadata& m = meta_[id];
  // acquire: pairs with the registrant's release of `allocated`; the label is complete.
  if (m.state.load(std::memory_order_acquire) != static_cast<std::uint32_t>(counter_state::allocated) || label_of(m) != label)
    return std::nullopt;
  return values_[id].value.load(std::memory_order_relaxed);
}

std::optional<std::int64_t> counters_segment::find(std::string_view label) const {
  std::optional<std::int64_t> out;
  for_each([&](const counter_entry& e) {
    if (!out && e.label == label) out = e.value;
  });
  return out;
}

}  // namespace mdbus
