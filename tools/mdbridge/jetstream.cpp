#include "tools/mdbridge/jetstream.hpp"

#include "bus/clock.hpp"

#include <cstdio>
#include <ctime>
#include <vector>

namespace mdbus::bridge {

namespace {

// Process-wide, not per link: cnats may run these callbacks after the connection they belong
// to was destroyed (they are dispatched from its own thread), so nothing they touch may be
// freed with a nats_link.
/// Set when this process closes a link: a "disconnected" after it (even from another thread,
/// later) is our own doing. A process closes its links when it ends.
std::atomic<bool> g_closing{false};
std::atomic<std::uint64_t> g_reconnects{0};

void on_disconnected(natsConnection*, void*) {
  if (!g_closing.load(std::memory_order_acquire)) std::fprintf(stderr, "mdbridge: NATS disconnected; reconnecting\n");
}

void on_reconnected(natsConnection* nc, void*) {
  g_reconnects.fetch_add(1, std::memory_order_release);
  char url[256] = "?";
  (void)natsConnection_GetConnectedUrl(nc, url, sizeof url);
  std::fprintf(stderr, "mdbridge: NATS reconnected to %s\n", url);
}

void on_async_error(natsConnection*, natsSubscription*, natsStatus err, void*) {
  std::fprintf(stderr, "mdbridge: NATS asynchronous error: %s\n", natsStatus_GetText(err));
}

void nap_ms(int ms) {
  timespec ts{ms / 1000, static_cast<long>(ms % 1000) * 1'000'000L};
  nanosleep(&ts, nullptr);
}

}  // namespace

std::string subjects_of(const config::bridge_settings& b) { return b.subject_prefix + ".>"; }

void check(natsStatus s, const std::string& what) {
  if (s == NATS_OK) return;
  std::string msg = what + ": " + natsStatus_GetText(s);
  natsStatus last = NATS_OK;
  const char* text = nats_GetLastError(&last);
  if (text != nullptr && *text != '\0') msg += std::string(" (") + text + ")";
  throw nats_error(msg);
}

std::uint64_t reconnections() noexcept { return g_reconnects.load(std::memory_order_acquire); }

nats_link::nats_link(const config::bridge_settings& b, const std::string& name, int connect_wait_ms, jsPubAckHandler ack,
                     void* ack_closure) {
  check(natsOptions_Create(&opts_), "NATS options");
  std::vector<const char*> urls;
  for (const auto& s : b.servers) urls.push_back(s.c_str());
  check(natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size())), "NATS servers");
  check(natsOptions_SetName(opts_, name.c_str()), "NATS name");
  // The servers in the order listed: the first that answers is used, so two publishing bridges
  // can be spread over a cluster's nodes by their configs (cnats shuffles them by default).
  check(natsOptions_SetNoRandomize(opts_, true), "NATS server order");
  check(natsOptions_SetMaxReconnect(opts_, -1), "NATS reconnects");  // for ever: a cluster node comes back
  check(natsOptions_SetReconnectWait(opts_, 100), "NATS reconnect wait");
  check(natsOptions_SetReconnectBufSize(opts_, 64 << 20), "NATS reconnect buffer");
  check(natsOptions_SetDisconnectedCB(opts_, on_disconnected, nullptr), "NATS callbacks");
  check(natsOptions_SetReconnectedCB(opts_, on_reconnected, nullptr), "NATS callbacks");
  check(natsOptions_SetErrorHandler(opts_, on_async_error, nullptr), "NATS callbacks");
  check(natsOptions_SetMaxPendingMsgs(opts_, 1 << 20), "NATS pending limit");
  const std::int64_t until = mono_ns() + std::int64_t{connect_wait_ms} * 1'000'000;
  for (;;) {
    const natsStatus s = natsConnection_Connect(&nc_, opts_);
    if (s == NATS_OK) break;
    if (mono_ns() >= until) {
      natsOptions_Destroy(opts_);
      opts_ = nullptr;
      check(s, "NATS connect to " + b.servers.front() + (b.servers.size() > 1 ? " (and the other servers)" : ""));
    }
    nap_ms(100);
  }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = b.max_in_flight;
  jo.PublishAsync.AckHandler = ack;
  jo.PublishAsync.AckHandlerClosure = ack_closure;
  jo.PublishAsync.StallWait = 50;
  jo.Wait = 5000;
  const natsStatus s = natsConnection_JetStream(&js_, nc_, &jo);
  if (s != NATS_OK) {
    natsConnection_Destroy(nc_);
    natsOptions_Destroy(opts_);
    nc_ = nullptr;
    opts_ = nullptr;
    check(s, "JetStream context");
  }
}

nats_link::~nats_link() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
  if (nc_ != nullptr) {
    g_closing.store(true, std::memory_order_release);
    natsConnection_Close(nc_);
    natsConnection_Destroy(nc_);
  }
  if (opts_ != nullptr) natsOptions_Destroy(opts_);
}

std::string ensure_stream(jsCtx* js, const config::bridge_settings& b, int wait_ms) {
  const std::string subjects = subjects_of(b);
  const std::int64_t until = mono_ns() + std::int64_t{wait_ms} * 1'000'000;
  for (;;) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js, b.stream.c_str(), nullptr, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      jsStreamConfig sc;
      jsStreamConfig_Init(&sc);
      sc.Name = b.stream.c_str();
      const char* subj[] = {subjects.c_str()};
      sc.Subjects = subj;
      sc.SubjectsLen = 1;
      sc.Storage = b.file_storage ? js_FileStorage : js_MemoryStorage;
      sc.Replicas = b.replicas;
      sc.MaxAge = b.max_age_ms * 1'000'000;
      sc.MaxBytes = b.max_bytes;
      sc.Duplicates = b.duplicate_window_ms * 1'000'000;
      jerr = static_cast<jsErrCode>(0);
      s = js_AddStream(&si, js, &sc, nullptr, &jerr);
      if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        std::fprintf(stderr, "mdbridge: created stream %s (%s, %lld replicas, %s)\n", b.stream.c_str(), subjects.c_str(),
                     static_cast<long long>(b.replicas), b.file_storage ? "file" : "memory");
        continue;  // checked (and its leader awaited) on the next round
      }
      if (jerr == JSStreamNameExistErr) continue;  // another bridge created it first: check it
    }
    if (s == NATS_OK) {
      const jsStreamConfig& c = *si->Config;
      std::string diff;
      auto differs = [&](const char* field, long long have, long long want) {
        if (have != want)
          diff += std::string(diff.empty() ? "" : "; ") + field + " is " + std::to_string(have) + ", the config says " +
                  std::to_string(want);
      };
      const bool one_subject = c.SubjectsLen == 1 && subjects == c.Subjects[0];
      if (!one_subject) diff += "subjects differ (the config says " + subjects + ")";
      differs("replicas", c.Replicas, b.replicas);
      if ((c.Storage == js_FileStorage) != b.file_storage)
        diff += std::string(diff.empty() ? "" : "; ") + "storage is " + (c.Storage == js_FileStorage ? "file" : "memory") +
                ", the config says " + (b.file_storage ? "file" : "memory");
      differs("max_age_ms", c.MaxAge / 1'000'000, b.max_age_ms);
      differs("max_bytes", c.MaxBytes, b.max_bytes);
      differs("duplicate_window_ms", c.Duplicates / 1'000'000, b.duplicate_window_ms);
      const bool led = si->Cluster == nullptr || (si->Cluster->Leader != nullptr && *si->Cluster->Leader != '\0');
      jsStreamInfo_Destroy(si);
      if (!diff.empty()) return "stream " + b.stream + " exists but " + diff;
      if (led) return {};
      if (mono_ns() >= until) return "stream " + b.stream + " has no leader after " + std::to_string(wait_ms) + " ms";
      nap_ms(100);
      continue;
    }
    // No JetStream leader yet (starting cluster, a node just lost), or a timeout: try again.
    if (mono_ns() >= until)
      check(s, "JetStream stream " + b.stream + (jerr != 0 ? " (error code " + std::to_string(jerr) + ")" : ""));
    nap_ms(200);
  }
}

}  // namespace mdbus::bridge
