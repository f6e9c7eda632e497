#pragma once
/// Shared-memory segments: naming, the common header, the attach handshake and writer
/// liveness. Plain POSIX shm_open/mmap rather than Boost.Interprocess because the design
/// needs the file descriptor itself: an OFD `fcntl` lock held for the writer's life (the
/// kernel drops it when the writer dies), `fstat` of the real size before trusting any
/// header field, O_EXCL creation, fchmod of the mode, and MAP_POPULATE so the hot path
/// never page-faults. Boost's shared_memory_object hides or re-wraps each of those.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>
#include <sys/types.h>

namespace mdbus {

/// Fixed, not std::hardware_destructive_interference_size: the layout must not depend on
/// the compiler flags of whichever process created the segment.
inline constexpr std::size_t kCacheLine = 64;

/// "MDBUSSEG" as little-endian bytes.
inline constexpr std::uint64_t kSegmentMagic = 0x4745'5353'5542'4D44ULL;

/// Version of every shared-memory layout in this build (segment header and each kind's
/// control block). Bump on any layout change: old and new builds then refuse each other.
inline constexpr std::uint32_t kLayoutVersion = 5;  // 5: resync slots by a channel's position in its venue descriptor; 4: reader tables begin with the ring's doorbell

enum class segment_kind : std::uint32_t {
  spsc_ring = 1,
  broadcast_ring = 2,
  counters = 3,
  status_block = 4,
  control_block = 5,
  reader_table = 6,  ///< `<broadcast ring>.readers`: each reader's position, for tools; the ring's doorbell
  doorbell = 7,      ///< `merge.bell`: the line feeders ring to wake the merger (doorbell.hpp)
  venue_budget = 16, ///< `budget.<venue>`: one REST budget and connection pace per venue (venue_budget.hpp)
};

std::string_view to_string(segment_kind k) noexcept;

/// The first 128 bytes of every segment.
struct segment_header {
  // Line 0: written once by the creator, before `layout_version`; immutable afterwards.
  std::uint64_t magic;
  /// 0 while the creator is still filling the segment. Written last with a release store;
  /// openers load it with acquire before trusting any other field.
  std::atomic<std::uint32_t> layout_version;
  std::uint32_t kind;
  std::uint64_t total_size;
  std::int64_t creator_pid;
  std::int64_t creation_time_ns;  ///< CLOCK_REALTIME
  std::array<std::uint64_t, 3> geometry;  ///< kind-specific; validated by the kind's opener

  // Line 1: the current writer's liveness (one writer at a time, enforced by the lock).
  alignas(kCacheLine) std::atomic<std::int64_t> writer_pid;
  std::atomic<std::uint64_t> writer_epoch;        ///< bumped by each writer that takes the segment
  std::atomic<std::int64_t> writer_heartbeat_ns;  ///< CLOCK_MONOTONIC
  std::uint8_t reserved[40];
};
static_assert(sizeof(segment_header) == 2 * kCacheLine);
static_assert(offsetof(segment_header, layout_version) == 8);
static_assert(offsetof(segment_header, geometry) == 40);
static_assert(offsetof(segment_header, writer_pid) == kCacheLine);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

inline constexpr std::size_t kSegmentHeaderSize = sizeof(segment_header);

/// Frame type 0 is reserved in every ring for the padding frame at the wrap.
inline constexpr std::uint32_t kPaddingType = 0;

/// A setup error about one segment. The message names the segment and what is wrong.
class segment_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A segment that belongs to another uid than the expected one (another local user created
/// the name first): refused before anything in it is trusted, locked, chmod-ed or written.
/// Waiting or restarting does not help — the daemons exit 2 on it, like a refused config.
class segment_owner_error : public segment_error {
 public:
  using segment_error::segment_error;
};

/// The environment variable naming the uid whose segments a reader trusts, for a consumer of
/// another user's group-readable (0640) bus; readers trust only their own euid without it.
inline constexpr const char* kBusUidVariable = "MDBUS_BUS_UID";

/// "65534" → 65534; nullopt for anything but a decimal uid (no sign, no spaces, < 2^32 - 1).
std::optional<uid_t> parse_uid(std::string_view text) noexcept;

/// The uid a reader expects its segments to be owned by: MDBUS_BUS_UID when set, else the
/// effective uid. nullopt (and `why`, one line) when MDBUS_BUS_UID is set but not a uid.
std::optional<uid_t> expected_segment_owner(std::string* why = nullptr);

/// The one-line refusal of segment `name` owned by `owner` where `expected` was wanted, or
/// nullopt when they agree. Pure.
std::optional<std::string> check_owner(uid_t owner, uid_t expected, std::string_view name);

/// "mdbus.<bus>.<object>". Bus: [A-Za-z0-9_-]{1,64}; object: same plus '.', up to 128.
/// Throws segment_error naming the bad part.
std::string segment_name(std::string_view bus, std::string_view object);

enum class attach_status {
  ok,
  await,         ///< exists but not finished by its creator yet, or does not exist yet
  incompatible,  ///< will never be usable by this build; `reason` says why
};

enum class access_mode { read_only, read_write };

/// What a writer needs to create (or adopt) a segment.
struct segment_spec {
  std::string name;  ///< from segment_name()
  segment_kind kind{};
  std::uint64_t total_size = 0;
  std::array<std::uint64_t, 3> geometry{};
  mode_t mode = 0600;  ///< 0640 for group-readable buses
};

/// Liveness of a segment's writer as judged by a reader.
enum class writer_liveness {
  alive,  ///< lock held and heartbeat fresh
  stale,  ///< lock held but heartbeat older than the limit (hung writer)
  dead,   ///< nobody holds the writer lock
};

/// Byte-range locks on the segment file. OFD locks: owned by the open file description,
/// so two segments (or two opens of one) in one process never release each other's lock.
enum class lock_role : off_t { writer = 0, reader = 1 };

class shm_segment;
struct attach_result;
struct segment_info;
segment_info inspect_segment(std::string_view name);

/// One mapped segment. Move-only; unmaps and closes (dropping any lock) on destruction.
class shm_segment {
 public:
  shm_segment() = default;
  shm_segment(shm_segment&& other) noexcept;
  shm_segment& operator=(shm_segment&& other) noexcept;
  shm_segment(const shm_segment&) = delete;
  shm_segment& operator=(const shm_segment&) = delete;
  ~shm_segment() noexcept;

  /// Writer side. Creates the segment (O_EXCL), or adopts an existing one whose writer is
  /// dead and whose header matches `spec` exactly (kind, size, geometry, version): the body
  /// is kept, so a restarted writer resumes. A leftover that does not match is unlinked and
  /// recreated. Takes the writer lock and bumps the writer epoch. An existing segment owned
  /// by another uid than our effective one is refused first (segment_owner_error, naming
  /// its owner): nothing of it is locked, chmod-ed, read or written. Throws segment_error
  /// if a live writer holds the segment or a system call fails.
  static shm_segment create_or_adopt(const segment_spec& spec, bool* adopted = nullptr);

  /// Reader side: one attempt, never throws for an absent or unfinished segment. A segment
  /// whose owner (fstat) is not expected_segment_owner() is `incompatible` with
  /// `foreign_owner` set, before its header is read; so is one whose size changed while
  /// it was being attached (truncated by its owner).
  static attach_result try_open(std::string_view name, segment_kind kind, access_mode mode);

  /// Reader side: retries `await` until `wait_ms` passes, then throws segment_error with
  /// the last reason; throws at once for `incompatible` (segment_owner_error for a segment
  /// of another owner).
  static shm_segment open(std::string_view name, segment_kind kind, access_mode mode,
                          int wait_ms = 0);

  /// shm_unlink; true if it existed. Mapped users keep their mapping.
  static bool remove(std::string_view name) noexcept;
  /// Whether a segment of this name exists (one stat(), no allocation: for idle paths that
  /// look for a segment before they try to open it).
  [[nodiscard]] static bool exists(std::string_view name) noexcept;

  [[nodiscard]] bool valid() const noexcept { return base_ != nullptr; }
  [[nodiscard]] std::byte* base() noexcept { return base_; }
  [[nodiscard]] const std::byte* base() const noexcept { return base_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] const std::string& name() const noexcept { return name_; }
  [[nodiscard]] bool writable() const noexcept { return writable_; }
  [[nodiscard]] segment_header& header() noexcept;
  [[nodiscard]] const segment_header& header() const noexcept;
  [[nodiscard]] std::byte* body() noexcept { return base_ + kSegmentHeaderSize; }
  [[nodiscard]] const std::byte* body() const noexcept { return base_ + kSegmentHeaderSize; }

  /// Whether the segment still covers the whole mapping (one fstat). False once its owner
  /// has truncated it: touching the mapping past the new end then raises SIGBUS, which
  /// nothing can prevent for a MAP_SHARED mapping (bus/README.md, "Truncation"). Cheap
  /// enough for an idle loop, not for the hot path.
  [[nodiscard]] bool mapping_intact() const noexcept;

  /// Whether the segment's name now refers to another file than the one mapped (its owner
  /// replaced it): one stat() and one fstat(). False when the name is gone or on error.
  [[nodiscard]] bool replaced_by_name() const noexcept;

  /// Writer: publish "still alive" (a plain store; call it from the main loop, e.g. every ms).
  void heartbeat(std::int64_t now_mono_ns) noexcept;

  /// Take a role lock (non-blocking). False if another open file description holds it.
  [[nodiscard]] bool try_lock(lock_role role) noexcept;
  /// Whether some *other* open file description holds the role lock.
  [[nodiscard]] bool is_locked_by_other(lock_role role) const noexcept;

  /// Reader's judgement of the writer: lock state plus heartbeat age.
  [[nodiscard]] writer_liveness writer_state(std::int64_t max_heartbeat_age_ns,
                                             std::int64_t now_mono_ns) const noexcept;

 private:
  friend segment_info inspect_segment(std::string_view name);
  shm_segment(int fd, std::byte* base, std::size_t size, std::string name, bool writable) noexcept;
  void reset() noexcept;

  int fd_ = -1;
  std::byte* base_ = nullptr;
  std::size_t size_ = 0;
  std::string name_;
  bool writable_ = false;
};

struct attach_result {
  attach_status status = attach_status::await;
  std::string reason;  ///< empty for ok; one line naming the segment otherwise
  bool foreign_owner = false;  ///< incompatible because another uid owns the segment
  bool abandoned = false;      ///< incompatible because, at that look, it was sized, unfinished and had no writer
  shm_segment segment;  ///< valid only for ok
};

/// What an inspection tool learns about any segment, whatever its kind or state.
struct segment_info {
  std::string name;
  std::string bus;     ///< parsed from the name
  std::string object;  ///< parsed from the name
  attach_status status = attach_status::await;
  std::string reason;  ///< why not ok (permission denied, bad magic, ...)
  std::uint64_t file_size = 0;
  std::uint32_t mode = 0;  ///< permission bits
  std::uint32_t owner_uid = 0;  ///< the segment file's owner (fstat, or stat when it does not open)
  bool foreign_owner = false;   ///< owner is not expected_segment_owner(): `incompatible`, header untrusted
  std::uint32_t layout_version = 0;
  segment_kind kind{};
  std::int64_t creator_pid = 0;
  std::int64_t creation_time_ns = 0;
  std::array<std::uint64_t, 3> geometry{};
  std::int64_t writer_pid = 0;
  std::uint64_t writer_epoch = 0;
  std::int64_t writer_heartbeat_ns = 0;  ///< CLOCK_MONOTONIC
  bool writer_alive = false;             ///< writer lock held
  bool reader_attached = false;          ///< reader lock held (SPSC rings)
  bool permission_denied = false;
};

/// Names of every mdbus segment in /dev/shm (of one bus if `bus` is not empty), sorted.
std::vector<std::string> list_segments(std::string_view bus = {});

/// Reads any segment's header without trusting it and without taking a lock. A segment of
/// another owner than expected_segment_owner() is `incompatible` (its header fields are
/// still filled in, for display only).
segment_info inspect_segment(std::string_view name);

/// Validates a mapped header against the file's real size and the expected kind.
/// Returns nullopt for a good header, otherwise (status, reason). Pure: unit-testable.
std::optional<std::pair<attach_status, std::string>> check_header(
    const segment_header& h, std::uint64_t file_size, segment_kind expected,
    std::string_view name);

}  // namespace mdbus
