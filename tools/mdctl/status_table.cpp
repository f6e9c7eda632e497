#include "tools/mdctl/status_table.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <optional>
#include <vector>

namespace mdbus::mdctl {

namespace {

using nlohmann::json;

constexpr std::string_view kMissing = "—";
constexpr std::size_t kMinErrorColumns = 16;
constexpr std::size_t kGap = 2;  // spaces between columns

constexpr const char* kGreen = "\x1b[32m";
constexpr const char* kYellow = "\x1b[33m";
constexpr const char* kRed = "\x1b[31m";
constexpr const char* kBold = "\x1b[1m";
constexpr const char* kReset = "\x1b[0m";

// Field access that never throws: the supervisor is another program, possibly an older or
// newer one, and a status table that dies on one odd field shows nothing at all.
const json* field(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::optional<double> number(const json& j, const char* key) {
  const json* f = field(j, key);
  if (f == nullptr || !f->is_number()) return std::nullopt;
  return f->get<double>();
}

std::optional<std::int64_t> integer(const json& j, const char* key) {
  const json* f = field(j, key);
  if (f == nullptr || !f->is_number()) return std::nullopt;
  if (f->is_number_unsigned()) {
    const auto u = f->get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(u);
  }
  if (f->is_number_integer()) return f->get<std::int64_t>();
  const double d = f->get<double>();
  if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(std::llround(d));
}

std::optional<std::string> text(const json& j, const char* key) {
  const json* f = field(j, key);
  if (f == nullptr || !f->is_string()) return std::nullopt;
  return fit_text(f->get_ref<const std::string&>(), std::numeric_limits<std::size_t>::max());
}

bool flag(const json& j, const char* key) {
  const json* f = field(j, key);
  return f != nullptr && f->is_boolean() && f->get<bool>();
}

std::string printf_text(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

/// An exact count (counters can exceed what a double holds exactly), or "—".
std::string count(const json& j, const char* key) {
  const json* f = field(j, key);
  if (f == nullptr || !f->is_number()) return std::string(kMissing);
  if (f->is_number_integer()) return f->dump();
  return printf_text("%.0f", f->get<double>());
}

std::string or_missing(const std::optional<std::string>& s) { return s ? *s : std::string(kMissing); }

struct cell {
  std::string text;
  const char* color = nullptr;
};

struct column {
  std::string_view title;
  bool right;  // numbers are right-aligned
};

constexpr column kColumns[] = {
    {"SLOT", false},      {"PROCESS", false},   {"STATE", false},  {"AGE", true},
    {"NEXT ROTATION", true}, {"MSGS/S", true},  {"FIRST", true},   {"LAG µs", true},
    {"RECONN (P/F)", true},  {"RESTARTS", true}, {"LAST ERROR", false},
};
constexpr std::size_t kColumnCount = std::size(kColumns);
constexpr std::size_t kErrorColumn = kColumnCount - 1;
using row = std::vector<cell>;

const char* process_color(const json& p) {
  if (flag(p, "crash_loop")) return kRed;
  const auto proc = text(p, "process");
  if (proc && (*proc == "running" || *proc == "adopted")) return nullptr;
  return kYellow;
}

cell process_cell(const json& p) {
  std::string s = or_missing(text(p, "process"));
  // A crash loop is what the operator must see; "restarting" is implied by it.
  if (flag(p, "crash_loop")) s = s == "restarting" ? "CRASH LOOP" : s + " CRASH LOOP";
  if (const auto pid = integer(p, "pid"); pid && *pid > 0) s += " " + std::to_string(*pid);
  return {s, process_color(p)};
}

cell state_cell(const json& s) {
  const auto state = text(s, "state");
  std::string t = or_missing(state);
  const bool down = state && (*state == "down" || *state == "stopped");
  const auto reason = text(s, "reason");
  // The reason says why a slot is down ("down: pong_timeout"); on a slot that is up again it is
  // the last transition's, and the last-error column already tells that story.
  if (down && reason && !reason->empty() && *reason != "none") t += ": " + *reason;
  const char* color = kYellow;
  if (state && *state == "live") color = kGreen;
  if (!state || down) color = kRed;
  if (flag(s, "paused")) {  // down on purpose: not an alarm
    t = down ? "paused" : t + " (paused)";
    color = kYellow;
  }
  return {t, color};
}

std::string connected_text(const json& s) {
  const auto ms = integer(s, "connected_ms");
  if (!ms || *ms <= 0) return std::string(kMissing);  // 0: no connection
  return human_duration(*ms);
}

std::string rotation_text(const json& s) {
  if (auto due = text(s, "rotation_due"); due && !due->empty()) {
    if (due->ends_with("_request")) due->resize(due->size() - 8);  // "operator_request" → "operator"
    // Held at the rotation gate: the partner cannot carry the venue yet, and why.
    if (auto held = text(s, "rotation_waits"); held && !held->empty()) return "due: " + *due + ", held: " + *held;
    return "due: " + *due;
  }
  const auto ms = integer(s, "next_rotation_ms");
  if (!ms) return std::string(kMissing);  // null: the venue has no age limit
  if (*ms <= 0) return "due";
  return "in " + human_duration(*ms);
}

std::string rate_text(const json& s) {
  const auto r = number(s, "msgs_per_s");
  if (!r) return std::string(kMissing);
  return printf_text(*r < 1000 ? "%.1f" : "%.0f", *r);
}

std::string share_text(const json& s) {
  const auto f = number(s, "first_arrival_share");
  return f ? printf_text("%.0f%%", *f * 100.0) : std::string(kMissing);
}

std::string lag_text(const json& s) {
  const auto l = number(s, "lag_vs_partner_us");
  return l ? printf_text("%+.1f", *l) : std::string(kMissing);
}

std::string reconnects_text(const json& s) {
  std::string t = count(s, "reconnects");
  const bool p = number(s, "proactive_rotations").has_value(), f = number(s, "forced_reconnects").has_value();
  if (p || f) t += " (" + count(s, "proactive_rotations") + "/" + count(s, "forced_reconnects") + ")";
  return t;
}

cell error_cell(const json& s) {
  const auto e = text(s, "last_error");
  if (!e) return {std::string(kMissing)};
  return {*e, e->empty() ? nullptr : kRed};
}

row slot_row(const json& s) {
  const auto venue = text(s, "venue");
  const auto slot = text(s, "slot");
  const auto group = s.find("group");
  const bool grouped = group != s.end() && group->is_number_unsigned() && group->get<std::uint64_t>() > 0;
  return {
      {or_missing(venue) + (grouped ? "/g" + std::to_string(group->get<std::uint64_t>()) : std::string()) + "/" + or_missing(slot)},
      process_cell(s),
      state_cell(s),
      {connected_text(s)},
      {rotation_text(s)},
      {rate_text(s)},
      {share_text(s)},
      {lag_text(s)},
      {reconnects_text(s)},
      {count(s, "restarts")},
      error_cell(s),
  };
}

row merger_row(const json& m) {
  row r(kColumnCount);
  r[0] = {"merger"};
  r[1] = process_cell(m);
  r[9] = {count(m, "restarts")};
  if (const auto e = text(m, "last_error")) r[kErrorColumn] = {*e, e->empty() ? nullptr : kRed};
  return r;
}

void append_padded(std::string& out, const cell& c, std::size_t w, bool right, bool color) {
  const std::size_t pad = w > display_width(c.text) ? w - display_width(c.text) : 0;
  if (right) out.append(pad, ' ');
  if (color && c.color != nullptr && !c.text.empty()) {
    out += c.color;
    out += c.text;
    out += kReset;
  } else {
    out += c.text;
  }
  if (!right) out.append(pad, ' ');
}

std::string header_line(const json& st) {
  std::vector<std::string> parts;
  parts.push_back("bus " + or_missing(text(st, "bus")));
  static const json kNone = json::object();
  const json* sup = field(st, "supervisor");
  const json& sv = sup != nullptr ? *sup : kNone;
  parts.push_back("supervisor pid " + count(sv, "pid"));
  if (const auto up = integer(sv, "uptime_ms")) parts.push_back("up " + human_duration(*up));
  if (const auto cfg = text(sv, "config")) parts.push_back("config " + *cfg);
  if (const auto port = integer(sv, "metrics_port"); port && *port > 0) parts.push_back("metrics :" + std::to_string(*port));
  if (const auto t = integer(st, "time_ns"); t && *t > 0) {
    const std::time_t secs = static_cast<std::time_t>(*t / 1'000'000'000);
    std::tm tm{};
    char buf[32];
    if (gmtime_r(&secs, &tm) != nullptr && std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm) > 0)
      parts.push_back(buf);
  }
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " · ") + p;
  return out;
}

/// "totals   published 1 · duplicates 2 · …" and a second line with the reconnection figures.
std::string totals_lines(const json& st, std::size_t indent, bool color) {
  static const json kNone = json::object();
  const json* tp = field(st, "totals");
  const json& t = tp != nullptr ? *tp : kNone;
  auto item = [&](std::string_view label, const char* key, bool bad_if_nonzero) {
    std::string v = count(t, key);
    const auto n = integer(t, key);
    if (color && bad_if_nonzero && n && *n != 0) v = kRed + v + kReset;
    return std::string(label) + " " + v;
  };
  auto ms = [&](const char* key) {
    const auto v = number(t, key);
    return v ? printf_text("%.1f ms", *v) : std::string(kMissing);
  };
  std::string label = "totals";
  label.append(indent > label.size() ? indent - label.size() : 1, ' ');
  std::string out = label + item("published", "published", false) + " · " + item("duplicates", "duplicates", false) +
                    " · " + item("gaps", "gaps", true) + " · " + item("data-loss events", "data_loss_events", true) +
                    " · " + item("ring overflows", "ring_overflows", true) + "\n";
  out += std::string(std::max<std::size_t>(indent, label.size()), ' ') + "reconnects " + count(t, "proactive_reconnects") +
         " proactive / " + count(t, "forced_reconnects") + " forced · avg " + ms("reconnect_avg_ms") + " · max " +
         ms("reconnect_max_ms") + "\n";
  return out;
}

}  // namespace

std::string human_duration(std::int64_t ms) {
  if (ms < 0) return "-" + human_duration(ms == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max() : -ms);
  char buf[48];
  const std::int64_t s = ms / 1000;
  if (ms < 1000)
    std::snprintf(buf, sizeof buf, "%" PRId64 "ms", ms);
  else if (s < 60)
    std::snprintf(buf, sizeof buf, "%" PRId64 "s", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
  else if (s < 86400)
    std::snprintf(buf, sizeof buf, "%" PRId64 "h%02" PRId64 "m", s / 3600, s % 3600 / 60);
  else
    std::snprintf(buf, sizeof buf, "%" PRId64 "d%02" PRId64 "h", s / 86400, s % 86400 / 3600);
  return buf;
}

std::size_t display_width(std::string_view s) noexcept {
  std::size_t n = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {  // CSI ... final byte: no columns
      i += 2;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) < 0x40 || static_cast<unsigned char>(s[i]) > 0x7e)) ++i;
      continue;
    }
    if ((c & 0xC0) != 0x80) ++n;  // count lead bytes, not UTF-8 continuation bytes
  }
  return n;
}

std::string fit_text(std::string_view s, std::size_t columns) {
  std::string clean(s);
  for (auto& ch : clean)
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';  // also ESC: no terminal control from data
  if (display_width(clean) <= columns) return clean;
  if (columns == 0) return {};
  std::string out;
  std::size_t n = 0;
  for (std::size_t i = 0; i < clean.size(); ++i) {
    const auto c = static_cast<unsigned char>(clean[i]);
    if ((c & 0xC0) != 0x80 && ++n > columns - 1) break;  // keep one column for the ellipsis
    out += clean[i];
  }
  return out + "…";
}

json status_cells(const json& status) {
  auto tone = [](const char* c) { return c == kGreen ? "ok" : c == kYellow ? "warn" : c == kRed ? "bad" : ""; };
  auto cells = [&](const row& r) {
    json out = json::array();
    for (const cell& c : r) out.push_back({{"text", c.text}, {"tone", tone(c.color)}});
    return out;
  };
  json columns = json::array();
  for (const auto& col : kColumns) columns.push_back({{"title", std::string(col.title)}, {"right", col.right}});
  json rows = json::array();
  if (const json* slots = field(status, "slots"); slots != nullptr && slots->is_array())
    for (const auto& s : *slots) {
      const row r = slot_row(s);
      rows.push_back({{"slot", r[0].text}, {"state", text(s, "state").value_or("")}, {"process", text(s, "process").value_or("")},
                      {"cells", cells(r)}});
    }
  if (const json* m = field(status, "merger"); m != nullptr && m->is_object())
    rows.push_back({{"slot", "merger"}, {"process", text(*m, "process").value_or("")}, {"cells", cells(merger_row(*m))}});
  return {{"header", header_line(status)}, {"columns", std::move(columns)}, {"rows", std::move(rows)},
          {"totals", totals_lines(status, 0, false)}};
}

std::string format_status(const json& status, bool color, std::size_t width) {
  std::vector<row> rows;
  if (const json* slots = field(status, "slots"); slots != nullptr && slots->is_array())
    for (const auto& s : *slots) rows.push_back(slot_row(s));
  if (const json* m = field(status, "merger"); m != nullptr && m->is_object()) rows.push_back(merger_row(*m));

  std::size_t widths[kColumnCount];
  for (std::size_t c = 0; c < kColumnCount; ++c) {
    widths[c] = display_width(kColumns[c].title);
    for (const auto& r : rows) widths[c] = std::max(widths[c], display_width(r[c].text));
  }
  std::size_t before_error = 0;
  for (std::size_t c = 0; c < kErrorColumn; ++c) before_error += widths[c] + kGap;
  if (width > 0) {
    const std::size_t room = width > before_error ? width - before_error : 0;
    const std::size_t keep = std::max(room, kMinErrorColumns);
    for (auto& r : rows) r[kErrorColumn].text = fit_text(r[kErrorColumn].text, keep);
  }

  std::string out = header_line(status) + "\n\n";
  auto emit = [&](const row& r, bool is_header) {
    std::string line;
    for (std::size_t c = 0; c < kColumnCount; ++c) {
      if (c > 0) line.append(kGap, ' ');
      if (c == kErrorColumn) {
        append_padded(line, r[c], 0, false, color);  // last column: no trailing spaces
      } else {
        append_padded(line, r[c], widths[c], kColumns[c].right, color);
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    if (is_header && color) line = kBold + line + kReset;
    out += line + "\n";
  };
  row header;
  for (const auto& col : kColumns) header.push_back({std::string(col.title)});
  emit(header, true);
  for (const auto& r : rows) emit(r, false);
  if (rows.empty()) out += "(no slots)\n";
  out += "\n" + totals_lines(status, widths[0] + kGap, color);
  return out;
}

}  // namespace mdbus::mdctl
