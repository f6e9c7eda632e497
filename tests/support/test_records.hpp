#pragma once
// Records for tests that publish into rings (shmcat's, mdbridge's): a plain Binance trade.
#include "mdbus/records.hpp"

#include <cstdint>

namespace mdbus::test {

/// A Binance `trade` record with venue id `id` on `symbol` (slot A, no times set).
inline trade_record make_trade(std::uint64_t id, const char* symbol) {
  auto t = make_record<trade_record>();
  t.header.venue_id = venue::binance;
  t.header.channel_id = channel::binance_trade;
  t.header.slot = slot_id::a;
  t.header.flags = kHeaderHasSeq;
  t.header.seq = id;
  t.header.set_symbol(symbol);
  t.set_px({6543210, -2});
  t.set_qty({5, -3});
  t.aggressor = aggressor_side::buy;
  return t;
}

}  // namespace mdbus::test
