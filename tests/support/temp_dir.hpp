#pragma once
// A fresh private directory under /tmp for one test, removed with everything in it when the
// test ends, passed or failed — the one temp_dir of the tests.
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace mdbus::test {

class temp_dir {
 public:
  /// mkdtemp("/tmp/<tag>-XXXXXX"): a new, empty directory nobody else uses.
  explicit temp_dir(const std::string& tag = "mdbus_test") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (tag + "-XXXXXX")).string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;  // a destructor reports nothing: a leftover is harmless in /tmp
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  [[nodiscard]] std::string str() const { return path_.string(); }
  /// "<dir>/<name>" (nothing is created).
  [[nodiscard]] std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace mdbus::test
