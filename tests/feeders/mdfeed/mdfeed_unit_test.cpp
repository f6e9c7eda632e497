// mdfeed's small parts on their own: reconnect pacing, rate-limited logging, the TLS allocator.
#include "feeders/mdfeed/backoff.hpp"
#include "feeders/mdfeed/log_limiter.hpp"
#include "feeders/mdfeed/tls_allocator.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

using namespace mdbus::feed;

TEST_CASE("backoff doubles from min to max with each failure, every delay jittered within [d/2, d]") {
  backoff b(100, 1600, 42);
  const std::int64_t nominal[] = {100, 200, 400, 800, 1600, 1600, 1600};
  for (const std::int64_t d : nominal) {
    const std::int64_t got = b.next_delay_ms();
    CHECK(got >= d / 2);
    CHECK(got <= d);
  }
  b.reset();
  const std::int64_t first = b.next_delay_ms();
  CHECK(first >= 50);
  CHECK(first <= 100);
}

TEST_CASE("backoff jitter spreads slots that fail together") {
  backoff a(1000, 1000, 1), b(1000, 1000, 2);
  int same = 0;
  for (int i = 0; i < 50; ++i) same += a.next_delay_ms() == b.next_delay_ms() ? 1 : 0;
  CHECK(same < 10);
}

TEST_CASE("backoff survives absurd inputs: a zero minimum, a cap below it, a thousand failures") {
  backoff b(0, 0, 7);
  for (int i = 0; i < 1000; ++i) {
    const auto d = b.next_delay_ms();
    CHECK(d >= 0);
    CHECK(d <= 1);
  }
  backoff c(250, 30000, 9);
  std::int64_t last = 0;
  for (int i = 0; i < 1000; ++i) last = c.next_delay_ms();
  CHECK(last >= 15000);
  CHECK(last <= 30000);
}

namespace {
/// Captures what is written to stderr while it lives.
class stderr_capture {
 public:
  stderr_capture() {
    REQUIRE(pipe(fds_) == 0);
    fcntl(fds_[0], F_SETFL, O_NONBLOCK);
    saved_ = dup(STDERR_FILENO);
    dup2(fds_[1], STDERR_FILENO);
  }
  ~stderr_capture() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string text() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fds_[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }

 private:
  int fds_[2]{};
  int saved_ = -1;
};
}  // namespace

TEST_CASE("log limiter prints a key at most once per interval and reports what it held back") {
  stderr_capture cap;
  log_limiter log("mdfeed okx/A", 1000);
  constexpr std::int64_t kMs = 1'000'000;
  CHECK(log.log(1, 0, "dropped a message: %s", "not_json"));
  CHECK_FALSE(log.log(1, 10 * kMs, "dropped a message: %s", "not_json"));
  CHECK_FALSE(log.log(1, 999 * kMs, "dropped a message: %s", "not_json"));
  CHECK(log.suppressed(1) == 2);
  CHECK(log.log(2, 20 * kMs, "other reason"));  // keys are independent
  CHECK(log.log(1, 1000 * kMs, "dropped a message: %s", "not_json"));
  CHECK(log.suppressed(1) == 0);
  const std::string out = cap.text();
  CHECK(out ==
        "mdfeed okx/A: dropped a message: not_json\n"
        "mdfeed okx/A: other reason\n"
        "mdfeed okx/A: dropped a message: not_json (+2 like it suppressed)\n");
}

TEST_CASE("log limiter cuts long lines and quotes messages printably") {
  stderr_capture cap;
  log_limiter log("p", 1);
  const std::string big(5000, 'x');
  CHECK(log.log(3, 0, "%s", big.c_str()));
  const std::string out = cap.text();
  CHECK(out.size() < 1024);
  CHECK(out.back() == '\n');
  char sample[9];
  log_limiter::sanitize(std::string_view("{\"a\"\n\x01\xff:1}", 11), sample, 8);
  CHECK(std::string(sample) == "{\"a\"...:");
}

TEST_CASE("tls allocator recycles freed blocks of a size class instead of allocating again") {
  using namespace mdbus::feed::detail;
  void* a = tls_pool_malloc(40);
  REQUIRE(a != nullptr);
  CHECK(reinterpret_cast<std::uintptr_t>(a) % 16 == 0);
  CHECK(tls_pool_capacity(a) == 64);
  std::memset(a, 0xAB, 40);
  tls_pool_free(a);
  void* b = tls_pool_malloc(33);  // same class (33..64): the block just freed
  CHECK(b == a);
  void* c = tls_pool_malloc(40);  // the class's free list is empty now: a new block
  CHECK(c != b);
  tls_pool_free(b);
  tls_pool_free(c);
  tls_pool_free(nullptr);
}

TEST_CASE("tls allocator realloc keeps the bytes, grows across classes and handles large blocks") {
  using namespace mdbus::feed::detail;
  auto* p = static_cast<unsigned char*>(tls_pool_malloc(10));
  for (int i = 0; i < 10; ++i) p[i] = static_cast<unsigned char>(i);
  CHECK(tls_pool_realloc(p, 16) == p);  // still fits its class
  auto* q = static_cast<unsigned char*>(tls_pool_realloc(p, 1000));
  REQUIRE(q != nullptr);
  CHECK(tls_pool_capacity(q) == 1024);
  for (int i = 0; i < 10; ++i) CHECK(q[i] == i);
  auto* big = static_cast<unsigned char*>(tls_pool_realloc(q, 100'000));  // beyond the pooled classes
  REQUIRE(big != nullptr);
  CHECK(tls_pool_capacity(big) == 100'000);
  for (int i = 0; i < 10; ++i) CHECK(big[i] == i);
  big[99'999] = 7;
  auto* back = static_cast<unsigned char*>(tls_pool_realloc(big, 20));
  REQUIRE(back != nullptr);
  for (int i = 0; i < 10; ++i) CHECK(back[i] == i);
  CHECK(tls_pool_realloc(back, 0) == nullptr);  // frees
  void* fresh = tls_pool_realloc(nullptr, 5);
  CHECK(fresh != nullptr);
  tls_pool_free(fresh);
}
