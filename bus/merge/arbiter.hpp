#pragma once
/// Hot-hot arbitration of one venue's two slots into one stream of records, each published
/// once, as soon as its first copy arrives ("first arrival wins"). Per stream (venue,
/// channel, symbol) it keeps the last sequence published and judges every offered record
/// by the stream's sequence_rule: a duplicate is dropped and counted against its slot; a
/// record that leaves a hole is held for the hole-fill window in case the other slot
/// delivers the missing messages; when the window passes unfilled, a gap record is
/// published, then the held record. Loss is never silent.
///
/// Trade streams whose ids reveal holes (Binance trade, aggTrade) are repaired, not just
/// reported (issue 16): when the hole-fill window passes, the arbiter asks one feeder to fetch
/// the missing ids from the venue's trade history (request_backfill) and keeps holding — that
/// stream only — for at most backfill_bound_ns. The fetched trades come through the feeder's
/// ring like any record (flagged kHeaderBackfilled), close the hole in sequence and release
/// the held ones behind it. A gap record is published only for what backfill did not bring:
/// gap_reason::backfill_failed when the feeder reports the venue could not give it (a gap
/// record in its ring), backfill_timeout when the bound passed; backfilled trades arriving
/// after that are dropped and counted (backfill_late).
///
/// Trade streams whose ids do not reveal holes but whose venue keeps their fills by id (OKX
/// trades: one message per taker order, tradeId its last fill) are repaired after a suspect
/// window (every slot of the group down at once; the daemon calls await_window_backfill): the
/// first trade after the window is held, and its feeder asked for the fills between the last
/// trade published and it (less the fills of its own aggregation). The fills are published as
/// they come, flagged kHeaderBackfilled, one record per fill; the feeder's backfill_done record
/// releases the held trades. Failure and the bound give a gap record, as for ids.
///
/// Book streams (deltas) are only whole from a snapshot: after a gap record, or when a stream
/// starts with a delta (Binance diff depth), its deltas wait in the hold until a snapshot
/// comes (request_resync asks the feeders for one); then the snapshot is published and the
/// held deltas are judged against it, which is Binance's U/u procedure (u <= lastUpdateId
/// dropped, U <= lastUpdateId + 1 <= u continues). So on the output a book stream's gap
/// record is always followed by a snapshot before any further delta. A snapshot that arrives
/// ahead of a continuous stream (a reconnecting slot, faster than its partner for a moment)
/// waits like a hole: the partner catching up makes it a duplicate.
///
/// Restart: prime() replays the published records (read back from the output ring) into the
/// state, and oldest_pinned() tells the daemon how far it may release each feeder ring, so
/// records in a hole-fill hold are read again by a restarted merger.
///
/// Pure logic: no shared memory, no clock. The daemon feeds it records from the feeder
/// rings (offer) and calls tick() with its clock; tests drive it directly. All memory is
/// allocated by the constructor (stream table, hold buffers, content windows); offer() and
/// tick() never allocate.
#include "bus/stream_key.hpp"
#include "bus/merge/sequence_rule.hpp"
#include "mdbus/records.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mdbus::merge {

/// Where the arbiter's decisions go (the daemon: the output broadcast ring and the feeders'
/// resync tables).
class merge_output {
 public:
  /// A record to publish as it is, won by `winner`.
  virtual void publish(std::span<const std::byte> record, slot_id winner) noexcept = 0;
  /// A hole neither slot filled in time.
  virtual void publish_gap(const gap_record& gap) noexcept = 0;
  /// A book stream needs a fresh snapshot (after a gap, or because it started with a delta):
  /// ask the venue's feeders for one. `ask`: the one slot to ask, or slot_id::none for every
  /// feeder of the venue. A stream that started with a delta asks the slot that delivered it
  /// (one REST snapshot a book at start, not one per slot), and again at each retry while that
  /// slot keeps delivering the stream, for at most 5 minutes; then, and after a gap, every
  /// feeder. Repeated every resync_retry_ns until a snapshot comes.
  virtual void request_resync(venue v, channel c, std::string_view symbol, slot_id ask) noexcept = 0;
  /// A trade stream's hole outlived the hole-fill window: ask feeder `ask` (the slot that
  /// delivered the records behind it, so a live one) to fetch ids `from_seq`..`to_seq` from the
  /// venue's trade history. `skip` (a suspect window's trades, fetched as the venue's fills):
  /// the newest `skip` fills below to_seq + 1 are the record's that ends the window, not to be
  /// written. Returns whether a request went out: false (the default) when the channel has no
  /// history to ask or no feeder can be reached, and the hole becomes a gap now.
  virtual bool request_backfill(venue v, channel c, std::string_view symbol, std::uint64_t from_seq, std::uint64_t to_seq,
                                slot_id ask, std::uint64_t skip) noexcept {
    (void)v, (void)c, (void)symbol, (void)from_seq, (void)to_seq, (void)ask, (void)skip;
    return false;
  }

 protected:
  ~merge_output() = default;
};

struct arbiter_options {
  std::int64_t hole_fill_window_ns = 3'000'000;  ///< how long a hole waits for the other slot
  /// Stream table capacity: the configured streams plus headroom. Memory is allocated up
  /// front: about hold_bytes_per_stream + 24 B x hold_records_per_stream per stream (1024
  /// streams with the defaults: 19 MiB).
  std::size_t max_streams = 1024;
  std::size_t hold_bytes_per_stream = 16 * 1024;  ///< records held behind a hole, per stream
  std::size_t hold_records_per_stream = 128;
  std::size_t content_window = 64;  ///< remembered (time, content) hashes per sequence-less stream
  /// A book stream waiting for its snapshot asks again this often.
  std::int64_t resync_retry_ns = 2'000'000'000;
  /// How long a trade stream's hole waits for backfill after the hole-fill window (0: no
  /// backfill, a hole becomes a gap record at the window's end). The stream's consumers wait
  /// this long at most; other streams never wait for it.
  std::int64_t backfill_bound_ns = 2'000'000'000;
};

inline constexpr std::size_t kSlots = 2;

/// Buckets of the race histogram: how long the winning slot's copy arrived before the
/// other's (receive times), upper bounds < 1 µs, 10 µs, 100 µs, 1 ms, 10 ms, 100 ms, then more.
inline constexpr std::size_t kLeadBuckets = 7;
inline constexpr std::array<std::int64_t, kLeadBuckets - 1> kLeadBucketBoundsNs{1'000, 10'000, 100'000, 1'000'000,
                                                                                  10'000'000, 100'000'000};
[[nodiscard]] constexpr std::size_t lead_bucket(std::int64_t lead_ns) noexcept {
  std::size_t b = 0;
  while (b < kLeadBucketBoundsNs.size() && lead_ns >= kLeadBucketBoundsNs[b]) ++b;
  return b;
}

/// The race between the slots on one stream: who delivered first and by how much.
struct race_stats {
  std::uint64_t samples = 0;  ///< records whose second copy arrived while the first was remembered
  std::int64_t lead_sum_ns = 0;
  std::int64_t lead_max_ns = 0;
  std::array<std::uint64_t, kLeadBuckets> lead_hist{};
};

struct stream_stats {
  std::array<std::uint64_t, kSlots> published{};   ///< first arrivals, by winning slot
  std::array<std::uint64_t, kSlots> duplicates{};  ///< later copies dropped, by slot
  std::array<race_stats, kSlots> lead{};           ///< by winning slot: how far ahead it was
  std::uint64_t holes_filled = 0;  ///< holes the other slot closed within the window
  std::uint64_t gaps = 0;          ///< gap records published
  std::uint64_t resets = 0;        ///< venue sequence resets followed
  std::uint64_t rebases = 0;       ///< snapshots that moved the sequence past a hole or a start
  std::uint64_t resync_requests = 0;  ///< snapshots asked for (after a gap, at start, retries)
  std::uint64_t resync_dropped = 0;   ///< deltas dropped while waiting for a snapshot (older than the hold)
  std::uint64_t backfill_requests = 0;  ///< holes handed to a feeder to fetch over REST
  std::uint64_t backfilled = 0;         ///< trades published from the venue's history (kHeaderBackfilled)
  std::uint64_t backfill_gaps = 0;      ///< gap records for what backfill did not bring (failed or bound)
  std::uint64_t backfill_late = 0;      ///< backfilled trades that came after their gap record: dropped
};

/// Why offer() refused a record outright (counted in arbiter_stats).
enum class offer_refusal : std::uint8_t { none, no_stream_room, bad_slot, hold_full };

struct arbiter_stats {
  std::uint64_t offered = 0;
  std::uint64_t published = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t gaps = 0;
  std::uint64_t holes_filled = 0;
  std::uint64_t no_stream_room = 0;  ///< records of a stream beyond max_streams: dropped
  std::uint64_t bad_slot = 0;        ///< records claiming a slot other than a or b: dropped
  std::uint64_t hold_overflows = 0;  ///< holes resolved early because the hold buffer was full
  std::uint64_t resync_requests = 0;
  std::uint64_t resync_dropped = 0;
  std::uint64_t primed = 0;  ///< published records replayed into the state by prime()
  std::uint64_t backfill_requests = 0;
  std::uint64_t backfilled = 0;
  std::uint64_t backfill_gaps = 0;
  std::uint64_t backfill_late = 0;
  std::uint64_t feeder_gaps = 0;  ///< gap records from a feeder (backfill failures): acted on, never published as they are
};

/// A stream's identity as the arbiter keys it, for listing (stats, counters).
struct stream_id {
  venue v = venue::unknown;
  channel c = channel::unknown;
  std::string_view symbol;  ///< points into the arbiter: valid while it lives
};

/// A stream's hold: allocated once at start and never zero-filled, so its pages cost memory
/// only where records were held (a bus of thousands of streams reserves
/// hold_bytes_per_stream each; most streams never hold anything).
class hold_buffer {
 public:
  void allocate(std::size_t size) {
    bytes_.reset(new std::byte[size]);  // default-initialised: untouched until written
    size_ = size;
  }
  [[nodiscard]] std::byte* data() noexcept { return bytes_.get(); }
  [[nodiscard]] const std::byte* data() const noexcept { return bytes_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::unique_ptr<std::byte[]> bytes_;
  std::size_t size_ = 0;
};

class arbiter {
 public:
  arbiter(const arbiter_options& options, merge_output& out);

  /// Create the state of a configured stream up front (the daemon: every configured
  /// venue × channel × symbol), so offer() never allocates for it. Returns its index
  /// (stream_at()), or SIZE_MAX when the table is full.
  /// `group`: the venue's connection group whose slot pair carries the stream (config
  /// venue_config::group_of); slot-level state (slot_reset, oldest_pinned) is per group.
  std::size_t add_stream(venue v, channel c, std::string_view symbol, std::uint32_t group = 0);
  /// Room for `n` streams in all (never shrinks). The slow path of a config reload that adds
  /// symbols: it allocates their state (and hold buffers) so offer() still never does. Not to
  /// be called from inside offer() or tick().
  void reserve_streams(std::size_t n);
  /// The streams of `symbol` on venue `v` (a symbol a config reload removed) are retired: no
  /// more resync requests for them (their feeders no longer subscribe it). Records that still
  /// come (from a feeder not restarted yet) are merged as before. add_stream() of the symbol
  /// (added back) ends the retirement. Returns how many streams it touched.
  std::size_t retire_symbol(venue v, std::string_view symbol) noexcept;

  /// Judge one validated record from slot `from` at merger time `now_ns`. `ring_pos` is the
  /// record's position in its slot's ring: while the record waits in a hole-fill hold, the
  /// daemon must not release the ring past it (oldest_pinned()), so a restarted merger reads
  /// it again.
  /// `group`: the connection group of the ring it came from (a stream seen first here is
  /// filed under it).
  void offer(const record_view& record, slot_id from, std::int64_t now_ns, std::uint64_t ring_pos = 0,
             std::uint32_t group = 0) noexcept;

  /// Slot `slot` of venue `v` starts a new connection (or lost its old one): until it proves
  /// it is in step on a stream without detectable holes (bookTicker, OKX trades, bbo-tbt) —
  /// by delivering a copy of something already published — a record it sends ahead of the
  /// stream waits (hole-fill window) while the partner slot is in step: otherwise a
  /// reconnecting slot's newest record could win and make the partner's older, never
  /// published records look like duplicates.
  void slot_reset(venue v, slot_id slot, std::uint32_t group = 0) noexcept;

  /// Every slot carrying stream `index` was down at once (a suspect window closed): when its
  /// venue keeps the channel's trades (descriptor `history`) and the stream has published a
  /// trade, its next trade starts a backfill of what the window lost (see above). Returns
  /// whether the stream will.
  bool await_window_backfill(std::size_t index) noexcept;

  /// Restart: replay a record this merger (or its predecessor) already published — read back
  /// from the output ring, oldest first — into the per-stream state, without publishing.
  /// Records re-read from the feeder rings afterwards are then judged duplicates, and a book
  /// stream whose last word was a gap record waits for its snapshot again.
  void prime(const record_view& published) noexcept;
  /// After priming: ask again for the snapshots primed streams are waiting for.
  void finish_priming(std::int64_t now_ns) noexcept;

  /// Smallest ring position of a record from venue `v`'s slot `slot` (one feeder ring) held in
  /// a hole-fill hold, or UINT64_MAX.
  [[nodiscard]] std::uint64_t oldest_pinned(venue v, slot_id slot, std::uint32_t group = 0) const noexcept;

  /// Resolve holds whose window has passed by `now_ns`: gap record, then the held records.
  void tick(std::int64_t now_ns) noexcept;

  /// Earliest time a hold expires, or INT64_MAX when nothing is held: when to call tick().
  [[nodiscard]] std::int64_t next_deadline() const noexcept { return next_deadline_; }

  [[nodiscard]] const arbiter_stats& stats() const noexcept { return stats_; }
  /// Stats of one stream; nullptr if the arbiter has not seen it.
  [[nodiscard]] const stream_stats* stream(venue v, channel c, std::string_view symbol) const noexcept;
  [[nodiscard]] std::size_t stream_count() const noexcept { return used_streams_; }
  /// Identity and stats of stream `index` < stream_count().
  [[nodiscard]] stream_id stream_key_at(std::size_t index) const noexcept;
  [[nodiscard]] const stream_stats& stream_at(std::size_t index) const noexcept { return streams_[index].stats; }
  /// Whether `slot` delivers stream `index` in step (what it sent since its last reset was
  /// published or a duplicate of what was): the supervisor's rotation gate counts these.
  /// The connection group of stream `index`.
  [[nodiscard]] std::uint32_t group_at(std::size_t index) const noexcept { return streams_[index].group; }
  [[nodiscard]] bool in_step_at(std::size_t index, slot_id slot) const noexcept {
    return (slot == slot_id::a || slot == slot_id::b) && streams_[index].in_step[slot == slot_id::b ? 1 : 0];
  }
  /// The last sequence published on stream `index` (0 when none, or a sequence-less stream).
  [[nodiscard]] std::uint64_t last_seq_at(std::size_t index) const noexcept {
    return streams_[index].has_last ? streams_[index].last : 0;
  }
  /// Whether stream `index` is a book stream of deltas (its holes show in its chain).
  [[nodiscard]] bool carries_deltas_at(std::size_t index) const noexcept { return streams_[index].carries_deltas; }
  /// Whether stream `index` is a book stream waiting for its snapshot.
  [[nodiscard]] bool awaiting_snapshot(std::size_t index) const noexcept { return streams_[index].awaiting_snapshot; }

 private:
  struct held_record {
    std::uint32_t offset;  ///< in the stream's hold buffer
    std::uint32_t size;
    slot_id from;
    bool pinned;           ///< a hole-fill hold: its ring position must not be released
    std::int64_t arrived_ns;
    std::uint64_t ring_pos;
  };
  /// A recently published record, remembered to time the race when its second copy comes.
  struct published_mark {
    std::uint64_t key = 0;  ///< sequence, or content hash for sequence-less streams
    std::int64_t receive_ns = 0;
    slot_id winner = slot_id::none;
  };
  static constexpr std::size_t kRaceMemory = 16;
  struct stream_state {
    stream_key key{};
    std::uint32_t group = 0;  ///< the venue's connection group carrying it
    bool has_last = false;
    bool carries_deltas = false;     ///< a book stream of deltas (needs a snapshot to start)
    /// The last record published was a snapshot: the next delta joins it by the venue's
    /// documented first-event rule, not by the chain (sequence_rule.hpp, join_rule).
    bool joining = false;
    bool awaiting_snapshot = false;  ///< after a gap or a delta-first start: deltas wait for a snapshot
    bool retired = false;            ///< its symbol left the config (retire_symbol): never asked for a snapshot
    std::int64_t resync_due_ns = 0;  ///< when to ask for the snapshot again
    /// The one slot the requests go to (none: every feeder), whether it delivered on this
    /// stream since the last request, and since when the stream waits (arbiter.cpp, tick()).
    slot_id resync_ask = slot_id::none;
    bool ask_delivered = false;
    std::int64_t awaiting_since_ns = 0;
    std::uint64_t last = 0;
    /// Backfill asked for the hole at the front of the hold: wait for it until this time (0:
    /// none asked). Ends when the hold empties or a gap record is published for the hole.
    std::int64_t backfill_until_ns = 0;
    /// The ids the pending backfill asked for: a stream past backfill_to no longer waits for it
    /// (a later hole gets its own request), and a feeder's failure for ids before backfill_from
    /// is an earlier request's, not this one's.
    std::uint64_t backfill_from = 0, backfill_to = 0;
    /// A suspect window closed on a stream whose trades can be fetched as fills: the next trade
    /// starts the backfill (await_window_backfill).
    bool window_pending = false;
    /// The pending backfill is a window's (ids cannot show when it is complete: the feeder's
    /// backfill_done does); while backfill_until_ns != 0, trades from the stream wait.
    bool backfill_window = false;
    /// The ids of the last gap record published after a backfill: backfilled trades in this
    /// range came too late (counted as backfill_late, not as duplicates).
    std::uint64_t late_from = 1, late_to = 0;
    // Per slot, a split snapshot in progress: its later parts follow the first part's verdict.
    struct open_parts {
      bool open = false;
      bool published = false;
      std::uint64_t seq = 0;
    };
    std::array<open_parts, kSlots> parts{};
    /// Per slot: in step on this stream (delivered a copy of a published record, or won
    /// while the partner was not in step). Only consulted for streams without holes.
    std::array<bool, kSlots> in_step{};
    // Records held behind a hole, in arrival order; bytes packed in `hold`.
    hold_buffer hold;
    std::size_t hold_used = 0;
    std::vector<held_record> held;
    // Sequence-less streams: recent content hashes (ring).
    std::vector<std::uint64_t> recent;
    std::size_t recent_next = 0;
    std::array<published_mark, kRaceMemory> race{};
    std::size_t race_next = 0;
    stream_stats stats;
  };
  enum class verdict : std::uint8_t { duplicate, next, hole, reset, rebase };

  stream_state* find_or_add(const record_header& h) noexcept;
  verdict judge(stream_state& s, const record_view& r) const noexcept;
  /// judge(), plus the join rule for a slot not in step (slot_reset()).
  verdict judge_from(stream_state& s, const record_view& r, slot_id from) const noexcept;
  /// Publish, update the stream's sequence; `v` is next, reset or rebase.
  void accept(stream_state& s, const record_view& r, slot_id from, verdict v) noexcept;
  /// Count a dropped copy against its slot and time the race against the published one.
  void duplicate(stream_state& s, const record_view& r, slot_id from) noexcept;
  void hold(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns, std::uint64_t ring_pos) noexcept;
  /// Publish or drop held records the stream can now take; repeat until none moves.
  void drain(stream_state& s, std::int64_t now_ns) noexcept;
  /// The stream's deltas wait for a snapshot from now on; ask the feeders for one.
  void start_awaiting(stream_state& s, std::int64_t now_ns, slot_id ask = slot_id::none) noexcept;
  void publish_gap(stream_state& s, const record_header& h, slot_id from, std::uint64_t first_after,
                   std::int64_t held_ns, gap_reason reason = gap_reason::hole_timeout) noexcept;
  /// The hole at the front of the hold outlived the window: ask for backfill. False when the
  /// stream cannot be backfilled (then the caller publishes the gap).
  bool try_backfill(stream_state& s, std::int64_t now_ns) noexcept;
  /// A gap record from a feeder's ring: a backfill it could not complete (or, for a window's,
  /// completed: backfill_done).
  void feeder_gap(stream_state& s, const record_view& r, std::int64_t now_ns) noexcept;
  /// The first trade after a suspect window: ask its slot for the fills the window lost.
  void start_window_backfill(stream_state& s, const record_view& r, slot_id from, std::int64_t now_ns) noexcept;
  /// When the stream's oldest held record arrived (INT64_MAX when none is held).
  [[nodiscard]] static std::int64_t oldest_arrival(const stream_state& s) noexcept;
  /// A window's backfill is waited for (its trades are held).
  [[nodiscard]] static bool window_wait(const stream_state& s) noexcept { return s.backfill_window && s.backfill_until_ns != 0; }
  /// End a window's wait: a gap record for what did not come (reason != unknown), then the held trades.
  void end_window_wait(stream_state& s, std::int64_t now_ns, gap_reason reason, slot_id from) noexcept;
  [[nodiscard]] std::uint64_t race_key(const record_view& r) const noexcept;
  /// Give up waiting on the hole before the held record with the lowest sequence.
  void force_oldest_hole(stream_state& s, std::int64_t now_ns, gap_reason reason = gap_reason::hole_timeout) noexcept;
  void remove_held(stream_state& s, std::size_t index) noexcept;
  void update_deadline() noexcept;

  arbiter_options options_;
  merge_output& out_;
  std::vector<stream_state> streams_;
  std::size_t used_streams_ = 0;
  std::unordered_map<stream_key, std::uint32_t, stream_key_hash> index_;
  std::vector<std::uint32_t> holding_;   ///< streams with held records
  std::vector<std::uint32_t> awaiting_;  ///< book streams waiting for a snapshot
  std::int64_t next_deadline_;
  arbiter_stats stats_;
};

}  // namespace mdbus::merge
