#include "tools/exsim/server.hpp"

#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include <libwebsockets.h>

#include "tools/exsim/server_detail.hpp"

namespace mdbus::exsim {

using detail::free_http;
using detail::mono_us;
using detail::real_ns;

struct server::timer_slot {
  lws_sorted_usec_list_t sul;  // first member: the timer callback casts the sul back to us
  server* self;
};

namespace {

server* server_of(lws* wsi) {
  if (wsi == nullptr) return nullptr;
  lws_context* ctx = lws_get_context(wsi);
  return ctx == nullptr ? nullptr : static_cast<server*>(lws_context_user(ctx));
}

// No exception may unwind through libwebsockets (C): one that escapes a handler costs the
// connection it came from, never the process.
int venue_trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  server* srv = server_of(wsi);
  if (srv == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return srv->venue_callback(wsi, static_cast<int>(reason), static_cast<server::session*>(user), in, len);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exsim: venue connection closed after an internal error: %s\n", e.what());
    return -1;
  }
}

int control_trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  server* srv = server_of(wsi);
  if (srv == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return srv->control_callback(wsi, static_cast<int>(reason), static_cast<server::session*>(user), in, len);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exsim: control request failed: %s\n", e.what());
    return -1;
  }
}

// The REST listeners: one per venue, so a callback knows its venue by its protocol.
template <venue V>
int rest_trampoline(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  server* srv = server_of(wsi);
  if (srv == nullptr) return lws_callback_http_dummy(wsi, reason, user, in, len);
  try {
    return srv->rest_callback(wsi, static_cast<int>(reason), static_cast<server::session*>(user), in, len, V);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "exsim: REST request failed: %s\n", e.what());
    return -1;
  }
}

void tick_trampoline(lws_sorted_usec_list_t* sul) {
  // sul is the first member of the standard-layout timer_slot, so the addresses coincide.
  reinterpret_cast<server::timer_slot*>(sul)->self->on_tick();
}

// Protocol tables must outlive the context; one protocol per vhost takes HTTP and ws alike.
const lws_protocols kVenueProtocols[] = {
    {"exsim-venue", venue_trampoline, sizeof(server::session), 65536, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kBinanceRestProtocols[] = {
    {"exsim-binance-rest", rest_trampoline<venue::binance>, sizeof(server::session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kUsdmRestProtocols[] = {
    {"exsim-usdm-rest", rest_trampoline<venue::binance_usdm>, sizeof(server::session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kOkxRestProtocols[] = {
    {"exsim-okx-rest", rest_trampoline<venue::okx>, sizeof(server::session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};
const lws_protocols kControlProtocols[] = {
    {"exsim-control", control_trampoline, sizeof(server::session), 0, 0, nullptr, 0},
    {nullptr, nullptr, 0, 0, 0, nullptr, 0},
};

std::string header(lws* wsi, lws_token_indexes tok) {
  char buf[4096];
  const int n = lws_hdr_copy(wsi, buf, sizeof buf, tok);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::string query_of(lws* wsi) {
  std::string q;
  char buf[4096];
  for (int i = 0; i < 64; ++i) {
    const int n = lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    if (!q.empty()) q.push_back('&');
    q.append(buf, static_cast<std::size_t>(n));
  }
  return q;
}

}  // namespace

server::server(exsim_config cfg)
    : cfg_(std::move(cfg)),
      binance_(cfg_, cfg_.binance, registry_, *this),
      okx_(cfg_, registry_, *this),
      usdm_(cfg_, cfg_.usdm, registry_, *this),
      binance_weight_(cfg_.binance.weight_limit, cfg_.binance.weight_window_ms, cfg_.binance.ban_ms),
      usdm_weight_(cfg_.usdm.weight_limit, cfg_.usdm.weight_window_ms, cfg_.usdm.ban_ms),
      rate_(cfg_.rate) {
  subscribers_.resize(registry_.size());
  if (!cfg_.truth_log.empty()) truth_ = std::make_unique<truth_writer>(cfg_.truth_log, registry_, cfg_.seed, real_ns());
  now_us_ = mono_us();
  now_ms_ = real_ns() / 1'000'000;
}

server::~server() {
  if (ctx_ != nullptr) lws_context_destroy(ctx_);  // closes every connection (CLOSED callbacks)
  ctx_ = nullptr;
}

void server::start() {
  lws_context_creation_info info{};
  info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.user = this;
  ctx_ = lws_create_context(&info);
  if (ctx_ == nullptr) throw std::runtime_error("cannot create the libwebsockets context");

  lws_context_creation_info v{};
  v.vhost_name = "venue";
  v.port = cfg_.port;
  v.iface = cfg_.host.c_str();
  v.protocols = kVenueProtocols;
  v.options = LWS_SERVER_OPTION_DISABLE_IPV6 | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  if (cfg_.tls) {
    v.ssl_cert_filepath = cfg_.tls_cert.c_str();
    v.ssl_private_key_filepath = cfg_.tls_key.c_str();
  }
  venue_vhost_ = lws_create_vhost(ctx_, &v);
  if (venue_vhost_ == nullptr)
    throw std::runtime_error("cannot listen on " + cfg_.host + ":" + std::to_string(cfg_.port) +
                             (cfg_.tls ? " (or load the TLS certificate/key)" : ""));
  venue_port_ = lws_get_vhost_listen_port(venue_vhost_);

  // The venues' REST hosts are not their stream hosts (api.binance.com, www.okx.com): one
  // listener each, same TLS setting as the venue port.
  auto rest_vhost = [&](const char* name, int port, const lws_protocols* protocols, int& bound) -> lws_vhost* {
    if (port < 0) return nullptr;
    lws_context_creation_info r = v;
    r.vhost_name = name;
    r.port = port;
    r.protocols = protocols;
    lws_vhost* vh = lws_create_vhost(ctx_, &r);
    if (vh == nullptr)
      throw std::runtime_error("cannot listen on " + cfg_.host + ":" + std::to_string(port) + " (" + name + ")");
    bound = lws_get_vhost_listen_port(vh);
    return vh;
  };
  binance_rest_vhost_ = rest_vhost("binance-rest", cfg_.binance.rest_port, kBinanceRestProtocols, binance_rest_port_);
  okx_rest_vhost_ = rest_vhost("okx-rest", cfg_.okx.rest_port, kOkxRestProtocols, okx_rest_port_);
  // fapi.binance.com: only when USD-M is simulated (symbols configured).
  if (!cfg_.usdm.instruments.empty())
    usdm_rest_vhost_ = rest_vhost("usdm-rest", cfg_.usdm.rest_port, kUsdmRestProtocols, usdm_rest_port_);

  if (cfg_.control_port >= 0) {
    lws_context_creation_info c{};
    c.vhost_name = "control";
    c.port = cfg_.control_port;
    c.iface = "127.0.0.1";  // the control endpoint never leaves loopback
    c.protocols = kControlProtocols;
    c.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    control_vhost_ = lws_create_vhost(ctx_, &c);
    if (control_vhost_ == nullptr)
      throw std::runtime_error("cannot listen on 127.0.0.1:" + std::to_string(cfg_.control_port) + " (control)");
    control_port_ = lws_get_vhost_listen_port(control_vhost_);
  }

  // Quiet instruments: no market actions for their first seconds after start.
  const std::int64_t started = mono_us();
  quiet_until_us_.clear();
  for (const auto* list : {&cfg_.binance.instruments, &cfg_.okx.instruments, &cfg_.usdm.instruments})
    for (const auto& inst : *list) {
      const auto it = cfg_.quiet.find(inst.symbol);
      quiet_until_us_.push_back(it == cfg_.quiet.end() ? 0 : started + static_cast<std::int64_t>(it->second * 1e6));
    }

  timer_ = std::make_unique<timer_slot>();
  timer_->self = this;
  rate_epoch_us_ = started;
  lws_sul_schedule(ctx_, 0, &timer_->sul, tick_trampoline, cfg_.tick_us);
}

void server::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed))
    if (lws_service(ctx_, 0) < 0) break;
  if (truth_) truth_->flush(real_ns());
}

void server::wake() noexcept {
  if (ctx_ != nullptr) lws_cancel_service(ctx_);
}

// ---------------------------------------------------------------- timer

void server::on_tick() {
  now_us_ = mono_us();
  now_ms_ = real_ns() / 1'000'000;
  step_market();
  binance_.on_timer(now_ms_);
  okx_.on_timer(now_ms_);
  usdm_.on_timer(now_ms_);
  housekeeping();
  flush_dirty();
  if (truth_ && now_us_ - last_flush_us_ >= 20'000) {
    truth_->flush(real_ns());
    last_flush_us_ = now_us_;
  }
  lws_sul_schedule(ctx_, 0, &timer_->sul, tick_trampoline, cfg_.tick_us);
}

void server::step_market() {
  if (paused_ || rate_ <= 0) {
    rate_epoch_us_ = now_us_;
    actions_done_ = 0;
    return;
  }
  const double target = static_cast<double>(now_us_ - rate_epoch_us_) * rate_ / 1e6;
  double due = target - actions_done_;
  // Never burst more than 50 ms worth after a stall of the loop: the rate is a rate.
  const double burst = std::max(1.0, rate_ * 0.05);
  if (due > burst) {
    actions_done_ = target - burst;
    due = burst;
  }
  const auto n = static_cast<std::uint64_t>(std::floor(due));
  actions_done_ += static_cast<double>(n);
  const std::size_t nb = binance_.instrument_count();
  const std::size_t no = okx_.instrument_count();
  const std::size_t total = nb + no + usdm_.instrument_count();
  if (total == 0) return;
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::size_t i = next_instrument_++ % total;
    // A quiet instrument's turn passes without an action; its random stream is untouched, so
    // after the quiet time it produces what the same seed produces without --quiet.
    if (quiet(i)) continue;
    if (i < nb)
      binance_.step(i, now_ms_);
    else if (i < nb + no)
      okx_.step(i - nb, now_ms_);
    else
      usdm_.step(i - nb - no, now_ms_);
    ++actions_;
  }
}

void server::housekeeping() {
  for (auto& [id, cp] : conns_) {
    connection& c = *cp;
    auto* wsi = static_cast<lws*>(c.wsi);
    if (c.close_pending) {
      if (!c.close_abrupt) lws_callback_on_writable(wsi);
      continue;
    }
    if (c.venue_id == venue::binance || c.venue_id == venue::binance_usdm) {
      // web-socket-streams.md: a connection is only valid for 24 hours; ping every 20 s,
      // disconnect when no pong within a minute (all compressed via config). USD-M "WebSocket
      // Market Streams" (2026-12): 24 hours; a ping every 3 minutes, a pong within 10.
      const auto& b = c.venue_id == venue::binance ? cfg_.binance : cfg_.usdm;
      if (now_us_ - c.opened_us >= b.max_age_ms * 1000) {
        c.request_close(1000, "max connection age", false);
      } else if (c.ping_outstanding_us != 0 && now_us_ - c.ping_outstanding_us >= b.pong_timeout_ms * 1000) {
        c.request_close(1008, "pong timeout", false);
      } else if (!c.stalled(now_us_) && now_us_ >= c.next_ping_us) {
        c.ping_payload = std::to_string(now_ms_);
        c.push_frame(ws_opcode::ping, c.ping_payload, now_us_);
        if (c.ping_outstanding_us == 0) c.ping_outstanding_us = now_us_;
        c.next_ping_us = now_us_ + b.ping_interval_ms * 1000;
      }
    } else if (c.venue_id == venue::okx) {
      // OKX "Connect" (checked 2026-12): "If there's a network problem, the system will
      // automatically disable the connection. The connection will break automatically if the
      // subscription is not established or data has not been pushed for more than 30 seconds."
      // What the server sends counts (its pong to our ping included), so a subscribed
      // connection that pings is kept; one with no subscription is cut regardless.
      const std::int64_t idle_us = cfg_.okx.idle_timeout_ms * 1000;
      if (now_us_ - std::max(c.last_rx_us, c.last_push_us) >= idle_us ||
          (c.streams.empty() && now_us_ - c.unsubscribed_since_us >= idle_us))
        c.request_close(4004, "No data received in 30s.", false);
    }
    if (c.close_pending) {
      lws_callback_on_writable(wsi);
      continue;
    }
    if (!c.stalled(now_us_) && c.release_due(now_us_)) mark_dirty(c);
  }
}

// ---------------------------------------------------------------- fan-out

void server::publish(std::uint16_t stream_id, std::string_view payload, const event_meta& meta) {
  ++events_;
  const stream_info& si = registry_.at(stream_id);
  if (truth_) truth_->append(si, payload, meta, 0, real_ns());  // stamped again at its socket write (truth_writer.hpp)
  auto& subs = subscribers_[stream_id];
  if (subs.empty()) return;
  bool wrapped = false;
  for (connection* c : subs) {
    if (c->close_pending) continue;
    std::string_view out = payload;
    if (c->combined) {
      if (!wrapped) {
        // web-socket-streams.md: combined events are {"stream":"<streamName>","data":<rawPayload>}.
        wrap_.assign("{\"stream\":\"").append(si.name).append("\",\"data\":").append(payload).push_back('}');
        wrapped = true;
      }
      out = wrap_;
    }
    c->push_data(out, now_us_);
    ++frames_fanned_;
    mark_dirty(*c);
  }
}

void server::mark_dirty(connection& c) {
  if (std::find(dirty_.begin(), dirty_.end(), &c) == dirty_.end()) dirty_.push_back(&c);
}

void server::flush_dirty() {
  for (connection* c : dirty_)
    if (c->has_output() || c->close_pending) lws_callback_on_writable(static_cast<lws*>(c->wsi));
  dirty_.clear();
}

void server::send_reply(connection& c, std::string_view text) {
  c.push_frame(ws_opcode::text, text, now_us_);
  mark_dirty(c);
}

connection* server::open_connection(lws* wsi, venue v, const std::string& path) {
  auto c = std::make_unique<connection>(next_conn_id_++, v, now_us_, LWS_PRE, cfg_.queue_limit_bytes, cfg_.close_slow);
  c->wsi = wsi;
  c->path = path;
  c->next_ping_us = now_us_ + (v == venue::binance_usdm ? cfg_.usdm : cfg_.binance).ping_interval_ms * 1000;
  c->rx_window_us = now_us_;
  connection* raw = c.get();
  conns_.emplace(raw->id, std::move(c));
  return raw;
}

void server::close_connection(connection& c) {
  for (const auto s : c.streams) {
    auto& subs = subscribers_[s];
    subs.erase(std::remove(subs.begin(), subs.end(), &c), subs.end());
  }
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &c), dirty_.end());
  conns_.erase(c.id);
}

connection* server::find_connection(std::uint32_t id) {
  const auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second.get();
}

bool server::admit_connection(lws* wsi, venue v) {
  if (!cfg_.connect_limits) return true;
  // Binance web-socket-streams.md "WebSocket Limits" (checked 2026-12): "There is a limit of
  // 300 connections per attempt every 5 minutes per IP." OKX "Connect" (checked 2026-12):
  // "Connection limit: 3 requests per second (based on IP)". Every upgrade request counts,
  // refused ones too; over the limit the handshake gets HTTP 429.
  const bool okx = v == venue::okx;
  const std::size_t k = okx ? 1 : v == venue::binance_usdm ? 2 : 0;
  const binance_config& bc = v == venue::binance_usdm ? cfg_.usdm : cfg_.binance;
  const int limit = okx ? cfg_.okx.connect_limit : bc.connect_limit;
  const std::int64_t window = okx ? cfg_.okx.connect_window_ms : bc.connect_window_ms;
  if (limit == 0) return true;  // USD-M documents none
  char ip[64] = {0};
  lws_get_peer_simple(wsi, ip, sizeof ip);
  if (connect_attempts_[k][ip].admit(now_us_ / 1000, limit, window, true)) return true;
  ++connect_refused_[k];
  lws_return_http_status(wsi, 429, okx ? R"({"code":"50011","msg":"Too Many Requests"})"
                                       : R"({"code":-1003,"msg":"Too many connection attempts."})");
  return false;
}

bool server::subscribe(connection& c, std::uint16_t stream) {
  if (std::find(c.streams.begin(), c.streams.end(), stream) != c.streams.end()) return false;
  c.streams.push_back(stream);
  subscribers_[stream].push_back(&c);
  return true;
}

void server::unsubscribe(connection& c, std::uint16_t stream) {
  const bool had = !c.streams.empty();
  c.streams.erase(std::remove(c.streams.begin(), c.streams.end(), stream), c.streams.end());
  if (had && c.streams.empty()) c.unsubscribed_since_us = now_us_;
  auto& subs = subscribers_[stream];
  subs.erase(std::remove(subs.begin(), subs.end(), &c), subs.end());
}

int server::write_connection(lws* wsi, connection& c) {
  if (c.close_pending) {
    if (!c.close_abrupt)
      lws_close_reason(wsi, static_cast<lws_close_status>(c.close_code),
                       reinterpret_cast<unsigned char*>(c.close_reason.data()), c.close_reason.size());
    return -1;
  }
  if (c.stalled(now_us_)) return 0;
  c.release_due(now_us_);
  if (!c.has_output()) return 0;
  auto& out = c.out();
  const std::size_t n = out.size() - c.pre();
  // Whole pre-framed ws frames as raw bytes: lws buffers what the socket does not take and
  // sends nothing else on this connection until that is drained, so frames never interleave.
  // The events in these bytes leave exsim now: their truth entries take this time (exact, ns).
  if (truth_ && truth_->has_unstamped()) truth_->stamp_written(real_ns());
  if (lws_write(wsi, reinterpret_cast<unsigned char*>(out.data() + c.pre()), n, LWS_WRITE_RAW) < 0) return -1;
  c.bytes_written += n;
  c.clear_output();
  return 0;
}

// ---------------------------------------------------------------- venue vhost callback

int server::venue_callback(lws* wsi, int reason_int, session* s, void* in, std::size_t len) {
  const auto reason = static_cast<lws_callback_reasons>(reason_int);
  now_us_ = mono_us();
  now_ms_ = real_ns() / 1'000'000;
  switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
      if (now_us_ < refuse_until_us_) {
        ++refused_;
        return 1;  // fault "refuse": accept and drop at once, like a venue refusing service
      }
      return 0;

    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      if (now_us_ < refuse_until_us_) return 1;
      const std::string path = header(wsi, WSI_TOKEN_GET_URI);
      if (path == "/ws/v5/public") return admit_connection(wsi, venue::okx) ? 0 : 1;
      std::vector<std::uint16_t> streams;
      bool combined = false;
      venue v = venue::unknown;
      std::string route;
      if (!binance_parse_path(path, query_of(wsi), v, route, streams, combined)) {
        (void)admit_connection(wsi, venue::binance);  // an attempt all the same
        return 1;
      }
      return admit_connection(wsi, v) ? 0 : 1;
    }

    case LWS_CALLBACK_ESTABLISHED: {
      const std::string path = header(wsi, WSI_TOKEN_GET_URI);
      const std::string query = query_of(wsi);
      const std::string full = query.empty() ? path : path + "?" + query;
      if (path == "/ws/v5/public") {
        s->conn = open_connection(wsi, venue::okx, full);
        return 0;
      }
      std::vector<std::uint16_t> streams;
      bool combined = false;
      venue v = venue::unknown;
      std::string route;
      if (!binance_parse_path(path, query, v, route, streams, combined)) return -1;
      s->conn = open_connection(wsi, v, full);
      s->conn->route = route;
      s->conn->combined = combined;
      for (const auto id : streams) subscribe(*s->conn, id);
      return 0;
    }

    case LWS_CALLBACK_RECEIVE: {
      connection* c = s->conn;
      if (c == nullptr) return -1;
      c->rx_message.append(static_cast<const char*>(in), len);
      if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0) return 0;
      const std::string msg = std::move(c->rx_message);
      c->rx_message.clear();
      c->last_rx_us = now_us_;
      if (c->venue_id == venue::binance || c->venue_id == venue::binance_usdm) {
        // Binance: 5 incoming messages per second (pings, pongs, control; USD-M: 10); more → disconnect.
        const int max_in = (c->venue_id == venue::binance ? cfg_.binance : cfg_.usdm).max_incoming_per_s;
        if (now_us_ - c->rx_window_us >= 1'000'000) {
          c->rx_window_us = now_us_;
          c->rx_in_window = 0;
        }
        if (max_in > 0 && ++c->rx_in_window > max_in) {
          c->request_close(1008, "Too many requests", false);
          mark_dirty(*c);
        } else {
          binance_message(*c, msg);
        }
      } else {
        okx_message(*c, msg);
      }
      flush_dirty();
      return 0;
    }

    case LWS_CALLBACK_RECEIVE_PONG: {
      connection* c = s->conn;
      if (c == nullptr) return 0;
      c->last_rx_us = now_us_;
      // An unsolicited pong does not count: it must echo the ping's payload.
      if (std::string_view(static_cast<const char*>(in), len) == c->ping_payload) c->ping_outstanding_us = 0;
      return 0;
    }

    case LWS_CALLBACK_SERVER_WRITEABLE:
      if (s->conn == nullptr) return 0;
      return write_connection(wsi, *s->conn);

    case LWS_CALLBACK_CLOSED:
      if (s->conn != nullptr) close_connection(*s->conn);
      s->conn = nullptr;
      free_http(s);
      return 0;

    case LWS_CALLBACK_HTTP: {
      if (now_us_ < refuse_until_us_) return -1;
      venue_http(wsi, s, std::string(static_cast<const char*>(in), len));
      return 0;
    }

    case LWS_CALLBACK_HTTP_WRITEABLE: {
      if (s == nullptr || s->reply == nullptr) return 0;
      std::string buf(LWS_PRE, '\0');
      buf.append(*s->reply);
      delete s->reply;
      s->reply = nullptr;
      if (lws_write(wsi, reinterpret_cast<unsigned char*>(buf.data() + LWS_PRE), buf.size() - LWS_PRE,
                    LWS_WRITE_HTTP_FINAL) < 0)
        return -1;
      return lws_http_transaction_completed(wsi) != 0 ? -1 : 0;
    }

    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
      free_http(s);
      return 0;

    default:
      break;
  }
  return lws_callback_http_dummy(wsi, reason, s, in, len);
}

}  // namespace mdbus::exsim
