#include "bus/spsc_ring.hpp"

#include "bus/clock.hpp"

#include <ctime>
#include <new>

namespace mdbus {
namespace {

spsc_ring_geometry geometry_of(const segment_header& h) noexcept { return {h.geometry[0], h.geometry[1]}; }

}  // namespace

std::string check_geometry(const spsc_ring_geometry& g) {
  if (!detail::is_pow2(g.capacity) || g.capacity < 4096)
    return "capacity " + std::to_string(g.capacity) + " must be a power of two >= 4096";
  if (g.capacity > (std::uint64_t{1} << 40)) return "capacity " + std::to_string(g.capacity) + " is absurd (> 1 TiB)";
  if (g.max_payload == 0 || g.max_payload > 0xFFFF'FFF0ULL || detail::spsc_frame_bytes(g.max_payload) > g.capacity / 4)
    return "max_payload " + std::to_string(g.max_payload) + " must be >= 1 and one frame must fit in a quarter of capacity " +
           std::to_string(g.capacity);
  return {};
}

spsc_control_words load_control_words(const spsc_ring_control& c) noexcept {
  spsc_control_words w;
  // acquire: pairs with the reader's release of tail, which follows its acquire of a head at
  // least that far: the head loaded next is >= this tail.
  w.tail = c.tail.load(std::memory_order_acquire);
  // acquire: pairs with the writer's release of head.
  w.head = c.head.load(std::memory_order_acquire);
  return w;
}

std::string check_control(const spsc_control_words& w, const spsc_ring_geometry& g, bool tail_owned) {
  if (w.tail % kSpscFrameAlign != 0) return "tail " + std::to_string(w.tail) + " is not a frame position";
  if (w.head % kSpscFrameAlign != 0) return "head " + std::to_string(w.head) + " is not a frame position";
  if (w.tail > w.head) return "tail " + std::to_string(w.tail) + " is past head " + std::to_string(w.head);
  if (tail_owned && w.head - w.tail > g.capacity)
    return "head " + std::to_string(w.head) + " is more than the capacity past tail " + std::to_string(w.tail);
  return {};
}

spsc_ring_writer spsc_ring_writer::create(const std::string& name, const spsc_ring_geometry& g, mode_t mode) {
  if (auto why = check_geometry(g); !why.empty()) throw segment_error("segment " + name + ": " + why);
  segment_spec spec;
  spec.name = name;
  spec.kind = segment_kind::spsc_ring;
  spec.total_size = kSpscDataOffset + g.capacity;
  spec.geometry = {g.capacity, g.max_payload, 0};
  spec.mode = mode;
  spsc_ring_writer w;
  w.segment_ = shm_segment::create_or_adopt(spec);
  w.control_ = std::launder(reinterpret_cast<spsc_ring_control*>(w.segment_.body()));
  w.data_ = w.segment_.base() + kSpscDataOffset;
  w.geometry_ = g;
  w.mask_ = g.capacity - 1;
  // An adopted ring resumes where the dead writer's last published frame ended. Its head
  // word may lag the frames by one (it died between publishing a header and storing head),
  // so walk published headers from there to the zero word that ends them; a half-written
  // frame past it was never published and is simply overwritten.
  w.head_ = w.control_->head.load(std::memory_order_relaxed);
  w.rung_head_ = w.head_;
  w.cached_tail_ = w.control_->tail.load(std::memory_order_acquire);
  for (std::uint64_t walked = 0; walked < g.capacity;) {
    const std::uint64_t index = w.head_ & w.mask_;
    const std::uint64_t word = detail::spsc_load_header_word(w.data_ + index);
    if (word == 0) break;
    const auto length = static_cast<std::uint32_t>(word);
    const auto type = static_cast<std::uint32_t>(word >> 32);
    const std::uint64_t step = type == kPaddingType ? length : detail::spsc_frame_bytes(length);
    if (step == 0 || step > g.capacity - index || (type != kPaddingType && length > g.max_payload)) {
      detail::spsc_clear_header_word(w.data_ + index);  // unreadable leftover: restore the end marker here
      break;
    }
    w.head_ += step;
    walked += step;
  }
  w.control_->head.store(w.head_, std::memory_order_release);
  return w;
}

bool spsc_ring_writer::try_write(std::uint32_t type, std::span<const std::byte> payload) noexcept {
  if (payload.size() > geometry_.max_payload) {
    control_->oversize.store(control_->oversize.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return false;
  }
  const auto len = static_cast<std::uint32_t>(payload.size());
  auto dst = try_claim(len);
  if (dst.data() == nullptr) return false;
  if (len != 0) std::memcpy(dst.data(), payload.data(), len);
  commit(type, len);
  return true;
}

std::uint64_t spsc_ring_writer::overflows() const noexcept {
  return control_->overflows.load(std::memory_order_relaxed);
}

attach_status spsc_ring_reader::try_open(const std::string& name, spsc_ring_reader& out, std::string& reason) {
  attach_result r = shm_segment::try_open(name, segment_kind::spsc_ring, access_mode::read_write);
  if (r.status != attach_status::ok) {
    reason = std::move(r.reason);
    return r.status;
  }
  const spsc_ring_geometry g = geometry_of(r.segment.header());
  if (auto why = check_geometry(g); !why.empty()) {
    reason = "segment " + name + ": " + why;
    return attach_status::incompatible;
  }
  if (r.segment.size() != kSpscDataOffset + g.capacity) {
    reason = "segment " + name + ": size " + std::to_string(r.segment.size()) + " does not match capacity " +
             std::to_string(g.capacity);
    return attach_status::incompatible;
  }
  if (!r.segment.try_lock(lock_role::reader)) {
    reason = "segment " + name + ": already has a reader (SPSC: one consumer only)";
    return attach_status::incompatible;
  }
  // The reader lock is ours, so tail is ours too: every rule of check_control applies.
  const auto* control = std::launder(reinterpret_cast<const spsc_ring_control*>(r.segment.body()));
  if (auto why = check_control(load_control_words(*control), g, true); !why.empty()) {
    reason = "segment " + name + ": control block contradicts the ring: " + why;
    return attach_status::incompatible;
  }
  spsc_ring_reader rd;
  rd.segment_ = std::move(r.segment);
  rd.control_ = std::launder(reinterpret_cast<spsc_ring_control*>(rd.segment_.body()));
  rd.data_ = rd.segment_.base() + kSpscDataOffset;
  rd.geometry_ = g;
  rd.mask_ = g.capacity - 1;
  // A restarted reader resumes at the tail it last published: frames it had peeked but not
  // released are delivered again (at-least-once inside one consumer; the merger dedups).
  rd.read_pos_ = rd.control_->tail.load(std::memory_order_relaxed);
  rd.pending_pos_ = rd.read_pos_;
  out = std::move(rd);
  return attach_status::ok;
}

spsc_ring_reader spsc_ring_reader::open(const std::string& name, int wait_ms) {
  const auto deadline = mono_ns() + std::int64_t{wait_ms} * 1'000'000;
  spsc_ring_reader rd;
  std::string reason;
  for (;;) {
    const attach_status s = try_open(name, rd, reason);
    if (s == attach_status::ok) return rd;
    if (s == attach_status::incompatible || mono_ns() >= deadline) throw segment_error(reason);
    timespec ts{0, 1'000'000};
    nanosleep(&ts, nullptr);
  }
}

void spsc_ring_reader::release() noexcept {
  read_pos_ = pending_pos_;
  publish_tail();
}

void spsc_ring_reader::publish_tail() noexcept {
  // release: our reads of the consumed frames are done before the writer may reuse them;
  // pairs with the writer's acquire of tail in try_claim().
  control_->tail.store(read_pos_, std::memory_order_release);
}

void spsc_ring_reader::publish_tail_at(std::uint64_t pos) noexcept {
  if (pos > read_pos_) pos = read_pos_;
  // release: as publish_tail().
  control_->tail.store(pos, std::memory_order_release);
}

std::uint64_t spsc_ring_reader::overflows() const noexcept {
  return control_->overflows.load(std::memory_order_relaxed);
}

std::uint64_t spsc_ring_reader::backlog() const noexcept {
  return control_->head.load(std::memory_order_acquire) - read_pos_;
}

}  // namespace mdbus
