#pragma once
// The one way a test waits: poll a condition until it holds or a deadline passes (never
// sleep-and-hope), and a scratch file that is removed whether the test passes or fails.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace mdbus::test {

/// Polls `pred` every 5 ms until it holds or `timeout` passes; then returns pred()
/// once more, so a condition that became true at the deadline still counts.
template <class P>
bool eventually(P&& pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// A file under /tmp named after the bus, removed when the test ends, failed or not.
struct scratch_file {
  std::string path;
  scratch_file(const std::string& bus, const char* what) : path("/tmp/" + bus + "." + what) { std::remove(path.c_str()); }
  ~scratch_file() { std::remove(path.c_str()); }
  scratch_file(const scratch_file&) = delete;
  scratch_file& operator=(const scratch_file&) = delete;
};

}  // namespace mdbus::test
