#pragma once
// Run a shell command line and capture its standard output and exit status.
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace mdbus::test {

struct run_result {
  int status = -1;  ///< exit status, or 128+signal
  std::string out;
};

inline run_result run_capture(const std::string& command_line) {
  run_result r;
  FILE* p = popen(command_line.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

}  // namespace mdbus::test
