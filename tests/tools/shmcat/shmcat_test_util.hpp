#pragma once
// Helpers for shmcat's tests: records to publish, running shmcat and reading what it wrote.
#include "mdbus/broadcast_ring.hpp"
#include "mdbus/records.hpp"
#include "support/eventually.hpp"
#include "support/read_file.hpp"
#include "support/test_records.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace mdbus::test {

inline const std::string kShmcat = MDBUS_SHMCAT;

/// shmcat with `args`, stderr folded into stdout.
inline std::string cmd(const std::string& args) { return kShmcat + " " + args + " 2>&1"; }

inline bbo_record make_bbo(std::uint64_t id) {
  auto b = make_record<bbo_record>();
  b.header.venue_id = venue::okx;
  b.header.channel_id = channel::okx_bbo_tbt;
  b.header.slot = slot_id::b;
  b.header.flags = kHeaderHasSeq;
  b.header.seq = id;
  b.header.set_symbol("BTC-USDT");
  return b;
}

template <class R>
void publish(broadcast_ring_writer& w, const R& r) {
  REQUIRE(w.write(static_cast<std::uint32_t>(R::kType), record_bytes(r)));
}

/// The complete lines of `out` (a file still being written may end mid-line), parsed as JSON.
inline std::vector<nlohmann::json> json_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::size_t start = 0;
  for (std::size_t nl = out.find('\n'); nl != std::string::npos; start = nl + 1, nl = out.find('\n', start))
    if (nl > start) v.push_back(nlohmann::json::parse(out.substr(start, nl - start)));
  return v;
}



/// Process `pid` has mapped the segment (it is attached and reading).
inline bool has_mapped(pid_t pid, const std::string& segment) {
  return read_file("/proc/" + std::to_string(pid) + "/maps").find("/dev/shm/" + segment) != std::string::npos;
}

}  // namespace mdbus::test
