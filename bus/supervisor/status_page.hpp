#pragma once
/// The status page the supervisor serves at `/` on its metrics port: one self-contained HTML
/// document (inline CSS and JavaScript, no external asset: it works on an air-gapped host)
/// that fetches `/status.json` every 2 s and lays out the `mdctl status` table — its cells come
/// from mdctl's own status table rules (tools/mdctl/status_table.hpp, `status_cells`) — and,
/// per slot, small charts of the message rate, the race lead and the reconnects over the
/// minutes the supervisor keeps (status_history.hpp).
#include <string_view>

namespace mdbus::supervise {

[[nodiscard]] std::string_view status_page_html() noexcept;

}  // namespace mdbus::supervise
