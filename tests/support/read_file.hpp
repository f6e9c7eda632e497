#pragma once
// The whole text of a file ("" when it cannot be read): logs of child processes in tests.
#include <fstream>
#include <sstream>
#include <string>

namespace mdbus::test {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace mdbus::test
