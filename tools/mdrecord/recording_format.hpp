#pragma once
/// The on-disk format of an mdbus recording (mdrecord writes it, mdreplay reads it).
///
/// A recording is a directory of data files `mdrec-NNNNNN.zst` (N = 0, 1, …) with one index
/// file `mdrec-NNNNNN.idx` each, plus `manifest.json` (informational: bus, ring, times).
///
/// Data file = one valid zstd stream (`zstd -dc` decompresses it):
///   * a zstd *skippable frame* holding the file_header (decoders skip it);
///   * one zstd frame per block; a block decompresses to a sequence of entries:
///     entry_header, then `length` bytes — a record frame exactly as it was on the ring
///     (kind record) or a lap_marker (kind lap: records the recorder never saw).
///
/// Content-determined: block and file boundaries depend only on the records (sizes and
/// publish times), never on when mdrecord happened to read them, and nothing volatile (wall
/// time, pid, bus name) is in data or index files. So recording a replay of a recording
/// gives byte-identical files — the round-trip property the tests check.
///
/// Little-endian fixed layouts, explicit padding, every field at a fixed offset.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace mdbus::recording {

inline constexpr std::uint64_t kFileMagic = 0x4345'5253'5542'444DULL;   // "MDBUSREC"
inline constexpr std::uint64_t kIndexMagic = 0x5844'4953'5542'444DULL;  // "MDBUSIDX"
inline constexpr std::uint32_t kFormatVersion = 1;
/// zstd skippable frame magic (0x184D2A50..5F: decoders skip the frame).
inline constexpr std::uint32_t kSkippableMagic = 0x184D2A50;

/// In the skippable frame at the start of each data file.
struct file_header {
  std::uint64_t magic;                 ///< kFileMagic
  std::uint32_t format_version;        ///< kFormatVersion
  std::uint32_t record_layout_version; ///< kRecordLayoutVersion of the records inside
  std::uint32_t file_index;            ///< N of mdrec-NNNNNN
  std::uint32_t pad;
  std::uint64_t ring_capacity;         ///< geometry of the ring recorded (mdreplay's default)
  std::uint64_t ring_max_payload;
  std::uint64_t first_entry;           ///< ordinal (within the recording) of this file's first entry
};
static_assert(sizeof(file_header) == 48);
static_assert(std::is_trivially_copyable_v<file_header>);

enum class entry_kind : std::uint32_t {
  record = 1,  ///< payload: one ring frame's bytes (normally a bus record); `frame_type` its type
  lap = 2,     ///< payload: lap_marker — frames the recorder lost
};

struct entry_header {
  std::uint32_t kind;        ///< entry_kind
  std::uint32_t length;      ///< payload bytes that follow
  std::uint32_t frame_type;  ///< kind record: the ring frame type
  std::uint32_t pad;
};
static_assert(sizeof(entry_header) == 16);

/// The recorder fell a ring behind (or the ring was corrupt): these frames are not in the file.
struct lap_marker {
  std::uint64_t missed_frames;  ///< 0 with `corrupt`: unknown
  std::uint64_t missed_bytes;
  std::int64_t last_publish_ns;  ///< publish time of the last record recorded before the loss (0: none)
  std::uint32_t corrupt;         ///< 1: the ring contradicted its geometry and was re-attached at its newest frame
  std::uint32_t pad;
};
static_assert(sizeof(lap_marker) == 32);
static_assert(std::is_trivially_copyable_v<lap_marker>);

/// Index file: index_header, then one index_entry per block (in order).
struct index_header {
  std::uint64_t magic;           ///< kIndexMagic
  std::uint32_t format_version;  ///< kFormatVersion
  std::uint32_t file_index;
};
static_assert(sizeof(index_header) == 16);

struct index_entry {
  std::uint64_t offset;        ///< of the block's zstd frame in the data file
  std::uint32_t compressed;    ///< frame bytes
  std::uint32_t uncompressed;  ///< entry bytes
  std::uint64_t first_entry;   ///< ordinal of the block's first entry in the recording
  std::uint32_t entries;
  std::uint32_t laps;          ///< lap entries in the block
  std::int64_t first_publish_ns;  ///< of the block's first / last record (0 if none had one)
  std::int64_t last_publish_ns;
};
static_assert(sizeof(index_entry) == 48);
static_assert(std::is_trivially_copyable_v<index_entry>);

}  // namespace mdbus::recording
