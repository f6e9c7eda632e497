#include "feeders/stream_table.hpp"

#include <algorithm>
#include <stdexcept>

namespace mdbus::feed::detail {

void stream_table::add(std::uint8_t tag, std::string_view key, channel value) {
  if (key.size() >= kEmpty) throw std::invalid_argument("stream name too long: " + std::string(key.substr(0, 64)));
  if (find(tag, key) != channel::unknown) return;  // the same stream twice: one entry
  if ((count_ + 1) * 2 > slots_.size()) rebuild(std::max<std::size_t>(16, slots_.size() * 2));
  slot sl;
  sl.hash = hash(tag, key);
  sl.offset = static_cast<std::uint32_t>(keys_.size());
  sl.len = static_cast<std::uint16_t>(key.size());
  sl.tag = tag;
  sl.value = value;
  keys_.append(key);
  std::size_t i = sl.hash & mask_;
  while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
  slots_[i] = sl;
  ++count_;
}

void stream_table::rebuild(std::size_t capacity) {
  std::vector<slot> old = std::move(slots_);
  slots_.assign(capacity, slot{});
  mask_ = capacity - 1;
  for (const slot& sl : old) {
    if (sl.len == kEmpty) continue;
    std::size_t i = sl.hash & mask_;
    while (slots_[i].len != kEmpty) i = (i + 1) & mask_;
    slots_[i] = sl;
  }
}

}  // namespace mdbus::feed::detail
