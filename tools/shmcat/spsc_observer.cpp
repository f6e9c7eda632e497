#include "tools/shmcat/spsc_observer.hpp"

#include <cstring>
#include <new>

namespace mdbus::shmcat {

namespace {

// Acquire loads, so the head reload after a copy cannot be satisfied before the copy's loads.
inline std::uint64_t load_word(const std::byte* p) noexcept {
  return __atomic_load_n(reinterpret_cast<const std::uint64_t*>(p), __ATOMIC_ACQUIRE);
}

}  // namespace

spsc_observer spsc_observer::open(const std::string& name) {
  spsc_observer o;
  o.segment_ = shm_segment::open(name, segment_kind::spsc_ring, access_mode::read_only);
  const auto& h = o.segment_.header();
  o.geometry_ = {h.geometry[0], h.geometry[1]};
  if (auto why = check_geometry(o.geometry_); !why.empty()) throw segment_error("segment " + name + ": " + why);
  if (o.segment_.size() != kSpscDataOffset + o.geometry_.capacity)
    throw segment_error("segment " + name + ": size does not match capacity " + std::to_string(o.geometry_.capacity));
  o.control_ = std::launder(reinterpret_cast<const spsc_ring_control*>(o.segment_.body()));
  // The merger moves tail meanwhile (we hold no lock): only the rules that hold regardless.
  if (auto why = check_control(load_control_words(*o.control_), o.geometry_, false); !why.empty())
    throw segment_error("segment " + name + ": control block contradicts the ring: " + why);
  o.data_ = o.segment_.base() + kSpscDataOffset;
  o.mask_ = o.geometry_.capacity - 1;
  // The writer may be past head by up to: a padding frame (< one frame), the frame, and the
  // zeroed header word after it.
  o.margin_ = 2 * detail::spsc_frame_bytes(o.geometry_.max_payload) + sizeof(spsc_frame_header);
  o.start_at_tail();
  return o;
}

std::uint64_t spsc_observer::head() const noexcept {
  // acquire: pairs with the writer's release store of head in commit(); frames before it are published.
  return control_->head.load(std::memory_order_acquire);
}

void spsc_observer::start_at_tail() noexcept {
  // acquire: pairs with the merger's release of tail; only a frame boundary is ever stored.
  pos_ = control_->tail.load(std::memory_order_acquire);
  const std::uint64_t h = head();
  if (pos_ > h || h - pos_ > geometry_.capacity) pos_ = h;  // a restarted writer or reader: trust head
}

void spsc_observer::start_at_head() noexcept { pos_ = head(); }

observe_result spsc_observer::jump_to(std::uint64_t h) noexcept {
  observe_result r;
  r.status = observe_status::overtaken;
  // Resume at the merger's tail when it is ahead of us and far enough from head: the frames
  // it has not consumed cannot be overwritten, so less is lost than by jumping to head.
  // acquire: pairs with the merger's release of tail (a frame boundary).
  const std::uint64_t tail = control_->tail.load(std::memory_order_acquire);
  const std::uint64_t to = tail > pos_ && tail <= h && h + margin_ <= tail + geometry_.capacity ? tail : h;
  r.missed_bytes = to > pos_ ? to - pos_ : 0;
  pos_ = to;
  return r;
}

observe_result spsc_observer::try_read(std::span<std::byte> out) noexcept {
  for (int step = 0; step < 2; ++step) {  // at most one padding frame before a real one
    const std::uint64_t h = head();
    if (pos_ == h) return {};
    if (pos_ > h || overtaken_at(h)) return jump_to(h);  // behind by a ring, or a writer that restarted lower
    const std::uint64_t index = pos_ & mask_;
    const std::uint64_t to_end = geometry_.capacity - index;
    const std::uint64_t word = load_word(data_ + index);
    const auto length = static_cast<std::uint32_t>(word);
    const auto type = static_cast<std::uint32_t>(word >> 32);
    // A header that makes no sense is only corrupt if it was not being overwritten.
    auto bad = [&]() noexcept {
      const std::uint64_t again = head();
      if (overtaken_at(again)) return jump_to(again);
      observe_result r;
      r.status = observe_status::corrupt;
      r.position = pos_;
      return r;
    };
    if (type == kPaddingType) {
      if (length != to_end) return bad();
      pos_ += to_end;
      continue;
    }
    const std::uint64_t frame = detail::spsc_frame_bytes(length);
    if (length > geometry_.max_payload || frame > to_end || length > out.size()) return bad();
    const std::byte* src = data_ + index + sizeof(spsc_frame_header);
    std::byte* dst = out.data();
    std::size_t left = length;
    for (; left >= 8; left -= 8, src += 8, dst += 8) {
      const std::uint64_t w = load_word(src);
      std::memcpy(dst, &w, 8);
    }
    if (left != 0) {
      // The frame is 8-aligned and padded to 8 bytes, so a whole word is inside the ring.
      const std::uint64_t w = load_word(src);
      std::memcpy(dst, &w, left);
    }
    const std::uint64_t after = head();
    if (overtaken_at(after)) return jump_to(after);
    observe_result r;
    r.status = observe_status::ok;
    r.type = type;
    r.length = length;
    r.position = pos_;
    pos_ += frame;
    return r;
  }
  return {observe_status::corrupt, 0, 0, pos_, 0};
}

}  // namespace mdbus::shmcat
