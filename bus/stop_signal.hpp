#pragma once
/// The long-running mdbus programs (mdfeed, mdmerge, mdsupervisor, the end-to-end bench) stop
/// the same way: SIGTERM or SIGINT sets one flag their loop polls, and they finish cleanly.
#include <csignal>

namespace mdbus {

/// Set to 1 by SIGTERM / SIGINT once install_stop_signals() ran.
inline volatile std::sig_atomic_t stop_requested = 0;

/// SIGTERM and SIGINT set stop_requested. No SA_RESTART: a blocking call (poll inside
/// lws_service, nanosleep) returns at once with EINTR, so the loop sees the flag without
/// waiting out its timeout. SIGPIPE is ignored: a peer that vanished mid-write is an error
/// return, not the process's death.
inline void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { stop_requested = 1; };
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

/// Set to 1 by SIGHUP once install_reload_signal() ran; the loop that acts on it clears it.
inline volatile std::sig_atomic_t reload_requested = 0;

/// SIGHUP (the daemons' "read your config again") sets reload_requested, without SA_RESTART
/// like the stop signals. Installed first thing in main: a SIGHUP's default action ends the
/// process.
inline void install_reload_signal() {
  struct sigaction sa {};
  sa.sa_handler = [](int) { reload_requested = 1; };
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGHUP, &sa, nullptr);
}

}  // namespace mdbus
