#include "tools/shmcat/record_format.hpp"

#include <cstdio>
#include <ctime>

namespace mdbus::shmcat {

namespace {

/// UTC time of day with microseconds, or "-" for 0.
std::string time_of_day(std::int64_t ns) {
  if (ns <= 0) return "-";
  const std::time_t s = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d.%06lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(ns % 1'000'000'000 / 1000));
  return buf;
}

std::string seq_text(const record_header& h) {
  std::string s;
  if ((h.flags & kHeaderHasFirstSeq) != 0) s += std::to_string(h.first_seq) + "..";
  if ((h.flags & kHeaderHasSeq) != 0) s += std::to_string(h.seq);
  if ((h.flags & kHeaderHasPrevSeq) != 0) s += " prev=" + std::to_string(h.prev_seq);
  return s.empty() ? "-" : s;
}

std::string level_text(const book_level& l) { return to_string(l.px()) + "x" + to_string(l.qty()); }

std::string details(const record_view& r) {
  std::string s;
  if (const auto t = r.trade()) {
    s = "px=" + to_string(t->px()) + " qty=" + to_string(t->qty()) + " " + std::string(to_string(t->aggressor));
    if (t->first_trade_id != 0 || t->last_trade_id != 0)
      s += " ids=" + std::to_string(t->first_trade_id) + ".." + std::to_string(t->last_trade_id);
    if (t->trade_count > 1) s += " count=" + std::to_string(t->trade_count);
  } else if (const auto b = r.bbo()) {
    s = level_text(b->bid) + " / " + level_text(b->ask);
  } else if (const auto bk = r.book()) {
    const std::size_t n = bk->level_count();
    s = std::to_string(n) + " levels";
    if (!(bk->first_part() && bk->last_part())) s += " part " + std::to_string(bk->fixed().part_index) + (bk->last_part() ? " last" : "");
    if (const auto c = bk->checksum()) s += " checksum=" + std::to_string(*c);
    for (std::size_t i = 0; i < n && i < 4; ++i) s += " " + std::string(to_string(bk->level(i).side)) + ":" + level_text(bk->level(i));
    if (n > 4) s += " ...";
  } else if (const auto g = r.gap()) {
    s = std::string(to_string(g->reason)) + " held " + std::to_string(g->last_seq_held) + " next " +
        std::to_string(g->first_seq_after) + " waited " + std::to_string(g->held_ns / 1000) + "us";
  } else if (const auto st = r.slot_status()) {
    s = std::string(to_string(st->state)) + " " + std::string(to_string(st->reason)) + " epoch " +
        std::to_string(st->connection_epoch);
    if (!st->reason_text_view().empty()) s += " \"" + std::string(st->reason_text_view()) + "\"";
  } else if (const auto mf = r.mark_funding()) {
    auto add = [&s](const char* name, const std::string& v) { s.append(s.empty() ? "" : " ").append(name).append("=").append(v); };
    if (mf->has(kHasMarkPx)) add("mark", to_string(mf->mark_px()));
    if (mf->has(kHasIndexPx)) add("index", to_string(mf->index_px()));
    if (mf->has(kHasSettlePx)) add("settle", to_string(mf->settle_px()));
    if (mf->has(kHasFundingRate)) add("funding", to_string(mf->funding_rate()));
    if (mf->has(kHasFundingTime)) add("at", time_of_day(mf->funding_time_ns));
  } else if (const auto in = r.instrument()) {
    s = std::string(to_string(in->kind));
    if (in->has(kHasContractValue)) s += " contract=" + to_string(in->contract_value()) + " " + std::string(in->contract_currency_view());
    if (in->has(kHasTickSize)) s += " tick=" + to_string(in->tick_size());
    if (in->has(kHasLotSize)) s += " lot=" + to_string(in->lot_size());
  }
  return s;
}

nlohmann::json level_json(const book_level& l) {
  return {{"side", to_string(l.side)}, {"px", to_string(l.px())}, {"qty", to_string(l.qty())}};
}

}  // namespace

std::string format_line(const record_view& r, std::uint64_t frame_seq) {
  const record_header& h = r.header();
  const std::int64_t t = h.publish_time_ns != 0 ? h.publish_time_ns : h.receive_time_ns;
  std::string symbol(h.symbol_view());
  if ((h.flags & kHeaderSymbolTruncated) != 0) symbol += "~";
  if ((h.flags & kHeaderFromRest) != 0) symbol += " (rest)";
  if ((h.flags & kHeaderBackfilled) != 0) symbol += " (backfill)";  // a trade fetched from the venue's history
  char buf[256];
  std::snprintf(buf, sizeof buf, "%8llu %-15s %-12s %-12s %-16s %-13s %-4s %-22s ", static_cast<unsigned long long>(frame_seq),
                time_of_day(t).c_str(), std::string(to_string(h.venue_id)).c_str(),
                std::string(to_string(h.channel_id)).c_str(), symbol.c_str(), std::string(to_string(h.type)).c_str(),
                std::string(to_string(h.slot)).c_str(), seq_text(h).c_str());
  return buf + details(r);
}

nlohmann::json record_json(const record_view& r, std::uint64_t frame) {
  const record_header& h = r.header();
  nlohmann::json j = {{"frame", frame},
                      {"type", to_string(h.type)},
                      {"venue", to_string(h.venue_id)},
                      {"channel", to_string(h.channel_id)},
                      {"symbol", h.symbol_view()},
                      {"slot", to_string(h.slot)},
                      {"flags", h.flags},
                      {"seq", h.seq},
                      {"first_seq", h.first_seq},
                      {"prev_seq", h.prev_seq},
                      {"venue_time_ns", h.venue_time_ns},
                      {"receive_time_ns", h.receive_time_ns},
                      {"publish_time_ns", h.publish_time_ns}};
  if (const auto t = r.trade()) {
    j.update({{"px", to_string(t->px())}, {"qty", to_string(t->qty())}, {"aggressor", to_string(t->aggressor)},
              {"first_trade_id", t->first_trade_id}, {"last_trade_id", t->last_trade_id}, {"trade_count", t->trade_count},
              {"backfilled", (h.flags & kHeaderBackfilled) != 0}});
  } else if (const auto b = r.bbo()) {
    j.update({{"bid", level_json(b->bid)}, {"ask", level_json(b->ask)}});
  } else if (const auto bk = r.book()) {
    nlohmann::json levels = nlohmann::json::array();
    for (std::size_t i = 0; i < bk->level_count(); ++i) levels.push_back(level_json(bk->level(i)));
    j.update({{"part_index", bk->fixed().part_index}, {"first_part", bk->first_part()}, {"last_part", bk->last_part()},
              {"checksum", bk->checksum() ? nlohmann::json(*bk->checksum()) : nlohmann::json()}, {"levels", std::move(levels)}});
  } else if (const auto g = r.gap()) {
    j.update({{"reason", to_string(g->reason)}, {"last_seq_held", g->last_seq_held},
              {"first_seq_after", g->first_seq_after}, {"held_ns", g->held_ns}});
  } else if (const auto st = r.slot_status()) {
    j.update({{"state", to_string(st->state)}, {"reason", to_string(st->reason)}, {"connection_epoch", st->connection_epoch},
              {"reason_text", st->reason_text_view()}});
  } else if (const auto mf = r.mark_funding()) {
    // Only the values the venue sent: an absent one is not zero.
    if (mf->has(kHasMarkPx)) j["mark_px"] = to_string(mf->mark_px());
    if (mf->has(kHasIndexPx)) j["index_px"] = to_string(mf->index_px());
    if (mf->has(kHasSettlePx)) j["settle_px"] = to_string(mf->settle_px());
    if (mf->has(kHasFundingRate)) j["funding_rate"] = to_string(mf->funding_rate());
    if (mf->has(kHasFundingTime)) j["funding_time_ns"] = mf->funding_time_ns;
  } else if (const auto in = r.instrument()) {
    j["kind"] = to_string(in->kind);
    if (in->has(kHasContractValue)) j["contract_value"] = to_string(in->contract_value());
    j["contract_currency"] = in->contract_currency_view();
    if (in->has(kHasTickSize)) j["tick_size"] = to_string(in->tick_size());
    if (in->has(kHasLotSize)) j["lot_size"] = to_string(in->lot_size());
  }
  return j;
}

}  // namespace mdbus::shmcat
