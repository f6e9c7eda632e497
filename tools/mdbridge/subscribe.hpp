#pragma once
/// `mdbridge subscribe` (issue 18): on any host, follows the JetStream stream the publishing
/// bridges fill and writes its records, byte for byte, into a local output ring, so strategies
/// there use the consumer API and tools unchanged. It is that ring's one writer (it creates
/// it, or adopts it from its own dead predecessor). It resumes after a restart from the last
/// stream sequence its ring holds (resume_state.hpp): nothing twice, nothing skipped. A jump
/// in the stream sequence (records removed by the stream's limits before it read them)
/// becomes a gap record (inflow.hpp).
#include "bus/config/config.hpp"

#include <string>

namespace mdbus::bridge {

struct subscribe_options {
  std::string bus;           ///< the local bus whose ring is written (default: the config's)
  std::string ring = "out";  ///< the ring object
  std::string state;         ///< resume file (default: beside the bus's control socket)
  bool from_new = false;     ///< with no resume point: only records stored from now (default: all the stream holds)
  int wait_ms = 10'000;      ///< wait this long for a first NATS connection and the stream
  double duration_s = 0;     ///< stop after this long (0: until SIGTERM/SIGINT)
};

/// Runs until stopped; returns the process exit code. Prints one line once it follows the
/// stream (tests wait for "mdbridge subscribe: writing") and the totals at the end.
int run_subscribe(const config::bus_config& cfg, const subscribe_options& o);

}  // namespace mdbus::bridge
