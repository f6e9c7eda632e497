#pragma once
/// The feeder's record_sink: an adapter claims space straight in the SPSC ring, builds the
/// record there and commits it (zero copy, no allocation). The frame type is the record
/// type (never 0, the padding type). A refused claim (ring full, or a record larger than
/// the ring's max frame) drops the record and is counted: the feeder never blocks on the
/// merger.
#include "bus/spsc_ring.hpp"
#include "feeders/venue_adapter.hpp"

#include <cstdint>
#include <cstring>

namespace mdbus::feed {

/// Told about each book_snapshot record as it is committed, while installed (the feeder
/// installs itself only while an OKX resync waits for the venue's fresh snapshot).
class snapshot_observer {
 public:
  virtual void on_snapshot_committed(const book_record& r) noexcept = 0;

 protected:
  ~snapshot_observer() = default;
};

/// Told about every record as it is committed (the feeder's stale-stream watch), with the
/// record's header read before the commit hands the bytes to the merger.
class commit_observer {
 public:
  virtual void on_record_committed(const record_header& h) noexcept = 0;

 protected:
  ~commit_observer() = default;
};

class ring_sink final : public record_sink {
 public:
  explicit ring_sink(spsc_ring_writer& ring) noexcept : ring_(ring) {}

  [[nodiscard]] std::span<std::byte> claim(std::size_t bytes) noexcept override {
    const std::span<std::byte> out = bytes > UINT32_MAX ? std::span<std::byte>{} : ring_.try_claim(static_cast<std::uint32_t>(bytes));
    if (out.empty()) ++dropped_;
    claimed_ = out.data();
    return out;
  }
  void commit(record_type type, std::size_t used) noexcept override {
    if (commits_ != nullptr && used >= sizeof(record_header)) {
      record_header h;
      std::memcpy(&h, claimed_, sizeof h);
      commits_->on_record_committed(h);
    }
    if (observer_ != nullptr && type == record_type::book_snapshot && used >= sizeof(book_record)) [[unlikely]] {
      book_record fixed;  // copied before the commit hands the bytes to the merger
      std::memcpy(&fixed, claimed_, sizeof fixed);
      ring_.commit(static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(used));
      ++committed_;
      observer_->on_snapshot_committed(fixed);
      return;
    }
    ring_.commit(static_cast<std::uint32_t>(type), static_cast<std::uint32_t>(used));
    ++committed_;
  }

  /// Install (or, with nullptr, remove) the snapshot observer. One pointer test per commit
  /// when none is installed.
  void observe_snapshots(snapshot_observer* o) noexcept { observer_ = o; }
  /// Install (or remove) the commit observer.
  void observe_commits(commit_observer* o) noexcept { commits_ = o; }

  /// Records committed / refused since the sink was made.
  [[nodiscard]] std::uint64_t committed() const noexcept { return committed_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  spsc_ring_writer& ring_;
  snapshot_observer* observer_ = nullptr;
  commit_observer* commits_ = nullptr;
  const std::byte* claimed_ = nullptr;  ///< the last claim, which commit() publishes
  std::uint64_t committed_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace mdbus::feed
