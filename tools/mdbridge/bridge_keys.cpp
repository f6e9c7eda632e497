#include "tools/mdbridge/bridge_keys.hpp"

#include <charconv>

namespace mdbus::bridge {

namespace {

void append_number(std::string& out, std::uint64_t v, int base = 10) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, base);
  out.append(buf, r.ptr);
}

void append_signed(std::string& out, std::int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

char kind_letter(record_type t) noexcept {
  switch (t) {
    case record_type::trade: return 't';
    case record_type::bbo: return 'b';
    case record_type::book_delta: return 'd';
    case record_type::book_snapshot: return 's';
    case record_type::gap: return 'g';
    case record_type::slot_status: return 'x';
    case record_type::mark_funding: return 'm';
    case record_type::instrument: return 'i';
  }
  return 'u';
}

/// venue<sep>channel<sep>symbol; no symbol is "_". With `plain`, a symbol byte outside
/// [A-Za-z0-9_-] becomes '_' (a subject token cannot hold a dot, '*', '>' or a space).
void append_stream(std::string& out, const record_header& h, char sep, bool plain) {
  out.append(to_string(h.venue_id));
  out.push_back(sep);
  out.append(to_string(h.channel_id));
  out.push_back(sep);
  const std::string_view sym = h.symbol_view();
  if (sym.empty()) out.push_back('_');
  for (const char c : sym) {
    const bool ok = !plain || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    out.push_back(ok ? c : '_');
  }
}

}  // namespace

bool carried(const record_view& r) noexcept { return r.type() != record_type::slot_status; }

void subject_for(std::string_view prefix, const record_header& h, std::string& out) {
  out.clear();
  out.append(prefix);
  out.push_back('.');
  append_stream(out, h, '.', true);
}

void msg_id_for(const record_view& r, std::string& out) {
  const record_header& h = r.header();
  out.clear();
  append_stream(out, h, '/', false);
  out.push_back('/');
  out.push_back(kind_letter(h.type));
  out.push_back('/');
  if (h.type == record_type::gap) {
    // A loss as the merger saw it: the same hole seen by both buses is one record; the venue
    // time tells apart suspect windows, whose ids are unknown (first_seq_after 0).
    const auto g = r.gap();
    if (g) {
      append_number(out, g->last_seq_held);
      out.push_back('/');
      append_number(out, g->first_seq_after);
      out.push_back('/');
      out.append(to_string(g->reason));
      if (g->first_seq_after == 0) {
        out.push_back('/');
        append_signed(out, h.venue_time_ns);
      }
    }
    return;
  }
  if ((h.flags & kHeaderHasSeq) != 0) {
    append_number(out, h.seq);
    // A multi-part snapshot's parts share its sequence: the part index tells them apart.
    if (h.type == record_type::book_snapshot) {
      const auto b = r.book();
      if (b && !(b->first_part() && b->last_part())) {
        out.push_back('.');
        append_number(out, b->fixed().part_index);
      }
    }
    return;
  }
  out.push_back('h');
  append_number(out, record_content_hash(r), 16);
}

}  // namespace mdbus::bridge
