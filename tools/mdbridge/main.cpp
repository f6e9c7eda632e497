// mdbridge — the bus across machines on NATS JetStream (issue 18). See README.md.
//   mdbridge publish   --config bus.json      a bus's output ring → JetStream
//   mdbridge subscribe --config here.json     JetStream → a local output ring
#include "bus/config/config.hpp"
#include "bus/stop_signal.hpp"
#include "tools/mdbridge/publish.hpp"
#include "tools/mdbridge/subscribe.hpp"

#include <nats/nats.h>

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdio>

using namespace mdbus;

int main(int argc, char** argv) {
  CLI::App app{"mdbridge — carry an mdbus bus across machines on NATS JetStream"};
  app.require_subcommand(1);
  std::string config_path;
  bridge::publish_options po;
  bridge::subscribe_options so;
  auto* pub = app.add_subcommand("publish", "follow the bus's output ring and publish every record to JetStream");
  pub->add_option("-c,--config", config_path, "bus config with a \"bridge\" section")->required();
  pub->add_option("--ring", po.ring, "ring object to follow")->capture_default_str();
  pub->add_flag("--oldest", po.oldest, "start with the oldest record the ring holds (default: new records)");
  pub->add_option("--wait-ms", po.wait_ms, "wait this long for the ring and for NATS")->capture_default_str();
  pub->add_option("-d,--duration", po.duration_s, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  auto* sub = app.add_subcommand("subscribe", "follow the JetStream stream and write its records into a local ring");
  sub->add_option("-c,--config", config_path, "config with a \"bridge\" section (and the ring sizes)")->required();
  sub->add_option("-b,--bus", so.bus, "local bus to write (default: the config's bus)");
  sub->add_option("--ring", so.ring, "ring object to write")->capture_default_str();
  sub->add_option("--state", so.state, "resume file (default: beside the bus's control socket)");
  sub->add_flag("--new", so.from_new, "with no resume point: only records stored from now (default: all the stream holds)");
  sub->add_option("--wait-ms", so.wait_ms, "wait this long for NATS and the stream")->capture_default_str();
  sub->add_option("-d,--duration", so.duration_s, "stop after this many seconds (0: until SIGINT/SIGTERM)");
  CLI11_PARSE(app, argc, argv);

  config::bus_config cfg;
  try {
    cfg = config::load_config(config_path);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdbridge: %s\n", e.what());
    return 2;
  }
  if (!cfg.bridge.configured) {
    std::fprintf(stderr, "mdbridge: %s: no \"bridge\" section (servers, stream, ...): see tools/mdbridge/README.md\n",
                 config_path.c_str());
    return 2;
  }
  install_stop_signals();
  const int rc = pub->parsed() ? bridge::run_publish(cfg, po) : bridge::run_subscribe(cfg, so);
  nats_Close();  // the client library's threads and memory, so a leak check sees none
  return rc;
}
