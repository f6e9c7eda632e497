#include "bus/supervisor/status_history.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace mdbus::supervise {
namespace {

/// Growth of a cumulative counter; a counter below its last value was reset (its segment was
/// made anew), so all of it is new.
std::uint64_t growth(std::uint64_t now, std::uint64_t before) noexcept { return now >= before ? now - before : now; }

}  // namespace

status_history::status_history(std::size_t capacity, std::int64_t interval_ns)
    : capacity_(capacity == 0 ? 1 : capacity), interval_ns_(interval_ns) {}

bool status_history::sample(std::int64_t mono_ns, std::int64_t wall_ns, const std::vector<slot_counters>& slots) {
  if (!due(mono_ns)) return false;
  const bool take = primed_;
  primed_ = true;
  last_ns_ = mono_ns;
  point p{wall_ns, {}};
  std::map<std::string, slot_counters> next;
  for (const slot_counters& c : slots) {
    if (take) {
      slot_point sp;
      sp.msgs_per_s = c.msgs_per_s;
      const auto before = last_.find(c.slot);
      const slot_counters zero{};
      const slot_counters& b = before != last_.end() ? before->second : zero;
      // Lead sum and samples reset together (same merger counters segment).
      const bool reset = c.lead_samples < b.lead_samples || c.lead_sum_ns < b.lead_sum_ns;
      const std::uint64_t n = reset ? c.lead_samples : c.lead_samples - b.lead_samples;
      const std::uint64_t sum = reset ? c.lead_sum_ns : c.lead_sum_ns - b.lead_sum_ns;
      if (n > 0) sp.lead_us = static_cast<double>(sum) / static_cast<double>(n) / 1e3;
      // Counted only between two known counts: a slot seen for the first time, or a block that
      // opens again, sets the baseline.
      if (c.reconnects && b.reconnects) sp.reconnects = growth(*c.reconnects, *b.reconnects);
      p.slots.emplace(c.slot, sp);
    }
    slot_counters kept = c;
    // A closed block: the last count stands, so its return is no burst of reconnects.
    if (!kept.reconnects && last_.count(c.slot) != 0) kept.reconnects = last_.at(c.slot).reconnects;
    next.emplace(c.slot, std::move(kept));
  }
  last_ = std::move(next);
  if (!take) return false;
  points_.push_back(std::move(p));
  while (points_.size() > capacity_) points_.pop_front();
  return true;
}

std::optional<slot_point> status_history::at(std::size_t i, const std::string& slot) const {
  if (i >= points_.size()) return std::nullopt;
  const auto it = points_[i].slots.find(slot);
  if (it == points_[i].slots.end()) return std::nullopt;
  return it->second;
}

void status_history::to_json(nlohmann::json& out) const {
  using json = nlohmann::json;
  out = json::object();
  out["interval_ms"] = interval_ns_ / 1'000'000;
  json t = json::array();
  std::set<std::string> names;
  for (const point& p : points_) {
    t.push_back(p.t_ns / 1'000'000);
    for (const auto& [name, sp] : p.slots) names.insert(name);
  }
  out["t_ms"] = std::move(t);
  json slots = json::object();
  for (const std::string& name : names) {
    json rate = json::array(), lead = json::array(), rec = json::array();
    for (const point& p : points_) {
      const auto it = p.slots.find(name);
      if (it == p.slots.end()) {
        rate.push_back(nullptr);
        lead.push_back(nullptr);
        rec.push_back(nullptr);
        continue;
      }
      rate.push_back(it->second.msgs_per_s);
      lead.push_back(it->second.lead_us ? json(*it->second.lead_us) : json(nullptr));
      rec.push_back(it->second.reconnects);
    }
    slots[name] = {{"msgs_per_s", std::move(rate)}, {"lead_us", std::move(lead)}, {"reconnects", std::move(rec)}};
  }
  out["slots"] = std::move(slots);
}

}  // namespace mdbus::supervise
