#pragma once
/// Server-to-client WebSocket framing (RFC 6455 §5.2: unmasked). exsim frames messages itself
/// and hands whole frames to libwebsockets as raw bytes, so one write carries many frames —
/// the only way to reach 100k msgs/s × 4 subscribers on two cores — and so faults can emit
/// frames a well-behaved server never would.
#include <cstdint>
#include <string>
#include <string_view>

namespace mdbus::exsim {

enum class ws_opcode : std::uint8_t { text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA };

/// Appends one final (FIN) frame carrying `payload`.
inline void append_ws_frame(std::string& out, ws_opcode op, std::string_view payload) {
  unsigned char hdr[10];
  std::size_t n = 0;
  hdr[n++] = static_cast<unsigned char>(0x80U | static_cast<unsigned>(op));
  const std::uint64_t len = payload.size();
  if (len < 126) {
    hdr[n++] = static_cast<unsigned char>(len);
  } else if (len <= 0xFFFF) {
    hdr[n++] = 126;
    hdr[n++] = static_cast<unsigned char>(len >> 8);
    hdr[n++] = static_cast<unsigned char>(len);
  } else {
    hdr[n++] = 127;
    for (int shift = 56; shift >= 0; shift -= 8) hdr[n++] = static_cast<unsigned char>(len >> shift);
  }
  out.append(reinterpret_cast<const char*>(hdr), n);
  out.append(payload);
}

}  // namespace mdbus::exsim
