#pragma once
/// The feeder's record_sink: an adapter claims space straight in the SPSC ring, builds the
/// record there and commits it (zero copy, no allocation). The frame type is the record
/// type (never 0, the padding type). A refused claim (ring full, or a record larger than
/// the ring's max frame) drops the record and is counted: the feeder never blocks on the
/// merger.
#include "bus/spsc_ring.hpp"
#include "feeders/venue_adapter.hpp"

#include <cstdint>

namespace mdbus::feed {

class ring_sink final : public record_sink {
 public:
  explicit ring_sink(spsc_ring_writer& ring) noexcept : ring_(ring) {}

  [[nodiscard]] std::span<std::byte> claim(std::size_t bytes) noexcept override {
    const std::span<std::byte> out = bytes > UINT32_MAX ? std::span<std::byte>{} : ring_.try_claim(static_cast<std::uint32_t>(bytes));
    if (out.empty()) ++dropped_;
    return out;
  }
  void commit(record_type type, std::size_t used) noexcept override {
    ring_.commit(static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(used));
    ++committed_;
  }

  /// Records committed / refused since the sink was made.
  [[nodiscard]] std::uint64_t committed() const noexcept { return committed_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  spsc_ring_writer& ring_;
  std::uint64_t committed_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace mdbus::feed
