#pragma once
/// How shmcat prints a record: one aligned text line, or one JSON object carrying every field
/// (decimals as exact strings, so the JSON can be compared with what was written).
#include "mdbus/records.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace mdbus::shmcat {

/// "     12 17:41:44.123456 binance  trade        BTCUSDT         A 1001          px=… qty=…".
/// `frame_seq`: the ring's sequence (output ring) or byte position (feeder ring).
[[nodiscard]] std::string format_line(const record_view& r, std::uint64_t frame_seq);

/// Every field of the record; `frame` is the ring sequence (or position for a feeder ring).
[[nodiscard]] nlohmann::json record_json(const record_view& r, std::uint64_t frame);

}  // namespace mdbus::shmcat
