#pragma once
// A plain WebSocket client on libwebsockets for exsim's integration tests: one client
// context (ws_loop) holding any number of connections, serviced from the test's own thread
// by pump_until(predicate, deadline) — no sleeping, no second thread.
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <libwebsockets.h>

namespace mdbus::test {

struct ws_conn {
  bool connected = false;
  bool closed = false;
  bool error = false;
  int close_code = 0;  ///< from the server's close frame (0: none, e.g. a TCP drop)
  std::string close_reason;
  std::string error_text;
  std::deque<std::string> messages;  ///< complete text messages, oldest first
  std::size_t received = 0;          ///< messages received in total
  std::chrono::steady_clock::time_point connected_at, closed_at;
  std::vector<std::string> outbox;
  std::string partial;
  lws* wsi = nullptr;

  /// Queues a text message for sending.
  void send(std::string text) {
    outbox.push_back(std::move(text));
    if (wsi != nullptr) lws_callback_on_writable(wsi);
  }
  /// Removes and returns the oldest message ("" if none).
  std::string pop() {
    if (messages.empty()) return {};
    std::string m = std::move(messages.front());
    messages.pop_front();
    return m;
  }
};

class ws_loop {
 public:
  /// ca_file: the CA that signed exsim's certificate (for wss://); "" for plain ws:// only.
  explicit ws_loop(const std::string& ca_file = {}) : ca_(ca_file) {
    lws_set_log_level(LLL_ERR, nullptr);
    lws_context_creation_info info{};
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = kProtocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    if (!ca_.empty()) info.client_ssl_ca_filepath = ca_.c_str();
    info.user = this;
    ctx_ = lws_create_context(&info);
    if (ctx_ == nullptr) throw std::runtime_error("cannot create client lws context");
    tick_.self = this;
    lws_sul_schedule(ctx_, 0, &tick_.sul, on_tick, 5000);
  }
  ws_loop(const ws_loop&) = delete;
  ws_loop& operator=(const ws_loop&) = delete;
  ~ws_loop() {
    lws_sul_cancel(&tick_.sul);
    lws_context_destroy(ctx_);
  }

  /// Starts a connection to 127.0.0.1:port; the returned object lives as long as the loop.
  ws_conn& connect(int port, const std::string& path, bool tls = false) {
    conns_.push_back(std::make_unique<ws_conn>());
    paths_.push_back(path);
    ws_conn& c = *conns_.back();
    lws_client_connect_info i{};
    i.context = ctx_;
    i.address = "127.0.0.1";
    i.port = port;
    i.path = paths_.back().c_str();
    i.host = "localhost";  // the certificate names localhost and 127.0.0.1
    i.origin = "localhost";
    i.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    i.protocol = nullptr;
    i.local_protocol_name = kProtocols[0].name;
    i.userdata = &c;
    i.pwsi = &c.wsi;
    if (lws_client_connect_via_info(&i) == nullptr && !c.closed) {
      c.error = c.closed = true;
      c.error_text = "connect failed at once";
    }
    return c;
  }

  /// Services the connections until pred() holds or the timeout passes; returns pred().
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return pred();
      lws_service(ctx_, 0);
    }
    return true;
  }
  /// Services for a fixed time (only to show that something does NOT happen).
  void pump_for(std::chrono::milliseconds d) {
    pump_until([] { return false; }, d);
  }

 private:
  struct tick_slot {
    lws_sorted_usec_list_t sul;  // first member: on_tick casts back
    ws_loop* self;
  };
  static void on_tick(lws_sorted_usec_list_t* sul) {
    // A 5 ms heartbeat so lws_service returns and deadlines are checked even when idle.
    auto* t = reinterpret_cast<tick_slot*>(sul);
    lws_sul_schedule(t->self->ctx_, 0, &t->sul, on_tick, 5000);
  }

  static int callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
    auto* c = static_cast<ws_conn*>(user);
    switch (reason) {
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->connected = true;
        c->connected_at = std::chrono::steady_clock::now();
        if (!c->outbox.empty()) lws_callback_on_writable(wsi);
        break;
      case LWS_CALLBACK_CLIENT_RECEIVE:
        c->partial.append(static_cast<const char*>(in), len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
          c->messages.push_back(std::move(c->partial));
          c->partial.clear();
          ++c->received;
        }
        break;
      case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c->outbox.empty()) {
          std::string buf(LWS_PRE, '\0');
          buf += c->outbox.front();
          c->outbox.erase(c->outbox.begin());
          if (lws_write(wsi, reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE), buf.size() - LWS_PRE,
                        LWS_WRITE_TEXT) < 0)
            return -1;
          if (!c->outbox.empty()) lws_callback_on_writable(wsi);
        }
        break;
      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
          const auto* p = static_cast<const unsigned char*>(in);
          c->close_code = (p[0] << 8) | p[1];
          c->close_reason.assign(reinterpret_cast<const char*>(p + 2), len - 2);
        }
        break;
      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (c != nullptr) {
          c->error = c->closed = true;
          c->closed_at = std::chrono::steady_clock::now();
          c->error_text = in != nullptr ? std::string(static_cast<const char*>(in), len) : "connection error";
          c->wsi = nullptr;
        }
        break;
      case LWS_CALLBACK_CLIENT_CLOSED:
        if (c != nullptr) {
          c->closed = true;
          c->closed_at = std::chrono::steady_clock::now();
          c->wsi = nullptr;
        }
        break;
      default:
        break;
    }
    return 0;
  }

  static constexpr lws_protocols kProtocols[] = {
      {"exsim-test-client", callback, 0, 1 << 16, 0, nullptr, 0},
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };

  std::string ca_;
  lws_context* ctx_ = nullptr;
  tick_slot tick_{};
  std::vector<std::unique_ptr<ws_conn>> conns_;
  std::deque<std::string> paths_;
};

}  // namespace mdbus::test
