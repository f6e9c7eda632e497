#include "tools/mdbridge/subscribe.hpp"

#include "mdbus/broadcast_ring.hpp"
#include "bus/clock.hpp"
#include "bus/runtime_dir.hpp"
#include "bus/stop_signal.hpp"
#include "tools/mdbridge/inflow.hpp"
#include "tools/mdbridge/jetstream.hpp"
#include "tools/mdbridge/resume_state.hpp"

#include <cstdio>
#include <ctime>
#include <memory>

namespace mdbus::bridge {

namespace {

/// The JetStream subscription: an ordered consumer (cnats re-creates it from the last stream
/// sequence it delivered when a node fails, and checks the consumer sequence for it), from
/// `start` (0: per `from_new`, all or new).
class stream_follower {
 public:
  stream_follower(const nats_link& link, const config::bridge_settings& b, std::uint64_t start, bool from_new, int wait_ms) {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = b.stream.c_str();
    so.Ordered = true;
    // The server sends an idle heartbeat this often; when two are missed (the node holding the
    // consumer died), cnats re-creates the ordered consumer from the last sequence delivered.
    // cnats' default is 5 s: 1 s gets the records flowing again within seconds.
    so.Config.Heartbeat = 1'000'000'000;
    if (start != 0) {
      so.Config.DeliverPolicy = js_DeliverByStartSequence;
      so.Config.OptStartSeq = start;
    } else {
      so.Config.DeliverPolicy = from_new ? js_DeliverNew : js_DeliverAll;
    }
    const std::string subjects = subjects_of(b);
    // Creating the consumer needs the cluster's meta leader: right after a node died it may be
    // electing one (seconds). Try again until wait_ms.
    const std::int64_t until = mono_ns() + std::int64_t{wait_ms} * 1'000'000;
    for (;;) {
      jsErrCode jerr = static_cast<jsErrCode>(0);
      const natsStatus s = js_SubscribeSync(&sub_, link.js(), subjects.c_str(), nullptr, &so, &jerr);
      if (s == NATS_OK) break;
      if (mono_ns() >= until)
        check(s, "JetStream subscription to " + b.stream + (jerr != 0 ? " (error code " + std::to_string(jerr) + ")" : ""));
      std::fprintf(stderr, "mdbridge subscribe: JetStream subscription to %s: %s; trying again\n", b.stream.c_str(), natsStatus_GetText(s));
      timespec ts{0, 200'000'000};
      nanosleep(&ts, nullptr);
    }
    // A consumer of 100 k records/s must not be cut off as slow while the ring write runs.
    (void)natsSubscription_SetPendingLimits(sub_, 1 << 20, 1 << 30);
  }
  ~stream_follower() {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
  }
  stream_follower(const stream_follower&) = delete;
  stream_follower& operator=(const stream_follower&) = delete;
  [[nodiscard]] natsSubscription* get() const noexcept { return sub_; }

 private:
  natsSubscription* sub_ = nullptr;
};

std::string default_state_path(const std::string& bus, const std::string& ring) {
  const std::string dir = parent_dir(default_control_socket(bus));
  if (auto why = ensure_private_dir(dir, true)) throw resume_error(*why);
  return dir + "/" + bus + "." + ring + ".bridge-resume";
}

}  // namespace

int run_subscribe(const config::bus_config& cfg, const subscribe_options& o) {
  const auto& b = cfg.bridge;
  const std::string bus = o.bus.empty() ? cfg.bus : o.bus;
  const std::string ring_name = segment_name(bus, o.ring);
  broadcast_ring_writer w;
  std::unique_ptr<resume_file> resume;
  try {
    w = broadcast_ring_writer::create(ring_name, {cfg.rings.output_bytes, cfg.rings.output_max_frame}, cfg.segment_mode);
    const std::string state = o.state.empty() ? default_state_path(bus, o.ring) : o.state;
    resume = std::make_unique<resume_file>(state, resume_identity(b.stream, b.subject_prefix, ring_name));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdbridge subscribe: %s\n", e.what());
    return 4;
  }
  const resume_point rp = resume->resume(w.next_seq());
  inflow in(rp.last_written, rp.hole_reported);
  std::unique_ptr<nats_link> link;
  std::unique_ptr<stream_follower> sub;
  try {
    link = std::make_unique<nats_link>(b, "mdbridge subscribe " + bus, o.wait_ms);
    if (const std::string why = ensure_stream(link->js(), b, o.wait_ms); !why.empty()) throw nats_error(why);
    sub = std::make_unique<stream_follower>(*link, b, rp.last_written == 0 ? 0 : rp.last_written + 1, o.from_new, o.wait_ms);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mdbridge subscribe: %s\n", e.what());
    return 5;
  }
  std::fprintf(stderr, "mdbridge subscribe: writing stream %s %s into %s\n", b.stream.c_str(),
               rp.last_written == 0 ? (o.from_new ? "from its next record" : "from its first record")
                                    : ("after sequence " + std::to_string(rp.last_written)).c_str(),
               ring_name.c_str());
  const std::int64_t end = o.duration_s > 0 ? mono_ns() + static_cast<std::int64_t>(o.duration_s * 1e9) : 0;
  std::int64_t next_beat = 0;
  std::uint64_t no_meta = 0, refused = 0;
  natsStatus last_error = NATS_OK;
  while (stop_requested == 0 && (end == 0 || mono_ns() < end)) {
    natsMsg* msg = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&msg, sub->get(), 50);
    const std::int64_t now = mono_ns();
    if (now >= next_beat) {
      w.segment().heartbeat(now);
      next_beat = now + 100'000'000;
    }
    if (s != NATS_OK) {
      if (s != NATS_TIMEOUT && s != last_error)
        std::fprintf(stderr, "mdbridge subscribe: %s; still following\n", natsStatus_GetText(s));
      if (s != NATS_TIMEOUT) last_error = s;
      continue;
    }
    last_error = NATS_OK;
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {  // not a stream message: nothing to write
      if (no_meta++ == 0) std::fprintf(stderr, "mdbridge subscribe: a message without JetStream metadata; skipped\n");
      natsMsg_Destroy(msg);
      continue;
    }
    const std::uint64_t seq = meta->Sequence.Stream;
    jsMsgMetaData_Destroy(meta);
    const auto* data = reinterpret_cast<const std::byte*>(natsMsg_GetData(msg));
    const std::span<const std::byte> payload(data, static_cast<std::size_t>(natsMsg_GetDataLength(msg)));
    const inflow::decision d = in.offer(seq, payload, wall_ns());
    const std::uint64_t frames = (d.gap ? 1 : 0) + (d.write ? 1 : 0);
    if (frames != 0) {
      resume->intend(seq, w.next_seq(), frames);
      if (d.gap) {
        (void)w.write(static_cast<std::uint32_t>(record_type::gap), record_bytes(d.gap_bytes));
        const record_header& gh = d.gap_bytes.header;
        if (gh.venue_id == venue::unknown)
          std::fprintf(stderr, "mdbridge subscribe: the stream skipped from %llu to %llu (removed by its limits); gap record written\n",
                       static_cast<unsigned long long>(d.gap_bytes.last_seq_held), static_cast<unsigned long long>(seq));
        else
          std::fprintf(stderr, "mdbridge subscribe: %s/%s/%s: record %llu came after %llu was written; not written, gap record written\n",
                       std::string(to_string(gh.venue_id)).c_str(), std::string(to_string(gh.channel_id)).c_str(),
                       std::string(gh.symbol_view()).c_str(), static_cast<unsigned long long>(d.gap_bytes.first_seq_after),
                       static_cast<unsigned long long>(d.gap_bytes.last_seq_held));
      }
      if (d.write) {
        record_view v;
        (void)record_view::parse(payload, v);
        if (!w.write(static_cast<std::uint32_t>(v.type()), v.bytes()) && refused++ == 0)  // larger than this ring's frames
          std::fprintf(stderr, "mdbridge subscribe: a %u-byte record is larger than %s's max frame (rings.output_max_frame); "
                               "not written (counted; the first one only is logged)\n",
                       static_cast<unsigned>(v.bytes().size()), ring_name.c_str());
      }
      w.notify();
    }
    if (seq == in.last_stream_seq()) resume->finished(seq);  // not for a redelivery of an older one
    natsMsg_Destroy(msg);
  }
  const auto& c = in.counts();
  std::fprintf(stderr,
               "mdbridge subscribe: last stream sequence %llu; written %llu, redelivered %llu, holes %llu (%llu records), "
               "stale snapshots %llu, superseded %llu, late %llu, not records %llu, too large %llu\n",
               static_cast<unsigned long long>(in.last_stream_seq()), static_cast<unsigned long long>(c.written),
               static_cast<unsigned long long>(c.redelivered), static_cast<unsigned long long>(c.holes),
               static_cast<unsigned long long>(c.missing), static_cast<unsigned long long>(c.stale_snapshots),
               static_cast<unsigned long long>(c.superseded), static_cast<unsigned long long>(c.late),
               static_cast<unsigned long long>(c.not_records), static_cast<unsigned long long>(refused));
  return 0;
}

}  // namespace mdbus::bridge
