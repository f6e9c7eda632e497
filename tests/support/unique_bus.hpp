#pragma once
// A unique bus name per test and cleanup of every segment made under it, so tests can run
// in parallel and never leave anything in /dev/shm.
#include <dirent.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace mdbus::test {

class unique_bus {
 public:
  explicit unique_bus(const std::string& tag = "t") {
    static std::atomic<int> counter{0};
    name_ = tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1));
  }
  ~unique_bus() { remove_all(); }
  unique_bus(const unique_bus&) = delete;
  unique_bus& operator=(const unique_bus&) = delete;

  [[nodiscard]] const std::string& name() const { return name_; }
  /// Full segment name "mdbus.<bus>.<object>".
  [[nodiscard]] std::string segment(const std::string& object) const { return "mdbus." + name_ + "." + object; }

  /// Unlinks every /dev/shm/mdbus.<bus>.* segment.
  void remove_all() const {
    const std::string prefix = "mdbus." + name_ + ".";
    if (DIR* d = opendir("/dev/shm")) {
      while (dirent* e = readdir(d)) {
        const std::string n = e->d_name;
        if (n.rfind(prefix, 0) == 0) shm_unlink(("/" + n).c_str());
      }
      closedir(d);
    }
  }

 private:
  std::string name_;
};

}  // namespace mdbus::test
