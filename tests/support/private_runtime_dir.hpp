#pragma once
// XDG_RUNTIME_DIR pointed at a fresh private directory for one test (and every process it
// starts), so the default control socket <dir>/mdbus/<bus>.ctl (bus/runtime_dir.hpp) is the
// test's own and nothing is left in /run or /tmp. Restored when the test ends.
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"

#include <sys/stat.h>

#include <string>

namespace mdbus::test {

class private_runtime_dir {
 public:
  private_runtime_dir() = default;  // mkdtemp made the directory 0700 and ours: usable
  private_runtime_dir(const private_runtime_dir&) = delete;
  private_runtime_dir& operator=(const private_runtime_dir&) = delete;

  /// The XDG_RUNTIME_DIR itself.
  [[nodiscard]] std::string str() const { return dir_.str(); }
  /// "<dir>/mdbus", created 0700 (what the supervisor would create); returns its path.
  std::string make_socket_dir() const {
    const std::string d = dir_.file("mdbus");
    ::mkdir(d.c_str(), 0700);
    return d;
  }

 private:
  temp_dir dir_{"mdbus-xdg"};
  scoped_env env_{"XDG_RUNTIME_DIR", dir_.str()};
};

}  // namespace mdbus::test
