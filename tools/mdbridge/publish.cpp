#include "tools/mdbridge/publish.hpp"

#include "bus/clock.hpp"
#include "bus/stop_signal.hpp"
#include "mdbus/consumer.hpp"
#include "tools/mdbridge/bridge_keys.hpp"
#include "tools/mdbridge/jetstream.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

namespace mdbus::bridge {

namespace {

/// What the ack callback (a cnats thread) shares with the publishing loop.
struct ack_state {
  std::atomic<std::uint64_t> done{0};  ///< publishes settled: acked, failed (to be resent) or taken back
  std::atomic<std::uint64_t> acked{0}, duplicates{0}, failed{0};
  std::atomic<std::int64_t> last_ack_ns{0};
  std::mutex m;
  std::vector<natsMsg*> resend;  ///< failed publishes, ours to send again (in the order they failed)
  /// Ring → ack latency of the last kLatencySamples acks (µs; the record's publish time, the
  /// merger's wall clock, to the ack's arrival): written by the callback thread only.
  static constexpr std::size_t kLatencySamples = std::size_t{1} << 20;
  std::unique_ptr<std::int32_t[]> latency_us = std::make_unique<std::int32_t[]>(kLatencySamples);
  std::atomic<std::uint64_t> latency_n{0};
};

/// The record's publish time (its header's publish_time_ns: the merger's wall clock, which
/// grows in ring order) carried by a message; 0 when it carries no record header.
std::int64_t publish_time_of(natsMsg* m) {
  std::int64_t t = 0;
  if (natsMsg_GetDataLength(m) >= static_cast<int>(sizeof(record_header)))
    std::memcpy(&t, natsMsg_GetData(m) + offsetof(record_header, publish_time_ns), sizeof t);
  return t;
}

/// The record's publish time to now, in µs; -1 when unknown.
std::int32_t ack_latency_us(natsMsg* msg) {
  const std::int64_t published = publish_time_of(msg);
  if (published <= 0) return -1;
  const std::int64_t us = (wall_ns() - published) / 1000;
  return us < 0 ? 0 : static_cast<std::int32_t>(std::min<std::int64_t>(us, INT32_MAX));
}

void on_ack(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  auto& s = *static_cast<ack_state*>(closure);
  s.last_ack_ns.store(mono_ns(), std::memory_order_relaxed);
  if (pa != nullptr) {
    s.acked.fetch_add(1, std::memory_order_relaxed);
    if (pa->Duplicate) s.duplicates.fetch_add(1, std::memory_order_relaxed);
    if (const std::int32_t us = ack_latency_us(msg); us >= 0) {
      const std::uint64_t n = s.latency_n.load(std::memory_order_relaxed);
      s.latency_us[n & (ack_state::kLatencySamples - 1)] = us;
      s.latency_n.store(n + 1, std::memory_order_release);
    }
    natsMsg_Destroy(msg);
  } else {
    (void)pae;
    s.failed.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lock(s.m);
    s.resend.push_back(msg);  // the message is ours now (cnats: the handler's caller destroys nothing)
  }
  s.done.fetch_add(1, std::memory_order_release);
}

ack_state& process_acks() {
  static ack_state s;
  return s;
}

void nap_us(long us) {
  timespec ts{0, us * 1000L};
  nanosleep(&ts, nullptr);
}

/// Publishes records; after a failure it recovers in order before it takes a new record.
///
/// Order matters to consumers (a book delta out of sequence costs a book), and JetStream
/// stores what arrives. So when a publish fails (no stream leader for a moment), or waits too
/// long for its ack, or the connection was lost with publishes unacknowledged, the bridge
/// stops taking new records from the ring; waits for what is in flight to settle; sends the
/// failed and unacknowledged ones again with their ids (JetStream drops those it stored), in
/// ring order (the merger's publish stamp), again until they are all acknowledged; and only
/// then goes on. Records published after a failed one but before it was reported may still
/// be stored first (see README, "Limits").
class publisher {
 public:
  publisher(const config::bus_config& cfg, const publish_options& o)
      : b_(cfg.bridge), link_(std::make_unique<nats_link>(b_, "mdbridge publish " + cfg.bus, o.wait_ms, on_ack, &acks_)) {
    const std::string why = ensure_stream(link_->js(), b_, o.wait_ms);
    if (!why.empty()) throw nats_error(why);
  }

  /// Publish one record; keeps the bookkeeping going until it is taken or a stop is asked for.
  void publish(const record_view& r) {
    subject_for(b_.subject_prefix, r.header(), subject_);
    msg_id_for(r, id_);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = id_.c_str();
    const auto bytes = r.bytes();
    bool said = false;
    for (;;) {
      if (recovering_) {  // a stall's service() found a failure: this record waits for the older ones
        service();
        if (stop_requested != 0) return;
        nap_us(1'000);
        continue;
      }
      const natsStatus s = js_PublishAsync(link_->js(), subject_.c_str(), bytes.data(), static_cast<int>(bytes.size()), &po);
      if (s == NATS_OK) {
        ++sent_;
        ++totals_.published;
        return;
      }
      // NATS_TIMEOUT: max_in_flight publishes wait for acks (StallWait passed). Anything else:
      // the connection is closed or its buffer is full while it reconnects.
      if (s != NATS_TIMEOUT && !said) {
        std::fprintf(stderr, "mdbridge publish: a publish failed (%s); retrying\n", natsStatus_GetText(s));
        said = true;
      }
      service();
      if (stop_requested != 0) return;
      if (s != NATS_TIMEOUT) nap_us(10'000);
    }
  }

  ~publisher() {
    link_.reset();  // no ack callback from here on
    std::lock_guard lock(acks_.m);  // what a timed-out drain left to send again is dropped with the process
    for (natsMsg* m : acks_.resend) natsMsg_Destroy(m);
    acks_.resend.clear();
  }
  publisher(const publisher&) = delete;
  publisher& operator=(const publisher&) = delete;

  /// Whether new records must wait: a failure is being recovered from.
  [[nodiscard]] bool recovering() const noexcept { return recovering_; }

  /// The bookkeeping: failures, lost connections and ack timeouts start a recovery; a
  /// recovery sends again, in order, until everything is acknowledged. Cheap when all is well.
  void service() {
    const std::int64_t now = mono_ns();
    const std::uint64_t reconnects = reconnections();
    if (reconnects != seen_reconnects_) {
      // Publishes sent on the lost connection get no ack: take them back now, not after the timeout.
      seen_reconnects_ = reconnects;
      take_back("the connection to NATS was lost");
    } else if (in_flight() != 0 && now - acks_.last_ack_ns.load(std::memory_order_relaxed) >= b_.ack_timeout_ms * 1'000'000) {
      take_back("no ack for " + std::to_string(b_.ack_timeout_ms) + " ms");
    }
    if (acks_.failed.load(std::memory_order_relaxed) != seen_failed_) {
      seen_failed_ = acks_.failed.load(std::memory_order_relaxed);
      if (!recovering_) start_recovery("a publish failed");
      resend_after_ns_ = now + 50'000'000;  // no leader for a moment: do not spin on it
    }
    if (in_flight() == 0) acks_.last_ack_ns.store(now, std::memory_order_relaxed);
    if (!recovering_) return;
    // Resend only once nothing else is in flight, so what goes again goes in order.
    if (in_flight() != 0 || now < resend_after_ns_) return;
    std::vector<natsMsg*> again;
    {
      std::lock_guard lock(acks_.m);
      again.swap(acks_.resend);
    }
    if (again.empty()) {
      recovering_ = false;
      std::fprintf(stderr, "mdbridge publish: recovered (%llu records sent again so far); going on\n",
                   static_cast<unsigned long long>(totals_.resent));
      return;
    }
    std::stable_sort(again.begin(), again.end(), [](natsMsg* x, natsMsg* y) { return publish_time_of(x) < publish_time_of(y); });
    for (std::size_t i = 0; i < again.size(); ++i) {
      natsMsg* m = again[i];
      if (js_PublishMsgAsync(link_->js(), &m, nullptr) == NATS_OK) {
        ++sent_;
        ++totals_.resent;
        continue;
      }
      // Not taken (the connection is down, or in-flight is full): the rest wait for the next round.
      std::lock_guard lock(acks_.m);
      acks_.resend.insert(acks_.resend.begin(), again.begin() + static_cast<std::ptrdiff_t>(i), again.end());
      resend_after_ns_ = now + 10'000'000;
      break;
    }
  }

  /// At the end: until every publish is acknowledged, or `wait_ms` passes.
  void drain(int wait_ms) {
    const std::int64_t until = mono_ns() + std::int64_t{wait_ms} * 1'000'000;
    while (in_flight() != 0 || recovering_) {
      if (mono_ns() >= until || stop_requested != 0) {
        std::fprintf(stderr, "mdbridge publish: stopped with %llu publishes unacknowledged\n",
                     static_cast<unsigned long long>(in_flight() + resend_count()));
        return;
      }
      service();
      nap_us(1'000);
    }
  }

  [[nodiscard]] std::uint64_t in_flight() const noexcept { return sent_ - acks_.done.load(std::memory_order_acquire); }
  /// Percentile `q` (0..1) of the ring → ack latency samples (µs), -1 with none. Call when no
  /// ack is arriving (after drain).
  [[nodiscard]] std::int64_t ack_latency_percentile(double q) const {
    const std::uint64_t n = std::min<std::uint64_t>(acks_.latency_n.load(std::memory_order_acquire), ack_state::kLatencySamples);
    if (n == 0) return -1;
    std::vector<std::int32_t> v(acks_.latency_us.get(), acks_.latency_us.get() + n);
    const auto k = static_cast<std::size_t>(q * static_cast<double>(n - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
  }
  publish_totals& totals() noexcept {
    totals_.acked = acks_.acked.load();
    totals_.duplicates = acks_.duplicates.load();
    return totals_;
  }

 private:
  void start_recovery(const std::string& why) {
    recovering_ = true;
    ++totals_.recoveries;
    std::fprintf(stderr, "mdbridge publish: %s; holding new records until what was sent is stored, in order\n", why.c_str());
  }

  /// Takes the unacknowledged publishes back from cnats (no ack will be reported for them) to
  /// send them again.
  void take_back(const std::string& why) {
    natsMsgList pending{};
    if (js_PublishAsyncGetPendingList(&pending, link_->js()) != NATS_OK) return;  // NATS_NOT_FOUND: none pending
    {
      std::lock_guard lock(acks_.m);
      for (int i = 0; i < pending.Count; ++i) {
        acks_.resend.push_back(pending.Msgs[i]);
        pending.Msgs[i] = nullptr;  // ours now, not the list's
      }
    }
    acks_.done.fetch_add(static_cast<std::uint64_t>(pending.Count), std::memory_order_release);
    if (!recovering_) start_recovery(why + " with " + std::to_string(pending.Count) + " publishes unacknowledged");
    natsMsgList_Destroy(&pending);
    acks_.last_ack_ns.store(mono_ns(), std::memory_order_relaxed);
  }

  std::size_t resend_count() {
    std::lock_guard lock(acks_.m);
    return acks_.resend.size();
  }

  const config::bridge_settings& b_;
  /// Lives as long as the process (cnats may call on_ack after the connection is gone); one
  /// publisher per process.
  ack_state& acks_ = process_acks();
  std::unique_ptr<nats_link> link_;
  std::string subject_, id_;
  std::uint64_t sent_ = 0;
  std::uint64_t seen_reconnects_ = 0, seen_failed_ = 0;
  bool recovering_ = false;
  std::int64_t resend_after_ns_ = 0;
  publish_totals totals_;
};

}  // namespace

int run_publish(const config::bus_config& cfg, const publish_options& o) {
  consumer_options co;
  co.bus = cfg.bus;
  co.object = o.ring;
  co.start = o.oldest ? start_position::oldest : start_position::newest;
  co.on_lap = lap_policy::resume_oldest;
  co.open_wait_ms = o.wait_ms;
  co.reader_name = "mdbridge";
  consumer c;
  try {
    c = consumer::open(co);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdbridge publish: %s\n", e.what());
    return 3;
  }
  std::unique_ptr<publisher> p;
  try {
    p = std::make_unique<publisher>(cfg, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdbridge publish: %s\n", e.what());
    return 5;
  }
  std::fprintf(stderr, "mdbridge publish: following %s into stream %s (subjects %s.>)\n", c.segment().name().c_str(),
               cfg.bridge.stream.c_str(), cfg.bridge.subject_prefix.c_str());
  auto& t = p->totals();
  const std::int64_t end = o.duration_s > 0 ? mono_ns() + static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
  std::int64_t next_service = 0;
  while (stop_requested == 0 && (end == 0 || mono_ns() < end)) {
    if (p->recovering()) {  // nothing new until what was sent is stored, in order
      p->service();
      nap_us(1'000);
      continue;
    }
    const poll_result r = c.wait(20'000'000);
    switch (r.status) {
      case poll_status::record:
        ++t.read;
        if (!carried(r.record)) {
          ++t.skipped;
          break;
        }
        p->publish(r.record);
        break;
      case poll_status::lapped:
        ++t.laps;
        t.missed += r.missed_frames;
        std::fprintf(stderr, "mdbridge publish: fell a ring behind: %llu records lost to this bridge (lap %llu)\n",
                     static_cast<unsigned long long>(r.missed_frames), static_cast<unsigned long long>(t.laps));
        break;
      case poll_status::bad_record:
        ++t.bad;
        std::fprintf(stderr, "mdbridge publish: ring frame %llu is not a record (%s); not published\n",
                     static_cast<unsigned long long>(r.seq), std::string(to_string(r.error)).c_str());
        break;
      case poll_status::corrupt:
        std::fprintf(stderr, "mdbridge publish: the ring is corrupt; re-attaching at its newest record\n");
        break;
      case poll_status::empty:
        break;
    }
    const std::int64_t now = mono_ns();
    if (r.status != poll_status::record || now >= next_service) {
      p->service();
      next_service = now + 1'000'000;
    }
  }
  stop_requested = 0;  // a second signal stops the drain
  p->drain(5'000);
  const auto& f = p->totals();
  std::fprintf(stderr,
               "mdbridge publish: read %llu, published %llu (acked %llu, %llu of them duplicates JetStream already had), "
               "resent %llu in %llu recoveries, slot markers skipped %llu, laps %llu (%llu records missed), not records %llu; "
               "ring -> ack p50 %lld us, p99 %lld us\n",
               static_cast<unsigned long long>(f.read), static_cast<unsigned long long>(f.published),
               static_cast<unsigned long long>(f.acked), static_cast<unsigned long long>(f.duplicates),
               static_cast<unsigned long long>(f.resent), static_cast<unsigned long long>(f.recoveries),
               static_cast<unsigned long long>(f.skipped),
               static_cast<unsigned long long>(f.laps), static_cast<unsigned long long>(f.missed),
               static_cast<unsigned long long>(f.bad), static_cast<long long>(p->ack_latency_percentile(0.5)),
               static_cast<long long>(p->ack_latency_percentile(0.99)));
  return 0;
}

}  // namespace mdbus::bridge
