// mdmerge's counters in the bus's counters segment: registering them (the names every reader
// uses, bus/merge_counter_names.hpp) and refreshing them every 100 ms from the arbiter's and
// the inputs' figures. A merger that died leaves its totals: a successor adds to them.
#include "bus/merge/merger.hpp"

#include "bus/clock.hpp"
#include "bus/merge_counter_names.hpp"

#include <algorithm>

namespace mdbus::merge {

void merger::register_counters() {
  // The supervisor's segment (ARCHITECTURE.md "Shared memory": one owner per segment): the
  // merger only opens it. Until it exists (a supervisor still starting, or a merger run
  // alone) the merger merges without counters and looks again every second; the totals are the arbiter's since this start, so
  // counters that appear late still count everything.
  const std::string name = segment_name(cfg_.bus, "counters");
  try {
    counters_ = counters_segment::open(name, access_mode::read_write, 0);
  } catch (const segment_error& e) {
    if (!counters_waiting_logged_)
      log("counters: %s: merging without them until the supervisor makes the segment", e.what());
    counters_waiting_logged_ = true;
    return;
  }
  counters_open_ = true;
  const std::int64_t t0 = mono_ns();
  try {
    // Taking over a dead predecessor's counter keeps its value: our totals add to it.
    auto reg = [this](const std::string& label) {
      total t;
      t.c = counters_.register_counter(label);
      t.base = t.c.get();
      return t;
    };
    auto gauge = [this](const std::string& label) { return counters_.register_counter(label); };
    // The names every reader uses (bus/merge_counter_names.hpp).
    totals_.published = reg(merge_label(merge_total::published));
    totals_.duplicates = reg(merge_label(merge_total::duplicates));
    totals_.gaps = reg(merge_label(merge_total::gaps));
    totals_.holes_filled = reg(merge_label(merge_total::holes_filled));
    totals_.hold_overflows = reg(merge_label(merge_total::hold_overflows));
    totals_.resync_requests = reg(merge_label(merge_total::resync_requests));
    totals_.resync_dropped = reg(merge_label(merge_total::resync_dropped));
    totals_.resync_unrouted = reg(merge_label(merge_total::resync_unrouted));
    totals_.malformed = reg(merge_label(merge_total::malformed_frames));
    totals_.output_oversize = reg(merge_label(merge_total::output_oversize));
    totals_.primed = reg(merge_label(merge_total::primed_records));
    totals_.streams = gauge(merge_label(merge_total::streams));
    totals_.no_stream_room = reg(merge_label(merge_total::no_stream_room));
    totals_.backfill_requests = reg(merge_label(merge_total::backfill_requests));
    totals_.backfilled = reg(merge_label(merge_total::backfilled));
    totals_.backfill_gaps = reg(merge_label(merge_total::backfill_gaps));
    totals_.backfill_late = reg(merge_label(merge_total::backfill_late));
    totals_.backfill_unrouted = reg(merge_label(merge_total::backfill_unrouted));
    totals_.suspect_windows = reg(merge_label(merge_total::suspect_windows));
    for (const auto& in : inputs_) {
      auto label = [&](merge_slot_stat x) { return merge_label(in.v, in.slot, x, in.group); };
      slot_counters c;
      c.frames = reg(label(merge_slot_stat::frames));
      c.malformed = reg(label(merge_slot_stat::malformed_frames));
      c.first_arrivals = reg(label(merge_slot_stat::first_arrivals));
      c.duplicates = reg(label(merge_slot_stat::duplicates));
      c.lead_samples = reg(label(merge_slot_stat::lead_samples));
      c.lead_sum_ns = reg(label(merge_slot_stat::lead_sum_ns));
      c.lead_max_ns = gauge(label(merge_slot_stat::lead_max_ns));
      c.ring_overflows = reg(label(merge_slot_stat::feeder_ring_overflows));
      static_assert(kLeadBuckets == kMergeLeadBuckets);
      for (std::size_t b = 0; b < kLeadBuckets; ++b) c.lead_hist[b] = reg(label(mdbus::lead_bucket(b)));
      c.streams_in_step = gauge(label(merge_slot_stat::streams_in_step));
      c.live_marker_ns = gauge(label(merge_slot_stat::live_marker_ns));
      slot_counters_.push_back(c);
    }
    register_stream_counters();
    counters_ok_ = true;
    log("counters: %s opened, %zu streams' and %zu slots' counters registered in %.2f s", name.c_str(),
        stream_counters_.size(), slot_counters_.size(), static_cast<double>(mono_ns() - t0) / 1e9);
  } catch (const segment_error& e) {
    log("counters: %s: merging without them", e.what());
  }
}

void merger::register_stream_counters() {
  auto reg = [this](const std::string& label) {
    total t;
    t.c = counters_.register_counter(label);
    t.base = t.c.get();
    return t;
  };
  for (std::size_t i = streams_counted_; i < arbiter_.stream_count(); ++i) {
    const stream_id id = arbiter_.stream_key_at(i);
    const std::string p = "merge." + std::string(to_string(id.v)) + "." + std::string(to_string(id.c)) + "." +
                          std::string(id.symbol) + ".";
    stream_counters c;
    c.index = i;
    for (std::size_t s = 0; s < kSlots; ++s) {
      const std::string q = p + (s == 0 ? "A." : "B.");
      c.first_arrivals[s] = reg(q + "first_arrivals");
      c.duplicates[s] = reg(q + "duplicates");
      c.lead_samples[s] = reg(q + "lead_samples");
      c.lead_sum_ns[s] = reg(q + "lead_sum_ns");
    }
    c.gaps = reg(p + "gaps");
    c.resync_requests = reg(p + "resync_requests");
    c.backfilled = reg(p + "backfilled");
    c.backfill_gaps = reg(p + "backfill_gaps");
    stream_counters_.push_back(c);
    streams_counted_ = i + 1;
  }
}

void merger::update_counters() {
  if (!counters_ok_) return;
  const arbiter_stats& a = arbiter_.stats();
  totals_.published.set(static_cast<std::int64_t>(a.published));
  totals_.duplicates.set(static_cast<std::int64_t>(a.duplicates));
  totals_.gaps.set(static_cast<std::int64_t>(a.gaps));
  totals_.holes_filled.set(static_cast<std::int64_t>(a.holes_filled));
  totals_.hold_overflows.set(static_cast<std::int64_t>(a.hold_overflows));
  totals_.resync_requests.set(static_cast<std::int64_t>(a.resync_requests));
  totals_.resync_dropped.set(static_cast<std::int64_t>(a.resync_dropped));
  totals_.resync_unrouted.set(static_cast<std::int64_t>(resync_unrouted_));
  totals_.output_oversize.set(static_cast<std::int64_t>(output_oversize_));
  totals_.primed.set(static_cast<std::int64_t>(a.primed));
  totals_.streams.set(static_cast<std::int64_t>(arbiter_.stream_count()));  // a gauge
  totals_.no_stream_room.set(static_cast<std::int64_t>(a.no_stream_room));
  totals_.backfill_requests.set(static_cast<std::int64_t>(a.backfill_requests));
  totals_.backfilled.set(static_cast<std::int64_t>(a.backfilled));
  totals_.backfill_gaps.set(static_cast<std::int64_t>(a.backfill_gaps));
  totals_.backfill_late.set(static_cast<std::int64_t>(a.backfill_late));
  totals_.backfill_unrouted.set(static_cast<std::int64_t>(backfill_unrouted_));
  totals_.suspect_windows.set(static_cast<std::int64_t>(suspect_windows_));
  std::uint64_t malformed = 0;
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const input& in = inputs_[i];
    slot_counters& c = slot_counters_[i];
    malformed += in.malformed;
    c.frames.set(static_cast<std::int64_t>(in.frames));
    c.malformed.set(static_cast<std::int64_t>(in.malformed));
    c.ring_overflows.set(static_cast<std::int64_t>(in.overflows_seen));
    // Sum this venue slot's streams (every stream, configured or not).
    const std::size_t s = in.slot == slot_id::b ? 1 : 0;
    std::uint64_t first = 0, dups = 0, samples = 0, in_step = 0;
    std::int64_t sum = 0, max = 0;
    std::array<std::uint64_t, kLeadBuckets> hist{};
    for (std::size_t k = 0; k < arbiter_.stream_count(); ++k) {
      if (arbiter_.stream_key_at(k).v != in.v || arbiter_.group_at(k) != in.group) continue;
      // Reference data (instrument records, every reference_interval_ms) is not a market
      // stream: a rotation does not wait for it.
      if (arbiter_.stream_key_at(k).c != channel::reference && arbiter_.in_step_at(k, in.slot)) ++in_step;
      const stream_stats& st = arbiter_.stream_at(k);
      first += st.published[s];
      dups += st.duplicates[s];
      samples += st.lead[s].samples;
      sum += st.lead[s].lead_sum_ns;
      max = std::max(max, st.lead[s].lead_max_ns);
      for (std::size_t b = 0; b < kLeadBuckets; ++b) hist[b] += st.lead[s].lead_hist[b];
    }
    c.first_arrivals.set(static_cast<std::int64_t>(first));
    c.duplicates.set(static_cast<std::int64_t>(dups));
    c.lead_samples.set(static_cast<std::int64_t>(samples));
    c.lead_sum_ns.set(sum);
    c.lead_max_ns.set_max(max);
    for (std::size_t b = 0; b < kLeadBuckets; ++b) c.lead_hist[b].set(static_cast<std::int64_t>(hist[b]));
    // In-step count before the marker: a gate that reads the marker first, then the count,
    // never pairs a new marker with an older connection's count.
    c.streams_in_step.set(static_cast<std::int64_t>(in_step));
    c.live_marker_ns.set(in.live_marker_ns);
  }
  totals_.malformed.set(static_cast<std::int64_t>(malformed));
  for (auto& c : stream_counters_) {
    const stream_stats& st = arbiter_.stream_at(c.index);
    for (std::size_t s = 0; s < kSlots; ++s) {
      c.first_arrivals[s].set(static_cast<std::int64_t>(st.published[s]));
      c.duplicates[s].set(static_cast<std::int64_t>(st.duplicates[s]));
      c.lead_samples[s].set(static_cast<std::int64_t>(st.lead[s].samples));
      c.lead_sum_ns[s].set(st.lead[s].lead_sum_ns);
    }
    c.gaps.set(static_cast<std::int64_t>(st.gaps));
    c.resync_requests.set(static_cast<std::int64_t>(st.resync_requests));
    c.backfilled.set(static_cast<std::int64_t>(st.backfilled));
    c.backfill_gaps.set(static_cast<std::int64_t>(st.backfill_gaps));
  }
}

}  // namespace mdbus::merge
