// bbo_monitor — an example strategy: per symbol, the best bid and ask with the spread,
// updating in place. Best prices come from BBO records (Binance bookTicker, OKX bbo-tbt and
// tickers) and from the top of the books the book builder keeps (depth / books channels);
// each row says which. See README.md.
#include "bus/clock.hpp"
#include "mdbus/consumer.hpp"
#include "consumers/examples/example_common.hpp"
#include "mdbus/order_book.hpp"

#include <unistd.h>

#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace mdbus;
using mdbus::examples::g_stop;

namespace {

struct row {
  decimal bid_px, bid_qty, ask_px, ask_qty;
  channel source = channel::unknown;
  bool book_valid = true;  ///< false: from a book that is waiting for its next snapshot
  std::uint64_t updates = 0;
};

using row_key = std::pair<venue, std::string>;

/// Channels that carry the venue's own best bid/offer (rather than a book to build).
bool is_bbo_channel(channel c) {
  return c == channel::binance_book_ticker || c == channel::okx_bbo_tbt || c == channel::okx_tickers;
}

/// The spread for display: exact when both prices share an exponent (the usual case, as
/// feeders keep a symbol's scale), else through double.
std::string spread_text(decimal bid, decimal ask) {
  if (bid.exponent == ask.exponent) return to_string(decimal{ask.mantissa - bid.mantissa, ask.exponent});
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.10g", to_double(ask) - to_double(bid));
  return buf;
}

std::string bps_text(decimal bid, decimal ask) {
  const double mid = (to_double(bid) + to_double(ask)) / 2;
  if (mid <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", (to_double(ask) - to_double(bid)) / mid * 1e4);
  return buf;
}

/// Rows fed by a book show whether that book is currently trustworthy.
void refresh_validity(std::map<row_key, row>& rows, book_set& books) {
  for (auto& [key, r] : rows) {
    if (is_bbo_channel(r.source)) continue;
    const order_book* b = books.find(r.source, key.second);
    r.book_valid = b != nullptr && b->valid();
  }
}

void draw(const std::map<row_key, row>& rows, const consumer& c, std::uint64_t gaps, bool in_place) {
  std::string out;
  if (in_place) out += "\x1b[H\x1b[2J";  // home + clear: the table redraws over itself
  char line[512];
  std::snprintf(line, sizeof line, "%-8s %-24s %20s %14s %20s %14s %14s %8s  %-14s %8s\n", "VENUE", "SYMBOL", "BID",
                "BID QTY", "ASK", "ASK QTY", "SPREAD", "BPS", "SOURCE", "UPDATES");
  out += line;
  for (const auto& [key, r] : rows) {
    if (r.updates == 0) continue;  // a book still waiting for its first snapshot
    const bool both = !is_zero(r.bid_qty) && !is_zero(r.ask_qty);
    std::snprintf(line, sizeof line, "%-8s %-24s %20s %14s %20s %14s %14s %8s  %-14s %8llu%s\n",
                  std::string(to_string(key.first)).c_str(), key.second.c_str(), to_string(r.bid_px).c_str(),
                  to_string(r.bid_qty).c_str(), to_string(r.ask_px).c_str(), to_string(r.ask_qty).c_str(),
                  both ? spread_text(r.bid_px, r.ask_px).c_str() : "-", both ? bps_text(r.bid_px, r.ask_px).c_str() : "-",
                  std::string(to_string(r.source)).c_str(), static_cast<unsigned long long>(r.updates),
                  r.book_valid ? "" : "  (book invalid: waiting for a snapshot)");
    out += line;
  }
  const auto& s = c.stats();
  std::snprintf(line, sizeof line, "records %llu  gaps %llu  laps %llu (missed %llu records)  lag %llu\n",
                static_cast<unsigned long long>(s.records), static_cast<unsigned long long>(gaps),
                static_cast<unsigned long long>(s.laps), static_cast<unsigned long long>(s.missed_frames),
                static_cast<unsigned long long>(c.lag_frames()));
  out += line;
  if (!in_place) out += '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bbo_monitor — best bid/ask and spread per symbol from an mdbus output ring"};
  examples::common_options opt;
  opt.interval_s = 0.2;
  bool plain = false;
  examples::add_common_options(app, opt, "seconds between redraws");
  app.add_flag("--plain", plain, "append each table instead of redrawing in place (default when not a terminal)");
  CLI11_PARSE(app, argc, argv);

  consumer c;
  if (const int rc = examples::open_consumer("bbo_monitor", opt, c, [](record_filter& f) {
        f.type(record_type::bbo).type(record_type::book_delta).type(record_type::book_snapshot).type(record_type::gap);
      }))
    return rc;
  examples::install_stop_handlers();
  const bool drain = opt.drain;
  const double interval_s = opt.interval_s, duration_s = opt.duration_s;
  const bool in_place = !plain && isatty(STDOUT_FILENO) != 0;

  std::map<row_key, row> rows;
  book_set books;
  std::uint64_t gaps = 0;
  const auto interval_ns = static_cast<std::int64_t>(interval_s * 1e9);
  const std::int64_t end = duration_s > 0 ? mono_ns() + static_cast<std::int64_t>(duration_s * 1e9) : 0;
  std::int64_t next_draw = mono_ns() + interval_ns;
  bool dirty = true;
  while (g_stop == 0) {
    const std::int64_t now = mono_ns();
    if (end != 0 && now >= end) break;
    const poll_result r = drain ? c.poll() : c.wait(next_draw - now);
    if (r.status == poll_status::record) {
      const record_header& h = r.record.header();
      if (h.type == record_type::gap) {
        ++gaps;
        (void)books.apply(r.record);  // the stream's book waits for its next snapshot
        refresh_validity(rows, books);
      } else if (const auto b = r.record.bbo()) {
        row& slot = rows[{h.venue_id, std::string(h.symbol_view())}];
        slot = {b->bid.px(), b->bid.qty(), b->ask.px(), b->ask.qty(), h.channel_id, true, slot.updates + 1};
      } else {
        order_book* book = nullptr;
        const book_event e = books.apply(r.record, &book);
        row& slot = rows[{h.venue_id, std::string(h.symbol_view())}];
        // A book feeds its row only when no BBO stream does (a BBO record is the venue's own top).
        if (book != nullptr && e != book_event::snapshot_part && !is_bbo_channel(slot.source)) {
          const price_level bid = book->level(book_side::bid, 0), ask = book->level(book_side::ask, 0);
          slot = {bid.px, bid.qty, ask.px, ask.qty, h.channel_id, book->valid(), slot.updates + 1};
        }
      }
      dirty = true;
    } else if (r.status == poll_status::lapped) {
      books.on_lap();  // any book may have missed deltas
      refresh_validity(rows, books);
      dirty = true;
    } else if (r.status == poll_status::empty && drain) {
      break;
    }
    if (mono_ns() >= next_draw) {
      if (dirty) draw(rows, c, gaps, in_place);
      dirty = false;
      next_draw = mono_ns() + interval_ns;
    }
  }
  draw(rows, c, gaps, in_place);
  return 0;
}
