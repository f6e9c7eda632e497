#pragma once
// Internals shared by the server's source files (server.cpp: WebSocket and timer;
// http_callbacks.cpp: REST and control HTTP): the per-session data and the clocks.
#include <time.h>

#include <cstdint>
#include <string>

#include "tools/exsim/server.hpp"

namespace mdbus::exsim {

/// Per-session data, allocated and zeroed by libwebsockets for every HTTP or ws session.
struct server::session {
  connection* conn;
  std::string* body;   ///< control POST body being received
  std::string* reply;  ///< HTTP reply body waiting for HTTP_WRITEABLE
  char path[128];      ///< control POST path, kept until the body completes
};

namespace detail {

inline std::int64_t mono_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1'000'000LL + ts.tv_nsec / 1000;
}

inline std::int64_t real_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

inline void free_http(server::session* s) {
  if (s == nullptr) return;
  delete s->body;
  delete s->reply;
  s->body = nullptr;
  s->reply = nullptr;
}

}  // namespace detail
}  // namespace mdbus::exsim
