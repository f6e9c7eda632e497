#pragma once
// Cleanup after whole-bus tests: the supervisor's children live in their own process group
// and outlive a killed supervisor on purpose, so a failed test must kill them by what their
// command line names (the test's private config path).
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace mdbus::test {

/// SIGKILLs every process (but this one) whose command line mentions `needle`.
inline void kill_processes_mentioning(const std::string& needle) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename();
    if (pid.find_first_not_of("0123456789") != std::string::npos || std::stoi(pid) == ::getpid()) continue;
    std::ifstream in(e.path() / "cmdline", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().find(needle) != std::string::npos) ::kill(std::stoi(pid), SIGKILL);
  }
}

}  // namespace mdbus::test
