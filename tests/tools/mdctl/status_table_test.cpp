// The status table of `mdctl status`: the sample of PROTOCOL.md, a whole bus, and replies with
// fields missing, null or of the wrong type — a table that shows "—", never one that throws.
#include "tools/mdctl/status_table.hpp"

#include "status_samples.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

using mdbus::mdctl::display_width;
using mdbus::mdctl::fit_text;
using mdbus::mdctl::format_status;
using mdbus::mdctl::human_duration;
using mdbus::mdctl::status_cells;
using nlohmann::json;

namespace {

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

/// The line of the table whose first column is `first`.
std::string row_of(const std::string& table, const std::string& first) {
  for (const auto& l : lines_of(table))
    if (l.rfind(first + " ", 0) == 0) return l;
  FAIL("no row " << first << " in\n" << table);
  return {};
}

/// Display column where `needle` starts in `line`.
std::size_t column_of(const std::string& line, const std::string& needle) {
  const auto pos = line.find(needle);
  REQUIRE_MESSAGE(pos != std::string::npos, needle << " not in: " << line);
  return display_width(line.substr(0, pos));
}

std::string strip_ansi(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && (s[i] < 0x40 || s[i] > 0x7e)) ++i;
      continue;
    }
    out += s[i];
  }
  return out;
}

/// The ```json block of PROTOCOL.md's "status" section, as the document has it today.
std::string protocol_status_block() {
  std::ifstream in(MDBUS_PROTOCOL_MD);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const auto section = doc.find("## status");
  REQUIRE(section != std::string::npos);
  const auto begin = doc.find("```json\n", section);
  REQUIRE(begin != std::string::npos);
  const auto end = doc.find("```", begin + 8);
  REQUIRE(end != std::string::npos);
  return doc.substr(begin + 8, end - begin - 8);
}

}  // namespace

TEST_CASE("the sample status of PROTOCOL.md renders as this table") {
  const std::string expected =
      "bus sim · supervisor pid 1234 · up 1m21s · config config/sim.json · metrics :9464 · 2025-11-24 16:00:00 UTC\n"
      "\n"
      "SLOT       PROCESS       STATE  AGE                           NEXT ROTATION  MSGS/S  FIRST  LAG µs  RECONN (P/F)  RESTARTS  LAST ERROR\n"
      "binance/A  running 1240  live   40s  due: age_limit, held: partner not live   812.5    61%   -12.0       4 (3/1)         0\n"
      "merger     running 1238                                                                                                  0\n"
      "\n"
      "totals     published 123456 · duplicates 120001 · gaps 0 · data-loss events 0 · ring overflows 0\n"
      "           reconnects 6 proactive / 2 forced · avg 180.5 ms · max 402.0 ms\n";
  CHECK(format_status(json::parse(mdbus::test::kProtocolStatusSample)) == expected);
}

TEST_CASE("the status block PROTOCOL.md holds now is the one these tests use, and renders every slot") {
  const json doc = json::parse(protocol_status_block());
  CHECK_MESSAGE(doc == json::parse(mdbus::test::kProtocolStatusSample),
                "PROTOCOL.md's status sample changed: update status_samples.hpp and the expected table");
  const std::string table = format_status(doc);
  for (const auto& s : doc["slots"]) CHECK(table.find(s["venue"].get<std::string>() + "/" + s["slot"].get<std::string>()) != std::string::npos);
}

TEST_CASE("a whole bus: columns line up under their titles, numbers right-aligned") {
  const std::string table = format_status(json::parse(mdbus::test::kFourSlotStatus));
  const auto lines = lines_of(table);
  const std::string header = lines.at(2);
  REQUIRE(header.rfind("SLOT ", 0) == 0);
  // Left-aligned columns start where their title starts...
  CHECK(column_of(row_of(table, "binance/A"), "running 4112") == column_of(header, "PROCESS"));
  CHECK(column_of(row_of(table, "okx/B"), "CRASH LOOP") == column_of(header, "PROCESS"));
  CHECK(column_of(row_of(table, "binance/B"), "connecting") == column_of(header, "STATE"));
  CHECK(column_of(row_of(table, "binance/B"), "pong timeout") == column_of(header, "LAST ERROR"));
  CHECK(column_of(row_of(table, "okx/B"), "exited with") == column_of(header, "LAST ERROR"));
  // ...right-aligned ones end where their title ends.
  const auto end_of = [](const std::string& line, const std::string& cell) { return column_of(line, cell) + display_width(cell); };
  CHECK(end_of(row_of(table, "binance/A"), "13h36m") == end_of(header, "AGE"));
  CHECK(end_of(row_of(table, "okx/A"), "3m12s") == end_of(header, "AGE"));
  CHECK(end_of(row_of(table, "binance/A"), "1523") == end_of(header, "MSGS/S"));
  CHECK(end_of(row_of(table, "okx/A"), "100%") == end_of(header, "FIRST"));
  CHECK(end_of(row_of(table, "binance/B"), "-8.5") == end_of(header, "LAG µs"));
  CHECK(end_of(row_of(table, "binance/A"), "12 (11/1)") == end_of(header, "RECONN (P/F)"));
  CHECK(end_of(row_of(table, "merger"), "2") == end_of(header, "RESTARTS"));
}

TEST_CASE("cells say what a human needs: ages, rotation, share, signed lag, reconnects") {
  const std::string table = format_status(json::parse(mdbus::test::kFourSlotStatus));
  const std::string a = row_of(table, "binance/A");
  CHECK(a.find("13h36m") != std::string::npos);     // 49 000 000 ms connected
  CHECK(a.find("in 10h08m") != std::string::npos);  // next planned rotation
  CHECK(a.find("44%") != std::string::npos);        // 0.4375 of first arrivals
  CHECK(a.find("+8.5") != std::string::npos);       // slower than its partner: positive
  CHECK(a.find("12 (11/1)") != std::string::npos);  // total (proactive/forced)
  const std::string b = row_of(table, "binance/B");
  CHECK(b.find("connecting") != std::string::npos);
  CHECK(b.find("pong_timeout") == std::string::npos);  // reason only shown for a slot that is down
  CHECK(b.find("-8.5") != std::string::npos);
  CHECK(row_of(table, "okx/A").find("due: operator") != std::string::npos);
  CHECK(table.find("bus prod · supervisor pid 4100 · up 1d01h · config /etc/mdbus/prod.json · 2025") == 0);
  CHECK(table.find("metrics :") == std::string::npos);  // metrics_port null: not shown
  CHECK(table.find("published 987654321 · duplicates 987000000 · gaps 1 · data-loss events 1 · ring overflows 2") !=
        std::string::npos);
  CHECK(table.find("reconnects 16 proactive / 3 forced · avg 95.2 ms · max 1210.0 ms") != std::string::npos);
}

TEST_CASE("a rotation held at the rotation gate says why") {
  json st = json::parse(mdbus::test::kFourSlotStatus);
  for (auto& s : st["slots"])
    if (s["venue"] == "okx" && s["slot"] == "A") s["rotation_waits"] = "partner not live";
  CHECK(row_of(format_status(st), "okx/A").find("due: operator, held: partner not live") != std::string::npos);
}

TEST_CASE("no age limit: next rotation is \"—\", and a down slot shows its reason") {
  json st = json::parse(mdbus::test::kFourSlotStatus);
  st["slots"][1]["state"] = "down";
  const std::string table = format_status(st);
  const std::string header = lines_of(table).at(2);
  const std::string okx_a_no_due = [&] {
    json s = st;
    s["slots"][2]["rotation_due"] = nullptr;
    return row_of(format_status(s), "okx/A");
  }();
  CHECK(column_of(okx_a_no_due, "—") + display_width("—") == column_of(header, "NEXT ROTATION") + display_width("NEXT ROTATION"));
  CHECK(row_of(table, "binance/B").find("down: pong_timeout") != std::string::npos);
}

TEST_CASE("a crash loop and a paused slot are marked, the merger's too") {
  json st = json::parse(mdbus::test::kFourSlotStatus);
  const std::string table = format_status(st);
  const std::string b = row_of(table, "okx/B");
  CHECK(b.find("CRASH LOOP") != std::string::npos);
  CHECK(b.find("paused") != std::string::npos);
  CHECK(b.find(" 9  exited") != std::string::npos);  // restarts, then the error
  st["merger"] = {{"process", "stopped"}, {"pid", nullptr}, {"restarts", 12}, {"crash_loop", true}};
  CHECK(row_of(format_status(st), "merger").find("stopped CRASH LOOP") != std::string::npos);
  st["slots"][3]["paused"] = false;
  CHECK(row_of(format_status(st), "okx/B").find("down: process_exit") != std::string::npos);
}

TEST_CASE("a long last error is cut to fit the width with an ellipsis, whole without a width") {
  const json st = json::parse(mdbus::test::kFourSlotStatus);
  const std::string whole = st["slots"][3]["last_error"];
  CHECK(row_of(format_status(st), "okx/B").find(whole) != std::string::npos);
  for (const std::size_t width : {150, 140, 200}) {
    const std::string table = format_status(st, false, width);
    const std::string b = row_of(table, "okx/B");
    CHECK(display_width(b) <= width);
    CHECK(b.ends_with("…"));
    CHECK(b.find("exited with status 1: handshake") != std::string::npos);
    for (const auto& l : lines_of(table))
      if (l.rfind("SLOT", 0) == 0 || l.rfind("binance", 0) == 0 || l.rfind("okx", 0) == 0) CHECK(display_width(l) <= width);
  }
  // A terminal narrower than the table still shows the start of the error, not nothing.
  const std::string narrow = row_of(format_status(st, false, 40), "okx/B");
  CHECK(narrow.ends_with("exited with sta…"));
}

TEST_CASE("an error text cannot break the row or send escape sequences") {
  json st = json::parse(mdbus::test::kProtocolStatusSample);
  st["slots"][0]["last_error"] = "line one\nline two\x1b[2J\tend";
  const std::string table = format_status(st);
  CHECK(table.find('\x1b') == std::string::npos);
  CHECK(row_of(table, "binance/A").find("line one line two [2J end") != std::string::npos);
}

TEST_CASE("missing, null and mistyped fields show as \"—\", never an exception") {
  SUBCASE("a slot with only its name") {
    const json st = {{"ok", true}, {"slots", json::array({{{"venue", "okx"}, {"slot", "A"}}})}};
    std::string table;
    REQUIRE_NOTHROW(table = format_status(st));
    const std::string row = row_of(table, "okx/A");
    std::size_t dashes = 0;
    for (auto p = row.find("—"); p != std::string::npos; p = row.find("—", p + 1)) ++dashes;
    CHECK(dashes == 10);  // every column but the slot's name
    CHECK(table.find("bus — · supervisor pid —") == 0);
    CHECK(table.find("published — · duplicates —") != std::string::npos);
  }
  SUBCASE("nulls everywhere") {
    json st = json::parse(mdbus::test::kProtocolStatusSample);
    for (auto& [k, v] : st["slots"][0].items())
      if (k != "venue" && k != "slot") v = nullptr;
    for (auto& [k, v] : st["totals"].items()) v = nullptr;
    st["supervisor"] = nullptr;
    st["time_ns"] = nullptr;
    std::string table;
    REQUIRE_NOTHROW(table = format_status(st, true, 100));
    CHECK(row_of(table, "binance/A").find("—") != std::string::npos);
  }
  SUBCASE("wrong types") {
    const json st = {{"ok", true},
                     {"bus", 7},
                     {"supervisor", "yes"},
                     {"time_ns", "now"},
                     {"slots", json::array({{{"venue", 1}, {"slot", json::array()}, {"msgs_per_s", "fast"}, {"pid", -3},
                                             {"connected_ms", 1e300}, {"first_arrival_share", true}, {"last_error", 42}},
                                            "not an object", nullptr})},
                     {"merger", json::array()},
                     {"totals", json::array({1, 2})}};
    std::string table;
    REQUIRE_NOTHROW(table = format_status(st, true, 80));
    CHECK(table.find("—/—") != std::string::npos);
  }
  SUBCASE("no slots, no merger, not even an object") {
    CHECK(format_status(json::object()).find("(no slots)") != std::string::npos);
    CHECK_NOTHROW((void)format_status(json()));
    CHECK_NOTHROW((void)format_status(json::array({1, 2, 3})));
    CHECK_NOTHROW((void)format_status(json("text")));
  }
  SUBCASE("huge counters print exactly") {
    json st = json::parse(mdbus::test::kProtocolStatusSample);
    st["totals"]["published"] = std::uint64_t{18446744073709551615ULL};
    CHECK(format_status(st).find("published 18446744073709551615 ·") != std::string::npos);
  }
}

TEST_CASE("colour changes nothing but the colour") {
  const json st = json::parse(mdbus::test::kFourSlotStatus);
  for (const std::size_t width : {0, 120}) {
    const std::string plain = format_status(st, false, width), coloured = format_status(st, true, width);
    CHECK(coloured != plain);
    CHECK(plain.find('\x1b') == std::string::npos);
    CHECK(strip_ansi(coloured) == plain);
  }
  const std::string coloured = format_status(st, true);
  CHECK(row_of(strip_ansi(coloured), "binance/A").size() > 0);
  CHECK(coloured.find("\x1b[32mlive\x1b[0m") != std::string::npos);        // live: green
  CHECK(coloured.find("\x1b[31mCRASH LOOP 4") == std::string::npos);       // no pid in a crash loop here
  CHECK(coloured.find("\x1b[31mCRASH LOOP\x1b[0m") != std::string::npos);  // crash loop: red
  CHECK(coloured.find("gaps \x1b[31m1\x1b[0m") != std::string::npos);      // a gap: red
}

TEST_CASE("status_cells: the status page's table is the same cells, tones for the colours, raw state and process per row") {
  json st = json::parse(mdbus::test::kFourSlotStatus);
  const json t = status_cells(st);
  const std::string table = format_status(st);
  CHECK(t["header"] == lines_of(table).at(0));
  REQUIRE(t["columns"].size() == 11);
  CHECK(t["columns"][0] == json({{"title", "SLOT"}, {"right", false}}));
  CHECK(t["columns"][5] == json({{"title", "MSGS/S"}, {"right", true}}));
  REQUIRE(t["rows"].size() == st["slots"].size() + 1);
  for (const auto& r : t["rows"]) {
    CAPTURE(r.dump());
    // Every cell's text stands in the terminal row, in column order.
    const std::string line = row_of(table, r["slot"].get<std::string>());
    std::size_t at = 0;
    for (const auto& c : r["cells"]) {
      const std::string text = c["text"];
      if (text.empty()) continue;
      at = line.find(text, at);
      REQUIRE(at != std::string::npos);
      at += text.size();
    }
  }
  const json& a = t["rows"][0];
  CHECK(a["slot"] == "binance/A");
  CHECK(a["state"] == st["slots"][0]["state"]);
  CHECK(a["process"] == st["slots"][0]["process"]);
  CHECK(a["cells"][2] == json({{"text", "live"}, {"tone", "ok"}}));  // green in the terminal
  const json& b = t["rows"][3];
  CHECK(b["cells"][1]["text"].get<std::string>().find("CRASH LOOP") != std::string::npos);
  CHECK(b["cells"][1]["tone"] == "bad");
  const json& m = t["rows"].back();
  CHECK(m["slot"] == "merger");
  CHECK_FALSE(m.contains("state"));
  // The terminal's two totals lines, with the label's padding that aligns them under the table.
  const auto lines = lines_of(table);
  const std::string first = lines.end()[-2], second = lines.back();
  CHECK(t["totals"].get<std::string>() == "totals " + first.substr(first.find("published")) + "\n       " +
                                              second.substr(second.find("reconnects")) + "\n");
  CHECK_NOTHROW((void)status_cells(json("text")));
  CHECK(status_cells(json::object())["rows"].empty());
}

TEST_CASE("human_duration: two units at most") {
  CHECK(human_duration(0) == "0ms");
  CHECK(human_duration(850) == "850ms");
  CHECK(human_duration(1000) == "1s");
  CHECK(human_duration(40123) == "40s");
  CHECK(human_duration(192000) == "3m12s");
  CHECK(human_duration(65000) == "1m05s");
  CHECK(human_duration(18'180'000) == "5h03m");
  CHECK(human_duration(187'200'000) == "2d04h");
  CHECK(human_duration(-3000) == "-3s");
  CHECK(human_duration(std::numeric_limits<std::int64_t>::min()).front() == '-');
}

TEST_CASE("fit_text counts code points, cuts on their boundaries") {
  CHECK(fit_text("abc", 3) == "abc");
  CHECK(fit_text("abcd", 3) == "ab…");
  CHECK(fit_text("µµµµ", 3) == "µµ…");
  CHECK(fit_text("µµµ", 3) == "µµµ");
  CHECK(fit_text("abc", 0).empty());
  CHECK(fit_text("abcd", 1) == "…");
  CHECK(display_width("µs—…") == 4);
  CHECK(display_width("\x1b[31mred\x1b[0m") == 3);
}
