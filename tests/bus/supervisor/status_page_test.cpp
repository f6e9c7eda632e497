// The status page (bus/supervisor/status_page.cpp) as an operator sees it: a whole bus against
// exsim, the supervisor's metrics port, and Debian's Chromium (installed by scripts/setup)
// loading `/` headless. The rendered DOM must show every slot live, the merger running, the
// totals and a chart per slot with points in it; a screenshot is kept as the test's artifact
// (build/tests/bus/supervisor/status_page.png). No Chromium: the test fails and says so.
#include <doctest/doctest.h>

#include "tests/bus/supervisor/supervisor_test_support.hpp"

#include <regex>

using namespace mdbus;
using namespace mdbus::test;

namespace {

/// The numbers of data-points="N" of the charts of `slot`'s card in the dumped DOM.
std::vector<int> chart_points(const std::string& dom, const std::string& slot) {
  std::vector<int> out;
  const auto card = dom.find("<div class=\"card\" data-slot=\"" + slot + "\">");
  if (card == std::string::npos) return out;
  const auto end = dom.find("<div class=\"card\"", card + 1);
  const std::string part = dom.substr(card, end == std::string::npos ? std::string::npos : end - card);
  static const std::regex points(R"re(data-points="(\d+)")re");
  for (auto it = std::sregex_iterator(part.begin(), part.end(), points); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoi((*it)[1]));
  return out;
}

std::string chromium(const std::string& args) {
  // As root (CI, containers) Chromium refuses its sandbox; it loads our own loopback page only.
  return std::string(MDBUS_CHROMIUM) + " --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1500,1000 " + args +
         " 2>/dev/null";
}

}  // namespace

TEST_CASE("status page: headless Chromium renders every slot live, the merger, the totals and a chart per slot") {
  REQUIRE_MESSAGE(std::string(MDBUS_CHROMIUM).size() > 0, "chromium not found: install the Debian package chromium (scripts/setup does)");
  unique_bus bus;
  temp_dir dir;
  exsim_process x(tls({"--rate", "300", "--seed", "7"}));
  const std::string sock = dir.file("ctl.sock");
  bus_setup b;
  b.supervisor = {{"metrics_port", 0}};
  const std::string config = write_config(dir.file("bus.json"), bus.name(), x.venue_port(), x.binance_rest_port(), x.okx_rest_port(), sock, b);
  supervisor_process sup(config, dir.file("supervisor.log"));
  const std::string ready = sup.log().substr(sup.log().find("MDSUPERVISOR_READY ") + 19);
  const int port = json::parse(ready.substr(0, ready.find('\n')))["metrics_port"];
  REQUIRE(port > 0);

  // The page's data: every slot live, and three points of history (2 s apart) to draw.
  json page;
  REQUIRE_MESSAGE(eventually([&] {
                    const auto r = http_request(port, "GET", "/status.json");
                    if (r.status != 200) return false;
                    page = json::parse(r.body);
                    for (const auto& s : page["status"]["slots"])
                      if (s["state"] != "live" || s["msgs_per_s"].get<double>() <= 0) return false;
                    return page["history"]["t_ms"].size() >= 3;
                  }, 40s),
                  "every slot live with messages, 3 history points; last: " << page.dump() << "; log: " << sup.log());
  const auto html = http_request(port, "GET", "/");
  REQUIRE(html.status == 200);
  CHECK(html.header("content-type") == "text/html; charset=utf-8");
  // Self-contained: nothing loaded from elsewhere (the SVG namespace URI is a name, not a load).
  static const std::regex external(R"re((src|href)\s*=\s*["']?(https?:)?//|url\(|@import)re", std::regex::icase);
  CHECK_FALSE(std::regex_search(html.body, external));
  CHECK(http_request(port, "GET", "/status.json").header("content-type") == "application/json");
  CHECK(http_request(port, "GET", "/nothing-here").status == 404);

  // Chromium: the DOM after the page's first fetch (virtual time runs the script to completion).
  const run_result dom = run_capture(chromium("--virtual-time-budget=5000 --dump-dom http://127.0.0.1:" + std::to_string(port) + "/"));
  REQUIRE_MESSAGE(dom.status == 0, "chromium --dump-dom exit " << dom.status);
  INFO("DOM: " << dom.out);
  CHECK(dom.out.find("<body data-loaded=\"1\">") != std::string::npos);
  CHECK(dom.out.find("<span id=\"bus\">" + bus.name() + "</span>") != std::string::npos);
  const std::vector<std::string> slots = {"binance/A", "binance/B", "okx/A", "okx/B"};
  std::map<std::string, int> lead_points;  // per venue, over its two slots
  for (const auto& s : slots) {
    CAPTURE(s);
    CHECK(dom.out.find("<tr data-slot=\"" + s + "\" data-state=\"live\" data-process=\"running\">") != std::string::npos);
    const std::vector<int> charts = chart_points(dom.out, s);
    REQUIRE(charts.size() == 3);  // message rate, race lead, reconnects
    CHECK(charts[0] >= 3);        // the rate has a point per interval since the slot went live
    CHECK(charts[2] >= 3);
    lead_points[s.substr(0, s.find('/'))] += charts[1];
  }
  // The race lead has points where the slot led: in every interval one of a venue's two slots did.
  for (const auto& [venue, n] : lead_points) {
    CAPTURE(venue);
    CHECK(n >= 3);
  }
  CHECK(dom.out.find("<tr data-slot=\"merger\" data-process=\"running\">") != std::string::npos);
  CHECK(dom.out.find("totals published ") != std::string::npos);  // mdctl status's totals line
  // The error banner stays empty: every fetch of /status.json succeeded.
  CHECK(std::regex_search(dom.out, std::regex(R"re(<div id="banner"[^>]*></div>)re")));

  // The screenshot: the test's artifact, for a person to look at.
  const std::string shot = std::string(MDBUS_ARTIFACT_DIR) + "/status_page.png";
  std::remove(shot.c_str());
  const run_result r = run_capture(chromium("--virtual-time-budget=5000 --screenshot=" + shot + " http://127.0.0.1:" + std::to_string(port) + "/"));
  REQUIRE_MESSAGE(r.status == 0, "chromium --screenshot exit " << r.status);
  const std::string png = read_file(shot);
  REQUIRE(png.size() > 10'000);
  CHECK(png.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0);
  MESSAGE("status page screenshot: ", shot, " (", png.size(), " bytes)");
}
