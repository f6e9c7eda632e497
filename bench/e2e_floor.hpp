#pragma once
// e2e_bench's floor: the least a process can do to receive the bus's venue streams. One
// libwebsockets client in a process of its own (forked from the bench before any thread
// exists), TLS, one Binance combined-stream connection and one OKX connection with the same
// streams the bus subscribes, and per message only a substring scan for the stream name and
// the sequence the truth log keys the event by. It stamps CLOCK_REALTIME where mdfeed does
// (the first fragment of a message) and writes (stream, sequence, time) into shared memory
// the bench reads afterwards.
#include <libwebsockets.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bus/clock.hpp"
#include "mdbus/venue.hpp"

namespace mdbus::bench {

/// One event as a receiver saw it: the truth stream id and the sequence that names the event
/// in the truth log (truth_format.hpp: Binance t / a / u / u, OKX tradeId / seqId), and when
/// it arrived.
struct floor_sample {
  std::int64_t seq;
  std::int64_t recv_ns;
  std::uint16_t stream;
  std::uint8_t pad[6];
};

/// A stream the floor looks for: its venue name as it appears in the message (Binance
/// "btcusdt@trade", OKX "trades:BTC-USDT") and the sequence key to read.
struct floor_stream {
  std::string name;
  std::uint16_t id = 0;
  std::string key;      ///< `"t":`, `"a":`, `"u":`, `"tradeId":"`, `"seqId":`
};

/// Finds the stream and sequence of one venue message by substring scans; no JSON parse.
/// Returns false for anything else (acks, OKX snapshots, unknown streams).
struct key_scanner {
  std::vector<floor_stream> streams;

  [[nodiscard]] bool scan(venue v, std::string_view m, std::uint16_t& id, std::int64_t& seq) const noexcept {
    const floor_stream* s = nullptr;
    std::size_t body = 0;
    if (v == venue::binance) {
      // {"stream":"btcusdt@trade","data":{...}}
      constexpr std::string_view kPre = "{\"stream\":\"";
      if (m.substr(0, kPre.size()) != kPre) return false;
      const std::size_t end = m.find('"', kPre.size());
      if (end == std::string_view::npos) return false;
      s = find(m.substr(kPre.size(), end - kPre.size()));
      body = end;
    } else {
      // {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{...}]}
      constexpr std::string_view kPre = "{\"arg\":{\"channel\":\"";
      constexpr std::string_view kInst = "\",\"instId\":\"";
      if (m.substr(0, kPre.size()) != kPre) return false;
      const std::size_t ch_end = m.find('"', kPre.size());
      if (ch_end == std::string_view::npos || m.substr(ch_end, kInst.size()) != kInst) return false;
      const std::size_t inst = ch_end + kInst.size();
      const std::size_t inst_end = m.find('"', inst);
      if (inst_end == std::string_view::npos) return false;
      char name[64];
      const std::size_t cl = ch_end - kPre.size(), il = inst_end - inst;
      if (cl + 1 + il > sizeof name) return false;
      std::memcpy(name, m.data() + kPre.size(), cl);
      name[cl] = ':';
      std::memcpy(name + cl + 1, m.data() + inst, il);
      s = find(std::string_view(name, cl + 1 + il));
      body = inst_end;
      // A snapshot goes to this connection only: not an event every subscriber shares.
      if (m.substr(inst_end, 22) == "\"},\"action\":\"snapshot\"") return false;
    }
    if (s == nullptr) return false;
    const std::size_t k = m.find(s->key, body);
    if (k == std::string_view::npos) return false;
    const char* p = m.data() + k + s->key.size();
    const auto r = std::from_chars(p, m.data() + m.size(), seq);
    if (r.ec != std::errc{}) return false;
    id = s->id;
    return true;
  }

 private:
  [[nodiscard]] const floor_stream* find(std::string_view name) const noexcept {
    for (const auto& s : streams)
      if (s.name == name) return &s;
    return nullptr;
  }
};

/// Shared (MAP_SHARED | MAP_ANONYMOUS) between the bench and the forked floor process.
/// The floor writes samples[0..count) and publishes count with a release store; the bench
/// reads count with acquire, then the samples below it (never written again).
struct floor_shared {
  std::atomic<std::uint64_t> messages{0};  ///< every data message received (rate calibration)
  std::atomic<std::uint64_t> count{0};     ///< samples written
  std::atomic<std::uint64_t> dropped{0};   ///< samples lost to a full array
  std::atomic<std::uint32_t> recording{0};  ///< bench: store samples now
  std::atomic<std::uint32_t> live{0};       ///< bit 0: Binance data seen, bit 1: OKX data seen
  std::atomic<std::uint32_t> failed{0};     ///< a connection failed or closed: error says why
  std::atomic<std::uint32_t> stop{0};
  char error[256]{};
  std::uint64_t capacity = 0;

  floor_sample* samples() noexcept { return reinterpret_cast<floor_sample*>(this + 1); }
};
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
              "shared between processes: the atomics must not hide a lock");

/// The shared mapping, unmapped on destruction.
class floor_memory {
 public:
  explicit floor_memory(std::uint64_t capacity) {
    bytes_ = sizeof(floor_shared) + capacity * sizeof(floor_sample);
    void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("floor: mmap of " + std::to_string(bytes_) + " bytes failed");
    std::memset(p, 0, bytes_);  // resident before the fork: no page faults in the floor's hot path
    shared_ = new (p) floor_shared();
    shared_->capacity = capacity;
  }
  ~floor_memory() { ::munmap(shared_, bytes_); }
  floor_memory(const floor_memory&) = delete;
  floor_memory& operator=(const floor_memory&) = delete;
  [[nodiscard]] floor_shared& get() noexcept { return *shared_; }

 private:
  floor_shared* shared_ = nullptr;
  std::size_t bytes_ = 0;
};

struct floor_options {
  int port = 0;
  std::string ca_file;
  std::string binance_path;  ///< /stream?streams=...
  std::string okx_subscribe;  ///< the subscribe message
  key_scanner scanner;
};

namespace detail {

struct floor_conn {
  venue v = venue::unknown;
  lws* wsi = nullptr;
  std::string rx;
  std::int64_t first_ns = 0;
  bool in_message = false;
  bool subscribe_sent = false;
};

struct floor_state {
  floor_shared* sh = nullptr;
  const floor_options* opt = nullptr;
  floor_conn conns[2];
  lws_sorted_usec_list_t stop_timer{};
  lws_context* ctx = nullptr;
};

inline floor_state* g_floor = nullptr;  // the child process's one client

inline void floor_fail(floor_state& st, const std::string& why) {
  if (st.sh->stop.load(std::memory_order_relaxed) != 0) return;  // closing at the end is no failure
  std::snprintf(st.sh->error, sizeof st.sh->error, "%s", why.c_str());
  st.sh->failed.store(1, std::memory_order_release);
}

inline void floor_message(floor_state& st, floor_conn& c) {
  floor_shared& sh = *st.sh;
  sh.messages.fetch_add(1, std::memory_order_relaxed);
  std::uint16_t id = 0;
  std::int64_t seq = 0;
  if (!st.opt->scanner.scan(c.v, c.rx, id, seq)) return;
  sh.live.fetch_or(c.v == venue::binance ? 1U : 2U, std::memory_order_relaxed);
  if (sh.recording.load(std::memory_order_relaxed) == 0) return;
  const std::uint64_t n = sh.count.load(std::memory_order_relaxed);
  if (n >= sh.capacity) {
    sh.dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  sh.samples()[n] = floor_sample{seq, c.first_ns, id, {}};
  sh.count.store(n + 1, std::memory_order_release);  // release: publishes the sample; pairs with the bench's acquire of count
}

inline int floor_callback(lws* wsi, lws_callback_reasons reason, void*, void* in, std::size_t len) {
  floor_state& st = *g_floor;
  auto* c = static_cast<floor_conn*>(lws_get_opaque_user_data(wsi));
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (c != nullptr && c->v == venue::okx) lws_callback_on_writable(wsi);
      return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (c != nullptr && c->v == venue::okx && !c->subscribe_sent) {
        std::string buf(LWS_PRE, '\0');
        buf += st.opt->okx_subscribe;
        const std::size_t n = buf.size() - LWS_PRE;
        if (lws_write(wsi, reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE), n, LWS_WRITE_TEXT) < static_cast<int>(n))
          return -1;
        c->subscribe_sent = true;
      }
      return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (c == nullptr) return 0;
      if (!c->in_message) {
        c->in_message = true;
        c->first_ns = wall_ns();  // where mdfeed stamps receive_time_ns: the message's first fragment
        c->rx.clear();
      }
      c->rx.append(static_cast<const char*>(in), len);
      if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return 0;
      c->in_message = false;
      floor_message(st, *c);
      return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      floor_fail(st, std::string("floor: connection error: ") +
                         (in != nullptr ? std::string(static_cast<const char*>(in), strnlen(static_cast<const char*>(in), 200))
                                        : std::string("?")));
      return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
      floor_fail(st, std::string("floor: ") + (c != nullptr && c->v == venue::okx ? "OKX" : "Binance") +
                         " connection closed by exsim");
      return 0;
    default:
      return 0;
  }
}

inline void floor_stop_check(lws_sorted_usec_list_t* sul) {
  floor_state& st = *g_floor;
  if (st.sh->stop.load(std::memory_order_relaxed) != 0) {
    lws_cancel_service(st.ctx);
    return;
  }
  lws_sul_schedule(st.ctx, 0, sul, floor_stop_check, 50 * LWS_US_PER_MS);
}

}  // namespace detail

/// The floor process's body: connects, receives until shared.stop, exits. Never returns.
[[noreturn]] inline void floor_main(floor_shared& sh, const floor_options& opt, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the bench
  if (::getppid() != parent) ::_exit(1);
  ::signal(SIGINT, SIG_IGN);  // a Ctrl-C is the bench's to handle: it stops us through sh.stop
  static detail::floor_state st;
  st.sh = &sh;
  st.opt = &opt;
  detail::g_floor = &st;
  lws_set_log_level(LLL_ERR, nullptr);
  static const lws_protocols protocols[] = {
      {"e2e-floor", detail::floor_callback, 0, 64 * 1024, 0, nullptr, 0},  // mdfeed's rx chunk
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.client_ssl_ca_filepath = opt.ca_file.c_str();
  info.fd_limit_per_thread = 16;
  info.pt_serv_buf_size = 64 * 1024;  // as mdfeed
  info.gid = -1;
  info.uid = -1;
  st.ctx = lws_create_context(&info);
  if (st.ctx == nullptr) {
    detail::floor_fail(st, "floor: cannot create the libwebsockets context");
    ::_exit(1);
  }
  const std::string okx_path = "/ws/v5/public";
  for (int i = 0; i < 2; ++i) {
    detail::floor_conn& c = st.conns[i];
    c.v = i == 0 ? venue::binance : venue::okx;
    c.rx.reserve(1 << 20);  // no growth on the hot path (OKX snapshots are ~20 KB)
    lws_client_connect_info ci{};
    ci.context = st.ctx;
    ci.address = "127.0.0.1";
    ci.port = opt.port;
    ci.path = i == 0 ? opt.binance_path.c_str() : okx_path.c_str();
    ci.host = "localhost";
    ci.origin = "localhost";
    ci.ssl_connection = LCCSCF_USE_SSL;
    ci.local_protocol_name = "e2e-floor";
    ci.opaque_user_data = &c;
    ci.pwsi = &c.wsi;
    if (lws_client_connect_via_info(&ci) == nullptr) detail::floor_fail(st, "floor: connect failed at once");
  }
  lws_sul_schedule(st.ctx, 0, &st.stop_timer, detail::floor_stop_check, 50 * LWS_US_PER_MS);
  while (sh.stop.load(std::memory_order_relaxed) == 0)
    if (lws_service(st.ctx, 0) < 0) break;
  lws_context_destroy(st.ctx);
  ::_exit(0);
}

}  // namespace mdbus::bench
