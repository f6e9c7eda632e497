#pragma once
/// The little of the NATS C client (cnats, Debian libnats-dev) mdbridge needs, owned RAII:
/// a connection that reconnects for ever across the configured servers and says so in one
/// line per event, its JetStream context, and the stream set up from the bus config's
/// "bridge" section — created when missing, checked when present (a mismatch is an error
/// naming the field, never silently changed).
#include "bus/config/config.hpp"

#include <nats/nats.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mdbus::bridge {

class nats_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws nats_error "<what>: <status text> (<last error>)" unless s is NATS_OK.
void check(natsStatus s, const std::string& what);

class nats_link {
 public:
  /// Connects to `servers` (any one of them; the others are kept for reconnects). Waits up to
  /// `connect_wait_ms` for a first connection, retrying. `name` shows in the server's list.
  /// `ack` gets `ack_closure`: cnats may run a callback after the connection is destroyed,
  /// so what a closure points at must live as long as the process.
  nats_link(const config::bridge_settings& b, const std::string& name, int connect_wait_ms,
            jsPubAckHandler ack = nullptr, void* ack_closure = nullptr);
  ~nats_link();
  nats_link(const nats_link&) = delete;
  nats_link& operator=(const nats_link&) = delete;

  [[nodiscard]] natsConnection* connection() const noexcept { return nc_; }
  [[nodiscard]] jsCtx* js() const noexcept { return js_; }

 private:
  natsOptions* opts_ = nullptr;
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

/// The subjects the stream holds: `<subject_prefix>.>`.
[[nodiscard]] std::string subjects_of(const config::bridge_settings& b);

/// Reconnections of every nats_link of this process so far (counted by a cnats thread).
[[nodiscard]] std::uint64_t reconnections() noexcept;

/// The stream the config describes: "" when it exists as described (created now if it did
/// not) and has a leader (a new stream's replicas elect one first: a publish before that finds
/// nobody to store it), else one line per differing field. `wait_ms`: how long to retry while
/// the cluster has no JetStream leader yet (a cluster starting, or a node just killed).
[[nodiscard]] std::string ensure_stream(jsCtx* js, const config::bridge_settings& b, int wait_ms);

}  // namespace mdbus::bridge
