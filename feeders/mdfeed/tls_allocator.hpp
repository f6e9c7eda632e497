#pragma once
/// OpenSSL's heap traffic, recycled. OpenSSL 3.0's TLS 1.3 read path allocates and frees a
/// small block on every SSL_read that consumes records (measured: one 40-byte
/// CRYPTO_zalloc per few messages; TLS 1.2 does not) — a malloc/free pair on the feeder's
/// hot path that no libwebsockets or OpenSSL setting turns off. mdfeed hands OpenSSL a
/// size-class free-list allocator through CRYPTO_set_mem_functions: after warm-up every
/// such block comes from a free list (a few instructions, no lock contention, no system
/// call), and the process makes no heap allocation per message.
///
/// Blocks are never returned to the system: the pool holds OpenSSL's peak working set (a
/// few hundred KB for one connection). Blocks above 4 KiB go straight to malloc/free.
#include <cstddef>

namespace mdbus::feed {

/// Installs the pool as OpenSSL's allocator. Must run before anything uses OpenSSL (first
/// thing in main). Returns false when OpenSSL has allocated already (then nothing changes)
/// or in sanitizer builds (whose allocators must see every block).
bool install_tls_allocator() noexcept;

namespace detail {
// The allocator itself (exposed for tests). Same contracts as malloc, realloc and free.
void* tls_pool_malloc(std::size_t n) noexcept;
void* tls_pool_realloc(void* p, std::size_t n) noexcept;
void tls_pool_free(void* p) noexcept;
/// Usable bytes of a block from tls_pool_malloc / tls_pool_realloc.
std::size_t tls_pool_capacity(const void* p) noexcept;
}  // namespace detail

}  // namespace mdbus::feed
