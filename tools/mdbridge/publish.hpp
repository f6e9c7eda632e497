#pragma once
/// `mdbridge publish` (issue 18): follows a bus's output ring and publishes every record but
/// slot markers to JetStream, on subject <prefix>.<venue>.<channel>.<symbol> with the
/// Nats-Msg-Id of bridge_keys.hpp, asynchronously: at most bridge.max_in_flight publishes
/// wait for their acknowledgement. A publish that fails (no stream leader for a moment, a node
/// gone) or waits longer than bridge.ack_timeout_ms for its ack is sent again with the same
/// id, so JetStream stores it once. The bridge reads the ring as a consumer: it never slows
/// the merger; when it falls a whole ring behind, the lap is logged and counted (a second
/// bridge on another bus has those records).
#include "bus/config/config.hpp"

#include <cstdint>
#include <string>

namespace mdbus::bridge {

struct publish_options {
  std::string ring = "out";  ///< the bus's ring to follow
  bool oldest = false;       ///< start with the oldest record the ring holds (default: new ones)
  int wait_ms = 10'000;      ///< wait this long for the ring and for a first NATS connection
  double duration_s = 0;     ///< stop after this long (0: until SIGTERM/SIGINT)
};

struct publish_totals {
  std::uint64_t read = 0;        ///< records read from the ring
  std::uint64_t skipped = 0;     ///< slot markers (a bus's own)
  std::uint64_t published = 0;   ///< publish calls that took a record (first sends)
  std::uint64_t acked = 0;       ///< acknowledgements
  std::uint64_t duplicates = 0;  ///< ... that said JetStream already had the id (the other bridge was first)
  std::uint64_t resent = 0;      ///< records sent again after an error, a lost connection or an ack timeout
  std::uint64_t recoveries = 0;  ///< times new records waited until what was sent was stored
  std::uint64_t laps = 0, missed = 0;  ///< times this bridge fell a ring behind, records it lost so
  std::uint64_t bad = 0;         ///< frames of the ring that are not records (never published)
};

/// Runs until stopped; returns the process exit code. Prints one line at start (tests wait
/// for "mdbridge publish: following") and the totals at the end.
int run_publish(const config::bus_config& cfg, const publish_options& o);

}  // namespace mdbus::bridge
