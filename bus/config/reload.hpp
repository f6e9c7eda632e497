#pragma once
/// What a config reload (`mdctl reload`) may change, and the running copy of a config.
///
/// A reload applies a venue's edited symbol list to a running bus: the connection groups whose
/// symbols changed restart their feeders one slot at a time (make-before-break), the others
/// keep their connections. Anything else (a venue added, its groups, channels, slots,
/// endpoints, policy; rings; the merger's or the supervisor's settings) is laid out in shared
/// memory or in running processes, and needs the bus restarted: a reload that changes it is
/// refused whole, naming the first such field.
///
/// The running copy: the supervisor's children read the config the supervisor runs, not the
/// operator's file, so an edit takes effect at `mdctl reload` and not at the next crash of a
/// feeder. The copy is the file's JSON with relative ca_file paths made absolute (the copy
/// lives in another directory).
#include "bus/config/config.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace mdbus::config {

/// What a reload from `now` to `next` changes, worked out once for the supervisor and the
/// merger (plan_reload).
struct reload_plan {
  /// Non-empty: `next` lays the bus out otherwise (bus, venues, groups, routes, slots,
  /// channels, rings): the first difference. Nothing below is filled then.
  std::string refusal;
  std::vector<std::pair<venue, std::uint32_t>> changed;  ///< connection groups whose identity changed (their feeders restart)
  std::vector<std::pair<venue, std::string>> added;      ///< symbols in `next` only, in its order
  std::vector<std::pair<venue, std::string>> removed;    ///< symbols in `now` only, in its order
};

/// The plan of a reload (pure): which connection groups change (config_identity of their
/// group_view), which symbols come and go.
[[nodiscard]] reload_plan plan_reload(const bus_config& now, const bus_config& next);

/// Empty when `next` differs from `running` (both config JSON texts) in the venues' symbol
/// lists at most; else one line naming the first other difference, e.g.
/// `/venues/okx/groups: changed (a reload may change the venues' "symbols" only; restart the
/// bus for the rest)`. Texts that are not JSON objects: the parse error.
[[nodiscard]] std::string reload_refusal(std::string_view running, std::string_view next);

/// The JSON text of the running copy of `text` (a config read from a file in `base_dir`):
/// relative `ca_file` paths of the venues' endpoints made absolute. Throws config_error when
/// `text` is not a JSON object.
[[nodiscard]] std::string running_copy(std::string_view text, const std::string& base_dir);

}  // namespace mdbus::config
