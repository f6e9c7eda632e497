#include "feeders/mdfeed/tls_allocator.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MDFEED_TLS_POOL 0
#else
#define MDFEED_TLS_POOL 1
#endif

namespace mdbus::feed {
namespace detail {
namespace {

// Every block carries a 16-byte header (keeps the payload 16-byte aligned, as malloc's
// is) saying which class it belongs to, so free() needs no size.
struct alignas(16) block_header {
  std::uint32_t size_class;
  std::uint32_t magic;
  std::uint64_t pad;
};
static_assert(sizeof(block_header) == 16);

constexpr std::uint32_t kMagic = 0x5EED'B10C;
constexpr std::uint32_t kLarge = 0xFFFF'FFFF;  // not pooled
constexpr std::size_t kClasses = 9;            // 16 B .. 4 KiB payloads
constexpr std::size_t class_bytes(std::size_t c) noexcept { return std::size_t{16} << c; }

struct free_block {
  free_block* next;
};

free_block* g_free[kClasses] = {};
// OpenSSL runs on mdfeed's one thread, but nothing in its API promises that: a spin lock
// keeps the pool correct if it ever does not (uncontended it costs one atomic exchange).
std::atomic_flag g_lock = ATOMIC_FLAG_INIT;

struct lock_guard {
  lock_guard() noexcept {
    // acquire: pairs with the release in the previous holder's unlock; its list updates are visible.
    while (g_lock.test_and_set(std::memory_order_acquire)) {
    }
  }
  // release: publishes our free-list updates; pairs with the next holder's acquire.
  ~lock_guard() { g_lock.clear(std::memory_order_release); }
};

std::size_t class_of(std::size_t n) noexcept {
  for (std::size_t c = 0; c < kClasses; ++c)
    if (n <= class_bytes(c)) return c;
  return kClasses;
}

block_header* header_of(void* p) noexcept { return static_cast<block_header*>(p) - 1; }

}  // namespace

void* tls_pool_malloc(std::size_t n) noexcept {
  const std::size_t c = class_of(n);
  if (c < kClasses) {
    lock_guard g;
    if (free_block* b = g_free[c]) {
      g_free[c] = b->next;
      return b;
    }
  }
  const std::size_t payload = c < kClasses ? class_bytes(c) : n;
  auto* h = static_cast<block_header*>(std::malloc(sizeof(block_header) + payload));
  if (h == nullptr) return nullptr;
  h->size_class = c < kClasses ? static_cast<std::uint32_t>(c) : kLarge;
  h->magic = kMagic;
  h->pad = c < kClasses ? 0 : n;
  return h + 1;
}

void tls_pool_free(void* p) noexcept {
  if (p == nullptr) return;
  block_header* h = header_of(p);
  if (h->size_class == kLarge) {
    std::free(h);
    return;
  }
  lock_guard g;
  auto* b = static_cast<free_block*>(p);
  b->next = g_free[h->size_class];
  g_free[h->size_class] = b;
}

std::size_t tls_pool_capacity(const void* p) noexcept {
  const auto* h = static_cast<const block_header*>(p) - 1;
  return h->size_class == kLarge ? static_cast<std::size_t>(h->pad) : class_bytes(h->size_class);
}

void* tls_pool_realloc(void* p, std::size_t n) noexcept {
  if (p == nullptr) return tls_pool_malloc(n);
  if (n == 0) {
    tls_pool_free(p);
    return nullptr;
  }
  const std::size_t cap = tls_pool_capacity(p);
  if (n <= cap && header_of(p)->size_class != kLarge) return p;
  void* q = tls_pool_malloc(n);
  if (q == nullptr) return nullptr;  // p stays valid, as realloc promises
  std::memcpy(q, p, cap < n ? cap : n);
  tls_pool_free(p);
  return q;
}

}  // namespace detail

#if MDFEED_TLS_POOL
namespace {
void* ossl_malloc(std::size_t n, const char*, int) { return detail::tls_pool_malloc(n); }
void* ossl_realloc(void* p, std::size_t n, const char*, int) { return detail::tls_pool_realloc(p, n); }
void ossl_free(void* p, const char*, int) { detail::tls_pool_free(p); }
}  // namespace
#endif

bool install_tls_allocator() noexcept {
#if MDFEED_TLS_POOL
  return CRYPTO_set_mem_functions(&ossl_malloc, &ossl_realloc, &ossl_free) == 1;
#else
  return false;
#endif
}

}  // namespace mdbus::feed
