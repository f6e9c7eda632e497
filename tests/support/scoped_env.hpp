#pragma once
// One environment variable set (or unset) for the rest of a scope — this test process and
// every process it starts — and restored when the scope ends.
#include <stdlib.h>

#include <optional>
#include <string>

namespace mdbus::test {

class scoped_env {
 public:
  /// `value` nullopt: unset it.
  scoped_env(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* v = ::getenv(name_.c_str())) saved_ = v;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~scoped_env() {
    if (saved_) ::setenv(name_.c_str(), saved_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  std::string name_;
  std::optional<std::string> saved_;
};

}  // namespace mdbus::test
