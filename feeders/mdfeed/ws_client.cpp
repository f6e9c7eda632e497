#include "feeders/mdfeed/ws_client.hpp"

#include "feeders/mdfeed/rest_client.hpp"

#include "bus/clock.hpp"

#include <libwebsockets.h>
#include <openssl/ssl.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace mdbus::feed {

struct ws_client::tick_timer {
  lws_sorted_usec_list_t sul;  // first member: the timer callback casts back to tick_timer
  ws_client* self = nullptr;
};

void tick_callback(lws_sorted_usec_list* sul) noexcept {
  auto* t = reinterpret_cast<ws_client::tick_timer*>(sul);  // sul is tick_timer's first member
  t->self->on_tick_timer();
}

namespace {

constexpr const char* kProtocolName = "mdfeed";
/// lws hands the protocol callback at most this many payload bytes per RECEIVE: large
/// enough that a typical venue message arrives in one piece.
constexpr std::size_t kRxChunk = 64 * 1024;

int protocol_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  (void)user;
  if (wsi == nullptr) return 0;
  auto* self = static_cast<ws_client*>(lws_context_user(lws_get_context(wsi)));
  if (self == nullptr) return 0;
  return self->handle(wsi, static_cast<int>(reason), in, len);
}

// The REST snapshot requests (rest_client.hpp) share the context: their own protocol, so
// their callbacks never reach the WebSocket's handler.
int rest_callback(lws* wsi, lws_callback_reasons reason, void* user, void* in, std::size_t len) {
  return rest_protocol_callback(wsi, static_cast<int>(reason), user, in, len);
}

// lws's log lines (TLS failures, DNS errors) go to stderr with our prefix; errors only.
void lws_log(int level, const char* line) {
  (void)level;
  const char prefix[] = "mdfeed: libwebsockets: ";
  ssize_t w = ::write(STDERR_FILENO, prefix, sizeof prefix - 1);
  w = ::write(STDERR_FILENO, line, std::strlen(line));
  (void)w;
}

}  // namespace

ws_client::ws_client(ws_events& events, const ws_client_options& options)
    : events_(events), options_(options), tick_(std::make_unique<tick_timer>()) {
  if (options_.tls && options_.ca_file.empty()) throw std::runtime_error("tls needs a CA file");
  lws_set_log_level(LLL_ERR, lws_log);

  static const lws_protocols protocols[] = {
      {kProtocolName, &protocol_callback, 0, kRxChunk, 0, nullptr, 0},
      {kRestProtocolName, &rest_callback, 0, 0, 0, nullptr, 0},
      {nullptr, nullptr, 0, 0, 0, nullptr, 0},
  };
  lws_context_creation_info info{};
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = protocols;
  info.user = this;
  info.gid = -1;
  info.uid = -1;
  // Without a limit lws sizes its fd table from RLIMIT_NOFILE (often 1 M entries): one
  // connection needs a handful. Keeps the feeder's footprint small.
  info.fd_limit_per_thread = 16;
  info.pt_serv_buf_size = kRxChunk;
  if (options_.tls) {
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.client_ssl_ca_filepath = options_.ca_file.c_str();
  }
  context_ = lws_create_context(&info);
  if (context_ == nullptr)
    throw std::runtime_error(options_.tls ? "cannot create the libwebsockets context (is " + options_.ca_file + " a readable CA file?)"
                                          : std::string("cannot create the libwebsockets context"));

  // Allocated once: the whole message plus simdjson's padding, so parse() can read past
  // the end without a copy. Touched now so the pages are resident before the hot path.
  rx_capacity_ = options_.max_message_bytes;
  rx_ = std::make_unique<char[]>(rx_capacity_ + simdjson::SIMDJSON_PADDING);
  std::memset(rx_.get(), 0, rx_capacity_ + simdjson::SIMDJSON_PADDING);
  outbox_.reserve(64);
  send_buffer_.resize(LWS_PRE + 4096);

  tick_->self = this;
  lws_sul_schedule(context_, 0, &tick_->sul, tick_callback, options_.tick_us);
}

ws_client::~ws_client() {
  lws_sul_cancel(&tick_->sul);
  if (context_ != nullptr) lws_context_destroy(context_);
}

void ws_client::on_tick_timer() noexcept {
  lws_sul_schedule(context_, 0, &tick_->sul, tick_callback, options_.tick_us);
  events_.on_tick();
}

bool ws_client::connect(const ws_target& target) {
  target_ = target;
  ++attempt_id_;
  attempt_open_ = true;
  established_ = false;
  by_us_ = false;
  close_requested_ = false;
  peer_close_code_ = 0;
  close_text_len_ = 0;
  outbox_.clear();
  outbox_head_ = 0;
  rx_len_ = 0;
  rx_total_ = 0;
  rx_in_message_ = false;

  lws_client_connect_info i{};
  i.context = context_;
  i.address = target_.host.c_str();
  i.port = target_.port;
  i.path = target_.path.c_str();
  i.host = target_.server_name.c_str();  // Host header, SNI and the certificate name checked
  i.origin = target_.server_name.c_str();
  // Verification stays on: no LCCSCF_ALLOW_SELFSIGNED / _INSECURE / _SKIP_..._HOSTNAME_CHECK.
  i.ssl_connection = options_.tls ? LCCSCF_USE_SSL : 0;
  i.protocol = nullptr;
  i.local_protocol_name = kProtocolName;
  i.userdata = this;
  i.opaque_user_data = reinterpret_cast<void*>(attempt_id_);
  i.pwsi = &wsi_;
  if (lws_client_connect_via_info(&i) == nullptr && attempt_open_) {
    static constexpr char kText[] = "connect failed at once";
    finish_attempt(kText, sizeof kText - 1, 0);
    return false;
  }
  return attempt_open_ || established_;
}

void ws_client::send_text(std::string text) {
  if (LWS_PRE + text.size() > send_buffer_.size()) send_buffer_.resize(LWS_PRE + text.size());
  outbox_.push_back({std::move(text), false});
  if (established_ && wsi_ != nullptr) lws_callback_on_writable(wsi_);
}

void ws_client::send_ping() {
  outbox_.push_back({std::string(), true});
  if (established_ && wsi_ != nullptr) lws_callback_on_writable(wsi_);
}

void ws_client::close(std::string_view reason) {
  if (!attempt_open_) return;
  by_us_ = true;
  if (!established_) {  // nothing to say goodbye on: just drop the attempt
    abort();
    return;
  }
  close_requested_ = true;
  const std::size_t n = std::min(reason.size(), sizeof close_text_ - 1);
  std::memcpy(close_text_, reason.data(), n);
  close_text_len_ = n;
  if (wsi_ != nullptr) lws_callback_on_writable(wsi_);
}

void ws_client::abort() {
  if (!attempt_open_) return;
  by_us_ = true;
  // Closed at the next service round, without a close frame; CLIENT_CLOSED or
  // CONNECTION_ERROR then ends the attempt.
  if (wsi_ != nullptr) lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

void ws_client::service() { lws_service(context_, 0); }

void ws_client::wake() noexcept {
  if (context_ != nullptr) lws_cancel_service(context_);
}

bool ws_client::current(lws* wsi) const noexcept {
  return attempt_open_ && reinterpret_cast<std::uintptr_t>(lws_get_opaque_user_data(wsi)) == attempt_id_;
}

void ws_client::finish_attempt(const char* text, std::size_t len, int code) {
  if (!attempt_open_) return;
  close_info ci;
  ci.established = established_;
  ci.by_us = by_us_;
  ci.code = code;
  ci.text = std::string_view(text != nullptr ? text : "", text != nullptr ? len : 0);
  attempt_open_ = false;
  established_ = false;
  wsi_ = nullptr;
  events_.on_closed(ci);
}

int ws_client::handle(lws* wsi, int reason, void* in, std::size_t len) {
  switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      if (!current(wsi)) return -1;  // a connection we no longer want
      established_ = true;
      wsi_ = wsi;
      // OpenSSL frees a connection's read buffer whenever it runs empty if
      // SSL_MODE_RELEASE_BUFFERS is set, and allocates it again on the next record: one
      // malloc per burst on the hot path. Keep the buffers for the connection's life.
      if (options_.tls)
        if (SSL* ssl = lws_get_ssl(wsi)) SSL_clear_mode(ssl, SSL_MODE_RELEASE_BUFFERS);
      events_.on_established();
      if (outbox_head_ < outbox_.size() || close_requested_) lws_callback_on_writable(wsi);
      return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (current(wsi)) receive(wsi, in, len);
      return 0;

    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
      if (current(wsi)) events_.on_pong();
      return 0;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (!current(wsi)) return 0;
      return on_writeable(wsi);

    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
      if (current(wsi) && len >= 2) {
        const auto* p = static_cast<const unsigned char*>(in);
        peer_close_code_ = (p[0] << 8) | p[1];
        const std::size_t n = std::min(len - 2, sizeof close_text_ - 1);
        std::memcpy(close_text_, p + 2, n);
        close_text_len_ = n;
      }
      return 0;  // lws answers the close

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      if (current(wsi)) {
        const char* text = in != nullptr ? static_cast<const char*>(in) : "connection error";
        const std::size_t n = in != nullptr ? strnlen(text, len > 0 ? len : 256) : std::strlen(text);
        long verify = X509_V_OK;
        if (options_.tls)
          if (SSL* ssl = lws_get_ssl(wsi)) verify = SSL_get_verify_result(ssl);
        // lws's text for a failed verification is OpenSSL's generic "error:00000001": name
        // the certificate problem itself (unknown CA, wrong host name, expired) first.
        const int m = verify != X509_V_OK
                          ? std::snprintf(close_text_, sizeof close_text_, "certificate verify failed: %s (%.*s)",
                                          X509_verify_cert_error_string(verify), static_cast<int>(n), text)
                          : std::snprintf(close_text_, sizeof close_text_, "%.*s", static_cast<int>(n), text);
        close_text_len_ = m < 0 ? 0 : std::min(static_cast<std::size_t>(m), sizeof close_text_ - 1);
        finish_attempt(close_text_, close_text_len_, 0);
      }
      return 0;

    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:  // fallback: an attempt torn down without either report
      if (current(wsi)) {
        if (close_text_len_ == 0 && peer_close_code_ == 0 && !by_us_) {
          static constexpr char kText[] = "connection lost (no close frame)";
          std::memcpy(close_text_, kText, sizeof kText - 1);
          close_text_len_ = sizeof kText - 1;
        }
        finish_attempt(close_text_, close_text_len_, peer_close_code_);
      }
      return 0;

    default:
      return 0;
  }
}

int ws_client::on_writeable(lws* wsi) {
  if (outbox_head_ < outbox_.size()) {
    outgoing& o = outbox_[outbox_head_++];
    unsigned char* p = send_buffer_.data() + LWS_PRE;
    std::memcpy(p, o.text.data(), o.text.size());
    const auto mode = o.ping ? LWS_WRITE_PING : LWS_WRITE_TEXT;
    if (lws_write(wsi, p, o.text.size(), mode) < static_cast<int>(o.text.size())) return -1;
    if (outbox_head_ == outbox_.size()) {
      outbox_.clear();  // keeps its capacity: no allocation for the next keepalive
      outbox_head_ = 0;
    }
    if (outbox_head_ < outbox_.size() || close_requested_) lws_callback_on_writable(wsi);
    return 0;
  }
  if (close_requested_) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, reinterpret_cast<unsigned char*>(close_text_), close_text_len_);
    return -1;  // lws sends the close frame and waits (bounded) for the peer's
  }
  return 0;
}

void ws_client::receive(lws* wsi, const void* in, std::size_t len) {
  if (!rx_in_message_) {
    rx_in_message_ = true;
    rx_first_ns_ = wall_ns();
    rx_binary_ = lws_frame_is_binary(wsi) != 0;
    rx_len_ = 0;
    rx_total_ = 0;
  }
  rx_total_ += len;
  if (rx_total_ <= rx_capacity_) {
    std::memcpy(rx_.get() + rx_len_, in, len);
    rx_len_ += len;
  }
  if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0) return;
  rx_in_message_ = false;
  if (rx_total_ > rx_capacity_) {
    events_.on_oversize(rx_total_);
    return;
  }
  // simdjson reads up to SIMDJSON_PADDING bytes past the end; they must not look like JSON
  // left over from a longer earlier message (it never reads them as content, but zeroing
  // the padding keeps the bytes defined for sanitizers and fuzzers alike).
  std::memset(rx_.get() + rx_len_, 0, simdjson::SIMDJSON_PADDING);
  events_.on_message(simdjson::padded_string_view(rx_.get(), rx_len_, rx_len_ + simdjson::SIMDJSON_PADDING),
                     rx_binary_, rx_first_ns_);
}

}  // namespace mdbus::feed
