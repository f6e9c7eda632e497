#pragma once
// Starts exsim as a real child process on free loopback ports (port 0), reads its
// EXSIM_READY line with a deadline, and stops it (SIGTERM, then SIGKILL) on destruction.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace mdbus::test {

/// Path of the exsim binary and of the test certificates, from the build (see CMakeLists.txt).
inline std::string exsim_binary() { return EXSIM_BINARY; }
inline std::string exsim_cert_dir() { return EXSIM_CERT_DIR; }

class exsim_process {
 public:
  /// Spawns exsim with `--port 0 --control-port 0 --binance-rest-port 0 --okx-rest-port 0`
  /// plus `args`; throws if it does not report ready within 10 s.
  explicit exsim_process(const std::vector<std::string>& args) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> argv = {exsim_binary(),         "--port", "0", "--control-port", "0", "--binance-rest-port", "0",
                                     "--okx-rest-port",       "0", "--usdm-rest-port", "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed test
      dup2(fds[1], STDOUT_FILENO);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> cargv;
      for (auto& a : argv) cargv.push_back(a.data());
      cargv.push_back(nullptr);
      execv(cargv[0], cargv.data());
      _exit(127);
    }
    close(fds[1]);
    out_fd_ = fds[0];
    fcntl(out_fd_, F_SETFL, O_NONBLOCK);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      read_output(100);
      const auto pos = output_.find("EXSIM_READY ");
      const auto eol = pos == std::string::npos ? pos : output_.find('\n', pos);
      if (eol != std::string::npos) {
        const auto j = nlohmann::json::parse(output_.substr(pos + 12, eol - pos - 12));
        venue_port_ = j.at("venue_port").get<int>();
        control_port_ = j.at("control_port").get<int>();
        binance_rest_port_ = j.at("binance_rest_port").get<int>();
        okx_rest_port_ = j.at("okx_rest_port").get<int>();
        usdm_rest_port_ = j.at("usdm_rest_port").get<int>();
        return;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("exsim exited before ready; output: " + output_);
      }
    }
    throw std::runtime_error("exsim not ready within 10 s; output: " + output_);
  }
  exsim_process(const exsim_process&) = delete;
  exsim_process& operator=(const exsim_process&) = delete;
  ~exsim_process() { stop(); }

  /// SIGTERM and wait up to 5 s (then SIGKILL). Returns the exit status (or -1).
  int stop() {
    if (pid_ <= 0) return exit_status_;
    kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        exit_status_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
    read_output(0);
    if (out_fd_ >= 0) close(out_fd_);
    out_fd_ = -1;
    return exit_status_;
  }

  [[nodiscard]] int venue_port() const noexcept { return venue_port_; }
  [[nodiscard]] int control_port() const noexcept { return control_port_; }
  /// The venues' REST listeners (-1 if the test turned one off).
  [[nodiscard]] int binance_rest_port() const noexcept { return binance_rest_port_; }
  [[nodiscard]] int okx_rest_port() const noexcept { return okx_rest_port_; }
  /// -1 unless exsim was started with --usdm-symbols.
  [[nodiscard]] int usdm_rest_port() const noexcept { return usdm_rest_port_; }
  [[nodiscard]] const std::string& output() {
    read_output(0);
    return output_;
  }

 private:
  void read_output(int timeout_ms) {
    if (out_fd_ < 0) return;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return;
    char buf[4096];
    ssize_t n;
    while ((n = read(out_fd_, buf, sizeof buf)) > 0) output_.append(buf, static_cast<std::size_t>(n));
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int exit_status_ = -1;
  int venue_port_ = 0;
  int control_port_ = 0;
  int binance_rest_port_ = -1;
  int okx_rest_port_ = -1;
  int usdm_rest_port_ = -1;
  std::string output_;
};

}  // namespace mdbus::test
