// bridge_bench (issue 18): mdbridge against a bare cnats loop on the same records, same
// nats-server (one node, started here), same run.
//   1. throughput: N trade records published as fast as acks allow — a bare js_PublishAsync
//      loop in this process (subjects and ids computed beforehand: the best a cnats publisher
//      can do), then `mdbridge publish` draining the same N records from a ring;
//   2. live at --rate for --seconds: the bench writes the records into a ring at that pace,
//      `mdbridge publish` carries them to JetStream and `mdbridge subscribe` into a second ring
//      the bench reads: latency ring → ack (the publisher's) and ring → subscriber ring, CPU of
//      both bridges; against a bare paced loop (publish → ack) and a bare JetStream subscriber
//      in this process (publish → receive).
// Prints the figures and the ratios; bench/RESULTS.md records them with this command.
#include "bench/e2e_analysis.hpp"
#include "bench/e2e_process.hpp"
#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "mdbus/records.hpp"
#include "mdbus/consumer.hpp"
#include "tests/support/free_port.hpp"
#include "tools/mdbridge/bridge_keys.hpp"
#include "tools/mdbridge/jetstream.hpp"

// GCC 12 reports a false -Wnull-dereference inside CLI11's inlined string splitting.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <sys/resource.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <regex>

using namespace mdbus;
using namespace mdbus::bench;

namespace {

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// Paces a writer at `rate` records/s from `t0`: before every 64th record, sleeps until that
/// record is due (sleeping, not spinning: on two cores a spinning writer takes the CPU the
/// server and the bridges need).
void pace(std::int64_t t0, std::size_t i, double rate) {
  if (rate <= 0 || (i & 63) != 0) return;
  const auto due = t0 + static_cast<std::int64_t>(static_cast<double>(i) * 1e9 / rate);
  const std::int64_t left = due - mono_ns();
  if (left <= 0) return;
  timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
  nanosleep(&ts, nullptr);
}

/// N trade records over 8 symbols of Binance trade, ids 1.., as a merger publishes them.
std::vector<trade_record> make_records(std::size_t n) {
  static const char* syms[] = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "DOGEUSDT", "ADAUSDT", "TRXUSDT"};
  std::vector<trade_record> v(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto& t = v[i];
    t = make_record<trade_record>();
    t.header.venue_id = venue::binance;
    t.header.channel_id = channel::binance_trade;
    t.header.set_symbol(syms[i % 8]);
    t.header.flags |= kHeaderHasSeq;
    t.header.seq = i / 8 + 1;
    t.header.slot = slot_id::a;
    t.header.venue_time_ns = wall_ns();
    t.header.receive_time_ns = t.header.venue_time_ns;
    t.set_px({6500000 + static_cast<std::int64_t>(i % 1000), 2});
    t.set_qty({static_cast<std::int64_t>(i % 97 + 1), 3});
    t.trade_count = 1;
  }
  return v;
}

/// Ack bookkeeping of the bare loop: count, and publish → ack latency from the record's stamp.
struct bare_acks {
  std::atomic<std::uint64_t> acked{0}, failed{0};
  std::mutex m;
  std::vector<std::int64_t> latency_ns;
};

void on_bare_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr*, void* closure) {
  auto& a = *static_cast<bare_acks*>(closure);
  if (pa != nullptr) {
    std::int64_t published = 0;
    std::memcpy(&published, natsMsg_GetData(msg) + offsetof(record_header, publish_time_ns), sizeof published);
    const std::int64_t lat = wall_ns() - published;
    {
      std::lock_guard lock(a.m);
      a.latency_ns.push_back(lat);
    }
    a.acked.fetch_add(1, std::memory_order_release);
  } else {
    a.failed.fetch_add(1, std::memory_order_release);
  }
  natsMsg_Destroy(msg);
}

config::bridge_settings settings(int port, const std::string& stream, const std::string& prefix, bool file, std::int64_t in_flight) {
  config::bridge_settings b;
  b.configured = true;
  b.servers = {"nats://127.0.0.1:" + std::to_string(port)};
  b.stream = stream;
  b.subject_prefix = prefix;
  b.file_storage = file;
  b.max_age_ms = 600'000;
  b.max_in_flight = in_flight;
  return b;
}

/// Publishes `recs` with a bare js_PublishAsync loop: paced at `rate` (0: as fast as acks
/// allow). Returns seconds from the first publish to the last ack.
double bare_publish(const config::bridge_settings& b, std::vector<trade_record> recs, double rate, bare_acks& acks) {
  bridge::nats_link link(b, "bridge_bench bare", 10'000, on_bare_ack, &acks);
  if (const std::string why = bridge::ensure_stream(link.js(), b, 10'000); !why.empty()) throw std::runtime_error(why);
  std::vector<std::string> subjects(recs.size()), ids(recs.size());
  for (std::size_t i = 0; i < recs.size(); ++i) {
    record_view v;
    (void)record_view::parse(record_bytes(recs[i]), v);
    bridge::subject_for(b.subject_prefix, recs[i].header, subjects[i]);
    bridge::msg_id_for(v, ids[i]);
  }
  const std::int64_t t0 = mono_ns();
  for (std::size_t i = 0; i < recs.size(); ++i) {
    pace(t0, i, rate);
    recs[i].header.publish_time_ns = wall_ns();
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = ids[i].c_str();
    const auto bytes = record_bytes(recs[i]);
    while (js_PublishAsync(link.js(), subjects[i].c_str(), bytes.data(), static_cast<int>(bytes.size()), &po) == NATS_TIMEOUT) {
    }
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60'000;
  bridge::check(js_PublishAsyncComplete(link.js(), &po), "bare publish: waiting for acks");
  return static_cast<double>(mono_ns() - t0) / 1e9;
}

/// Messages the stream holds now.
std::uint64_t stream_msgs(jsCtx* js, const std::string& stream) {
  jsStreamInfo* si = nullptr;
  if (js_GetStreamInfo(&si, js, stream.c_str(), nullptr, nullptr) != NATS_OK) return 0;
  const std::uint64_t n = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  return n;
}

void write_config(const std::string& path, const std::string& bus, const config::bridge_settings& b) {
  nlohmann::json cfg = {
      {"bus", bus},
      {"rings", {{"output_bytes", 256 << 20}}},
      {"venues", {{"okx", {{"symbols", {"BTC-USDT"}}, {"channels", {"trades"}}}}}},
      {"bridge",
       {{"servers", b.servers}, {"stream", b.stream}, {"subject_prefix", b.subject_prefix}, {"storage", b.file_storage ? "file" : "memory"},
        {"max_age_ms", b.max_age_ms}, {"max_in_flight", b.max_in_flight}}}};
  std::ofstream(path) << cfg.dump(2);
}

std::string publisher_summary(const std::string& log) {
  std::string found, line;
  std::istringstream in(read_file(log));
  while (std::getline(in, line))
    if (line.rfind("mdbridge publish: read", 0) == 0) found = line;
  return found;
}

long long number_after(const std::string& line, const std::string& word) {
  const std::regex re(word + " (-?[0-9]+)");
  std::smatch m;
  return std::regex_search(line, m, re) ? std::stoll(m[1]) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bridge_bench: mdbridge against a bare cnats loop on one nats-server"};
  std::size_t n = 300'000;
  double rate = 100'000, seconds = 5;
  std::string storage = "file";
  std::int64_t in_flight = 8192;
  std::string nats_server = NATS_SERVER_BINARY;
  app.add_option("--records", n, "records of the throughput runs")->capture_default_str();
  app.add_option("--rate", rate, "records/s of the live runs")->capture_default_str();
  app.add_option("--seconds", seconds, "length of the live runs")->capture_default_str();
  app.add_option("--storage", storage, "stream storage: file or memory")->check(CLI::IsMember({"file", "memory"}))->capture_default_str();
  app.add_option("--max-in-flight", in_flight, "unacknowledged publishes at most (both publishers)")->capture_default_str();
  app.add_option("--nats-server", nats_server, "the nats-server program")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  install_stop_signals();
  const bool file = storage == "file";

  const std::string dir = std::filesystem::temp_directory_path() / ("bridge_bench." + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string bus = "bridgebench-" + std::to_string(::getpid()), bus_in = bus + "-in";
  scope_exit cleanup([&] {
    remove_bus_segments(bus);
    remove_bus_segments(bus_in);
    std::filesystem::remove_all(dir);
  });
  const int port = test::free_port();
  const std::string& nats_path = nats_server;
  program nats({nats_path, "-a", "127.0.0.1", "-p", std::to_string(port), "-js", "-sd", dir + "/js"}, dir + "/nats.log", SIGKILL, 5000);
  (void)wait_ready_line(nats, dir + "/nats.log", "[INF] Server is", 10'000);
  std::printf("bridge_bench: nats-server %s on 127.0.0.1:%d, %s storage, %zu records of %zu bytes, max in flight %lld\n",
              nats_path.c_str(), port, storage.c_str(), n, sizeof(trade_record), static_cast<long long>(in_flight));

  // 1a. Bare cnats, as fast as acks allow.
  bare_acks bare;
  const double cpu0 = self_cpu_seconds();
  const double bare_s = bare_publish(settings(port, "BARE", "bare", file, in_flight), make_records(n), 0, bare);
  const double bare_cpu = self_cpu_seconds() - cpu0;
  const double bare_rate = static_cast<double>(n) / bare_s;

  // 1b. mdbridge publish draining the same records from a ring.
  const auto recs = make_records(n);
  auto w = broadcast_ring_writer::create(segment_name(bus, "out"), {256u << 20, 65536});
  for (auto r : recs) {
    r.header.publish_time_ns = wall_ns();
    (void)w.write(static_cast<std::uint32_t>(record_type::trade), record_bytes(r));
  }
  const auto drain_cfg = settings(port, "BRIDGE", "br", file, in_flight);
  write_config(dir + "/drain.json", bus, drain_cfg);
  bridge::nats_link watch(drain_cfg, "bridge_bench watch", 10'000);
  program drain({MDBRIDGE_BINARY, "publish", "--config", dir + "/drain.json", "--oldest"}, dir + "/drain.log", SIGKILL, 10'000);
  (void)wait_ready_line(drain, dir + "/drain.log", "mdbridge publish:", 10'000);
  const double drain_cpu0 = cpu_seconds(drain.pid());
  std::int64_t first = 0, last = 0;
  for (const std::int64_t give_up = mono_ns() + 120'000'000'000; mono_ns() < give_up && stop_requested == 0;) {
    const std::uint64_t have = stream_msgs(watch.js(), "BRIDGE");
    if (have > 0 && first == 0) first = mono_ns();
    if (have >= n) {
      last = mono_ns();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a stream-info request is server work: rarely
  }
  const double drain_cpu = cpu_seconds(drain.pid()) - drain_cpu0;
  drain.stop(SIGTERM);
  if (last == 0) throw std::runtime_error("mdbridge did not store " + std::to_string(n) + " records within 120 s:\n" + tail(dir + "/drain.log"));
  const double bridge_rate = static_cast<double>(n) / (static_cast<double>(last - first) / 1e9);
  std::printf("\nthroughput (as fast as acks allow):\n");
  std::printf("  bare cnats loop   %9.0f records/s   CPU %.2f s per million records (this process, cnats threads included)\n", bare_rate,
              bare_cpu / static_cast<double>(n) * 1e6);
  std::printf("  mdbridge publish  %9.0f records/s   CPU %.2f s per million records   (ratio to bare: %.2f)\n", bridge_rate,
              drain_cpu / static_cast<double>(n) * 1e6, bridge_rate / bare_rate);

  // 2a. Bare, paced, with a bare JetStream subscriber in this process.
  const auto live_n = static_cast<std::size_t>(rate * seconds);
  std::vector<std::int64_t> bare_sub_lat;
  bare_sub_lat.reserve(live_n);
  bare_acks paced;
  {
    const auto b = settings(port, "BARELIVE", "barelive", file, in_flight);
    bridge::nats_link sub_link(b, "bridge_bench bare subscriber", 10'000);
    if (const std::string why = bridge::ensure_stream(sub_link.js(), b, 10'000); !why.empty()) throw std::runtime_error(why);
    natsSubscription* sub = nullptr;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = b.stream.c_str();
    so.Ordered = true;
    bridge::check(js_SubscribeSync(&sub, sub_link.js(), bridge::subjects_of(b).c_str(), nullptr, &so, nullptr), "bare subscriber");
    (void)natsSubscription_SetPendingLimits(sub, 1 << 20, 1 << 30);
    std::thread reader([&] {
      while (bare_sub_lat.size() < live_n && stop_requested == 0) {
        natsMsg* m = nullptr;
        if (natsSubscription_NextMsg(&m, sub, 2000) != NATS_OK) break;
        std::int64_t published = 0;
        std::memcpy(&published, natsMsg_GetData(m) + offsetof(record_header, publish_time_ns), sizeof published);
        bare_sub_lat.push_back(wall_ns() - published);
        natsMsg_Destroy(m);
      }
    });
    (void)bare_publish(b, make_records(live_n), rate, paced);
    reader.join();
    natsSubscription_Destroy(sub);
  }

  // 2b. The bridges, live: ring → publish → JetStream → subscribe → ring.
  const auto live_cfg = settings(port, "LIVE", "live", file, in_flight);
  write_config(dir + "/live.json", bus, live_cfg);
  program pub({MDBRIDGE_BINARY, "publish", "--config", dir + "/live.json"}, dir + "/pub.log", SIGKILL, 10'000);
  program sub({MDBRIDGE_BINARY, "subscribe", "--config", dir + "/live.json", "--bus", bus_in, "--state", dir + "/resume"}, dir + "/sub.log",
              SIGKILL, 10'000);
  (void)wait_ready_line(pub, dir + "/pub.log", "mdbridge publish:", 10'000);
  (void)wait_ready_line(sub, dir + "/sub.log", "mdbridge subscribe:", 10'000);
  consumer_options co;
  co.bus = bus_in;
  co.start = start_position::oldest;
  co.open_wait_ms = 5000;
  co.reader_name = "bridge_bench";
  consumer c = consumer::open(co);
  std::vector<std::int64_t> ring_lat;
  ring_lat.reserve(live_n);
  std::atomic<bool> reading{true};
  std::thread reader([&] {
    while (reading.load() && ring_lat.size() < live_n) {
      const poll_result r = c.wait(50'000'000);
      if (r.status == poll_status::record) ring_lat.push_back(wall_ns() - r.record.header().publish_time_ns);
    }
  });
  const double pub_cpu0 = cpu_seconds(pub.pid()), sub_cpu0 = cpu_seconds(sub.pid());
  auto live = make_records(live_n);
  const std::int64_t t0 = mono_ns();
  for (std::size_t i = 0; i < live_n && stop_requested == 0; ++i) {
    if ((i & 63) == 0) w.notify();  // the batch before this one: the bridge sleeps on the doorbell
    pace(t0, i, rate);
    live[i].header.publish_time_ns = wall_ns();
    (void)w.write(static_cast<std::uint32_t>(record_type::trade), record_bytes(live[i]));
  }
  w.notify();
  const double live_s = static_cast<double>(mono_ns() - t0) / 1e9;
  for (const std::int64_t give_up = mono_ns() + 30'000'000'000; ring_lat.size() < live_n && mono_ns() < give_up;)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const double pub_cpu = cpu_seconds(pub.pid()) - pub_cpu0, sub_cpu = cpu_seconds(sub.pid()) - sub_cpu0;
  reading = false;
  reader.join();
  pub.stop(SIGTERM);
  sub.stop(SIGTERM);
  const std::string summary = publisher_summary(dir + "/pub.log");

  const auto bare_ack = percentiles::of(paced.latency_ns);
  const auto bare_sub = percentiles::of(bare_sub_lat);
  const auto ring = percentiles::of(ring_lat);
  std::printf("\nlive at %.0f records/s for %.1f s (%zu records; written in %.2f s):\n", rate, seconds, live_n, live_s);
  std::printf("  bare publish -> ack            p50 %7.0f us  p99 %7.0f us  (%zu acks)\n", bare_ack.p50 / 1e3, bare_ack.p99 / 1e3, bare_ack.n);
  std::printf("  mdbridge ring -> ack           p50 %7lld us  p99 %7lld us  (its own count, last 1M acks)\n",
              number_after(summary, "p50"), number_after(summary, "p99"));
  std::printf("  bare publish -> bare receive   p50 %7.0f us  p99 %7.0f us  (%zu received)\n", bare_sub.p50 / 1e3, bare_sub.p99 / 1e3, bare_sub.n);
  std::printf("  mdbridge ring -> ring          p50 %7.0f us  p99 %7.0f us  (%zu of %zu received: %zu missing)\n", ring.p50 / 1e3,
              ring.p99 / 1e3, ring.n, live_n, live_n - std::min(live_n, ring.n));
  std::printf("  added by the bridges over bare: p50 %+.0f us, p99 %+.0f us\n", (ring.p50 - bare_sub.p50) / 1e3, (ring.p99 - bare_sub.p99) / 1e3);
  std::printf("  CPU: mdbridge publish %.1f %% of a core (%.2f s per million), subscribe %.1f %% (%.2f s per million)\n",
              pub_cpu / live_s * 100, pub_cpu / static_cast<double>(live_n) * 1e6, sub_cpu / live_s * 100,
              sub_cpu / static_cast<double>(live_n) * 1e6);
  std::printf("  publisher: %s\n", summary.c_str());
  return ring.n == live_n ? 0 : 1;
}
