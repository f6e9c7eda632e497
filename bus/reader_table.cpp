#include "mdbus/reader_table.hpp"

#include "bus/clock.hpp"
#include "bus/counters.hpp"

#include <cstring>
#include <new>
#include <unistd.h>

namespace mdbus {
namespace {

std::string name_of(const reader_slot& s) {
  char buf[kReaderNameMax];
  for (std::size_t w = 0; w < 2; ++w) {
    const std::uint64_t v = s.name[w].load(std::memory_order_relaxed);
    std::memcpy(buf + 8 * w, &v, 8);
  }
  return {buf, strnlen(buf, sizeof buf)};
}

void store_name(reader_slot& s, std::string_view name) noexcept {
  char buf[kReaderNameMax] = {};
  std::memcpy(buf, name.data(), name.size() < sizeof buf ? name.size() : sizeof buf);
  for (std::size_t w = 0; w < 2; ++w) {
    std::uint64_t v = 0;
    std::memcpy(&v, buf + 8 * w, 8);
    s.name[w].store(v, std::memory_order_relaxed);
  }
}

}  // namespace

std::string reader_table_name(std::string_view ring_name) {
  return std::string(ring_name) + std::string(kReaderTableSuffix);
}

void reader_table::bind(shm_segment seg) {
  const std::uint64_t n = seg.header().geometry[0];
  if (n == 0 || n > kMaxReaderTableSlots)
    throw segment_error("segment " + seg.name() + ": " + std::to_string(n) + " reader slots is out of range 1.." +
                        std::to_string(kMaxReaderTableSlots));
  if (seg.size() != reader_table_size(static_cast<std::uint32_t>(n)))
    throw segment_error("segment " + seg.name() + ": size " + std::to_string(seg.size()) + " does not fit " +
                        std::to_string(n) + " reader slots");
  segment_ = std::move(seg);
  slots_ = static_cast<std::uint32_t>(n);
  doorbell_ = std::launder(reinterpret_cast<doorbell_line*>(segment_.body()));
  slot_ = std::launder(reinterpret_cast<reader_slot*>(segment_.body() + sizeof(doorbell_line)));
}

reader_table reader_table::create(const std::string& ring_name, mode_t mode, std::uint32_t slots) {
  const std::string name = reader_table_name(ring_name);
  if (slots == 0 || slots > kMaxReaderTableSlots)
    throw segment_error("segment " + name + ": " + std::to_string(slots) + " reader slots is out of range 1.." +
                        std::to_string(kMaxReaderTableSlots));
  segment_spec spec;
  spec.name = name;
  spec.kind = segment_kind::reader_table;
  spec.total_size = reader_table_size(slots);
  spec.geometry = {slots, 0, 0};
  spec.mode = mode;
  reader_table t;
  t.bind(shm_segment::create_or_adopt(spec));
  return t;
}

attach_status reader_table::try_open(const std::string& ring_name, access_mode mode, reader_table& out,
                                     std::string& reason) {
  attach_result r = shm_segment::try_open(reader_table_name(ring_name), segment_kind::reader_table, mode);
  if (r.status != attach_status::ok) {
    reason = std::move(r.reason);
    return r.status;
  }
  try {
    reader_table t;
    t.bind(std::move(r.segment));
    out = std::move(t);
  } catch (const segment_error& e) {
    reason = e.what();
    return attach_status::incompatible;
  }
  return attach_status::ok;
}

std::vector<reader_entry> reader_table::readers() const {
  std::vector<reader_entry> out;
  for (std::uint32_t i = 0; i < slots_; ++i) {
    const reader_slot& s = slot_[i];
    // acquire: pairs with the owner's release store of its pid after resetting the line.
    const std::int64_t pid = s.pid.load(std::memory_order_acquire);
    if (pid <= 0) continue;
    reader_entry e;
    e.slot = i;
    e.pid = pid;
    e.alive = counters_segment::pid_alive(pid);
    e.name = name_of(s);
    e.position = s.position.load(std::memory_order_relaxed);
    e.next_seq = s.next_seq.load(std::memory_order_relaxed);
    e.laps = s.laps.load(std::memory_order_relaxed);
    e.missed_frames = s.missed_frames.load(std::memory_order_relaxed);
    e.update_ns = s.update_ns.load(std::memory_order_relaxed);
    out.push_back(std::move(e));
  }
  return out;
}

std::uint32_t reader_table::sweep_dead_sleepers() noexcept {
  if (doorbell_ == nullptr || !segment_.writable()) return 0;
  const std::int64_t self = getpid();
  std::uint64_t bits = doorbell_->sleepers.load(std::memory_order_relaxed);
  std::uint32_t freed = 0;
  for (std::uint32_t i = 0; bits != 0 && i < slots_ && i < kDoorbellReaders; ++i, bits >>= 1) {
    if ((bits & 1) == 0) continue;
    reader_slot& s = slot_[i];
    std::int64_t seen = s.pid.load(std::memory_order_relaxed);
    const std::int64_t owner = seen < 0 ? -seen : seen;
    if (owner == self || (owner != 0 && counters_segment::pid_alive(owner))) continue;
    // The claim CAS of reader_registration::claim: whoever wins owns the slot and its bit.
    if (!s.pid.compare_exchange_strong(seen, -self, std::memory_order_acq_rel, std::memory_order_relaxed)) continue;
    doorbell_->sleepers.fetch_and(~(std::uint64_t{1} << i), std::memory_order_relaxed);
    // release: pairs with a claimant's acquire CAS of the free slot.
    s.pid.store(0, std::memory_order_release);
    ++freed;
  }
  return freed;
}

reader_registration::reader_registration(reader_registration&& other) noexcept
    : table_(std::move(other.table_)), slot_(other.slot_), pid_(other.pid_), index_(other.index_) {
  other.slot_ = nullptr;
}

reader_registration& reader_registration::operator=(reader_registration&& other) noexcept {
  if (this != &other) {
    release();
    table_ = std::move(other.table_);
    slot_ = other.slot_;
    pid_ = other.pid_;
    index_ = other.index_;
    other.slot_ = nullptr;
  }
  return *this;
}

reader_registration reader_registration::claim(const std::string& ring_name, std::string_view name,
                                               std::string& why) noexcept {
  try {
    reader_table t;
    if (reader_table::try_open(ring_name, access_mode::read_write, t, why) != attach_status::ok) return {};
    const std::int64_t self = getpid();
    for (std::uint32_t i = 0; i < t.slots(); ++i) {
      reader_slot& s = t.slot_[i];
      std::int64_t seen = s.pid.load(std::memory_order_relaxed);
      // Free, or left by a reader that died (|pid| covers one that died while claiming).
      // Our own pid is alive: another reader of this process, never ours to take.
      const std::int64_t owner = seen < 0 ? -seen : seen;
      if (seen != 0 && (owner == self || counters_segment::pid_alive(owner))) continue;
      // acq_rel: acquire orders our resets after the previous owner's last stores to the line.
      if (!s.pid.compare_exchange_strong(seen, -self, std::memory_order_acq_rel, std::memory_order_relaxed)) continue;
      s.position.store(0, std::memory_order_relaxed);
      s.next_seq.store(0, std::memory_order_relaxed);
      s.laps.store(0, std::memory_order_relaxed);
      s.missed_frames.store(0, std::memory_order_relaxed);
      s.update_ns.store(mono_ns(), std::memory_order_relaxed);
      store_name(s, name);
      // A reader that died asleep in this slot left its doorbell bit set; we are not asleep.
      if (i < kDoorbellReaders) t.doorbell_->sleepers.fetch_and(~(std::uint64_t{1} << i), std::memory_order_relaxed);
      // release: the reset line is complete; pairs with readers()' acquire of the pid.
      s.pid.store(self, std::memory_order_release);
      reader_registration r;
      r.table_ = std::move(t);
      r.slot_ = &r.table_.slot_[i];
      r.pid_ = self;
      r.index_ = i;
      why.clear();
      return r;
    }
    why = "segment " + t.segment().name() + ": all " + std::to_string(t.slots()) + " reader slots are taken by live readers";
  } catch (...) {  // bad_alloc of a string on the set-up path: registration is best effort
    why = "reader table: registration failed";
  }
  return {};
}

void reader_registration::release() noexcept {
  if (slot_ == nullptr) return;
  reader_slot* s = slot_;
  slot_ = nullptr;
  // A forked child holds a copy of its parent's registration: the slot is not its to free.
  if (getpid() != pid_) return;
  std::int64_t expected = pid_;
  // release: our last stores to the line come before the slot is free for the next owner.
  s->pid.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed);
}

}  // namespace mdbus
