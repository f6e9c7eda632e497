#pragma once
/// The long-running mdbus programs (mdfeed, mdmerge, mdsupervisor, the end-to-end bench) stop
/// the same way: SIGTERM or SIGINT sets one flag their loop polls, and they finish cleanly.
/// mdmerge also reads its config again on SIGHUP (a reload).
#include <csignal>

namespace mdbus {

/// Set to 1 by SIGTERM / SIGINT once install_stop_signals() ran.
inline volatile std::sig_atomic_t stop_requested = 0;
/// Set to 1 by SIGHUP once install_reload_signal() ran; the loop that acts on it clears it.
inline volatile std::sig_atomic_t reload_requested = 0;

namespace detail {
/// `handler` for `sig`, without SA_RESTART: a blocking call (poll inside lws_service,
/// nanosleep, a futex wait) returns at once with EINTR, so the loop sees its flag without
/// waiting out its timeout.
inline void on_signal(int sig, void (*handler)(int)) noexcept {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(sig, &sa, nullptr);
}
}  // namespace detail

/// SIGTERM and SIGINT set stop_requested. SIGPIPE is ignored: a peer that vanished mid-write
/// is an error return, not the process's death.
inline void install_stop_signals() {
  detail::on_signal(SIGTERM, [](int) { stop_requested = 1; });
  detail::on_signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGPIPE, SIG_IGN);
}

/// SIGHUP (the daemons' "read your config again") sets reload_requested. Installed first thing
/// in main: a SIGHUP's default action ends the process.
inline void install_reload_signal() {
  detail::on_signal(SIGHUP, [](int) { reload_requested = 1; });
}

}  // namespace mdbus
