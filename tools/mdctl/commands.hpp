#pragma once
/// mdctl's requests and what it prints for their replies: the request lines of PROTOCOL.md
/// built from checked command-line words, and one human line per action reply. Pure functions,
/// no I/O, so the exact bytes sent are unit-testable.
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mdbus::mdctl {

/// A command line mdctl refuses before connecting; what() is one line naming the bad part
/// (`unknown venue "bnance" (known: binance, okx)`).
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A venue and one of its connection slots, as the protocol spells them ("okx", "B").
struct slot_ref {
  std::string venue;
  std::string slot;
  std::uint32_t group = 0;  ///< the venue's connection group ("binance/g2/A"); 0 for "binance/A"
  [[nodiscard]] std::string str() const {
    return venue + (group > 0 ? "/g" + std::to_string(group) : std::string()) + "/" + slot;
  }
};

/// Venues and slots a name is checked against: every venue the bus knows, slots A and B; with a
/// config, only what that config configures (`source` names it in messages).
/// Every venue the bus knows (the venue descriptors, bus/include/mdbus/venues/registry.hpp), by name.
[[nodiscard]] std::vector<std::string> all_venue_names();

struct known_names {
  std::vector<std::string> venues = all_venue_names();
  std::vector<std::vector<std::string>> slots =
      std::vector<std::vector<std::string>>(venues.size(), {"A", "B"});  ///< per venue, same order
  std::string source;  ///< config file, or empty
};

/// `name` if it is a known venue; throws usage_error otherwise.
[[nodiscard]] std::string check_venue(std::string_view name, const known_names& known = {});

/// "okx/B" → {"okx", "B"}, "binance/g2/A" → {"binance", "A", 2}; throws usage_error naming the
/// bad part (missing '/', venue, group, slot).
[[nodiscard]] slot_ref parse_slot_ref(std::string_view text, const known_names& known = {});

// The request lines of PROTOCOL.md, keys in its order (so logs read like the document).
[[nodiscard]] nlohmann::ordered_json status_request();
[[nodiscard]] nlohmann::ordered_json switchover_request(const std::string& venue);
[[nodiscard]] nlohmann::ordered_json rotate_request(const slot_ref& s);
[[nodiscard]] nlohmann::ordered_json restart_feeder_request(const slot_ref& s);
[[nodiscard]] nlohmann::ordered_json restart_merger_request();
[[nodiscard]] nlohmann::ordered_json pause_request(const slot_ref& s);
[[nodiscard]] nlohmann::ordered_json resume_request(const slot_ref& s);
[[nodiscard]] nlohmann::ordered_json metrics_request();
[[nodiscard]] nlohmann::ordered_json reload_request();

/// The one line mdctl prints for a successful (`"ok":true`) reply to an action request
/// (switchover, rotate, restart, pause, resume, reload), e.g. "okx/B: rotation queued until its partner
/// is live". Fields the reply lacks are left out, never a crash.
[[nodiscard]] std::string describe_reply(const nlohmann::ordered_json& request, const nlohmann::json& reply);

}  // namespace mdbus::mdctl
