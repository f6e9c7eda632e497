#include "mdbus/shm_segment.hpp"

#include "bus/clock.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <dirent.h>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace mdbus {
namespace {

std::string sys_error(std::string_view name, std::string_view what) {
  return "segment " + std::string(name) + ": " + std::string(what) + ": " + std::strerror(errno);
}

std::string shm_path(std::string_view name) { return "/" + std::string(name); }

/// stat of /dev/shm/<name> (where Linux keeps shm_open's names), for a segment that does
/// not open: who owns it is what the refusal line must say.
/// The path is built on the stack: idle paths of the hot processes call this (no allocation).
bool stat_by_name(std::string_view name, struct stat& st) noexcept {
  char path[sizeof("/dev/shm/") + NAME_MAX];
  if (name.size() > NAME_MAX) return false;
  std::memcpy(path, "/dev/shm/", 9);
  std::memcpy(path + 9, name.data(), name.size());
  path[9 + name.size()] = '\0';
  return ::stat(path, &st) == 0;
}

/// " (owned by uid U, mode 0MMM)" for a segment that exists but does not open, else "".
std::string owner_note(std::string_view name) {
  struct stat st {};
  if (!stat_by_name(name, st)) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return " (owned by uid " + std::to_string(st.st_uid) + ", mode " + mode + ")";
}

bool name_chars_ok(std::string_view s, bool allow_dot) noexcept {
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || (allow_dot && c == '.');
    if (!ok) return false;
  }
  return true;
}

flock lock_request(short type, lock_role role) noexcept {
  flock fl{};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(role);
  fl.l_len = 1;
  return fl;
}

// Maps the whole file; MAP_POPULATE so no page fault lands on the hot path later.
std::byte* map_fd(int fd, std::size_t size, bool writable) noexcept {
  const int prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ;
  void* p = mmap(nullptr, size, prot, MAP_SHARED | MAP_POPULATE, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
}

}  // namespace

std::string_view to_string(segment_kind k) noexcept {
  switch (k) {
    case segment_kind::spsc_ring: return "spsc_ring";
    case segment_kind::broadcast_ring: return "broadcast_ring";
    case segment_kind::counters: return "counters";
    case segment_kind::status_block: return "status_block";
    case segment_kind::control_block: return "control_block";
    case segment_kind::reader_table: return "reader_table";
    case segment_kind::venue_budget: return "venue_budget";
    case segment_kind::doorbell: return "doorbell";
  }
  return "unknown";
}

std::string segment_name(std::string_view bus, std::string_view object) {
  if (bus.empty() || bus.size() > 64 || !name_chars_ok(bus, false))
    throw segment_error("bus name '" + std::string(bus) +
                        "' must be 1-64 characters of [A-Za-z0-9_-]");
  if (object.empty() || object.size() > 128 || !name_chars_ok(object, true) ||
      object.front() == '.' || object.back() == '.')
    throw segment_error("segment object name '" + std::string(object) +
                        "' must be 1-128 characters of [A-Za-z0-9_.-], not starting or ending with '.'");
  return "mdbus." + std::string(bus) + "." + std::string(object);
}

std::optional<uid_t> parse_uid(std::string_view text) noexcept {
  if (text.empty() || text.size() > 10) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v >= 0xFFFF'FFFFULL) return std::nullopt;  // (uid_t)-1 means "no uid" to the kernel
  return static_cast<uid_t>(v);
}

std::optional<uid_t> expected_segment_owner(std::string* why) {
  const char* v = std::getenv(kBusUidVariable);
  if (v == nullptr || *v == '\0') return ::geteuid();
  if (const auto uid = parse_uid(v)) return uid;
  if (why != nullptr) *why = std::string(kBusUidVariable) + "=\"" + v + "\" is not a uid";
  return std::nullopt;
}

std::optional<std::string> check_owner(uid_t owner, uid_t expected, std::string_view name) {
  if (owner == expected) return std::nullopt;
  return "segment " + std::string(name) + ": owned by uid " + std::to_string(owner) + ", expected uid " +
         std::to_string(expected) + ", refused";
}

std::optional<std::pair<attach_status, std::string>> check_header(const segment_header& h,
                                                                   std::uint64_t file_size,
                                                                   segment_kind expected,
                                                                   std::string_view name) {
  auto bad = [&](attach_status s, std::string why) {
    return std::optional{std::pair{s, "segment " + std::string(name) + ": " + std::move(why)}};
  };
  // acquire: pairs with the creator's release store of the version, written last; every
  // other header field read below is therefore complete.
  const std::uint32_t version = h.layout_version.load(std::memory_order_acquire);
  if (version == 0) return bad(attach_status::await, "not ready (creator still initialising)");
  if (h.magic != kSegmentMagic) return bad(attach_status::incompatible, "bad magic: not an mdbus segment");
  if (version != kLayoutVersion)
    return bad(attach_status::incompatible, "layout version " + std::to_string(version) +
                                                ", this build reads " + std::to_string(kLayoutVersion));
  if (h.kind != static_cast<std::uint32_t>(expected))
    return bad(attach_status::incompatible,
               "kind " + std::string(to_string(static_cast<segment_kind>(h.kind))) + " (" +
                   std::to_string(h.kind) + "), expected " + std::string(to_string(expected)));
  if (h.total_size != file_size)
    return bad(attach_status::incompatible, "header says " + std::to_string(h.total_size) +
                                                " bytes but the segment is " + std::to_string(file_size));
  if (h.creator_pid <= 0)
    return bad(attach_status::incompatible, "creator pid " + std::to_string(h.creator_pid) + " is invalid");
  return std::nullopt;
}

shm_segment::shm_segment(int fd, std::byte* base, std::size_t size, std::string name, bool writable) noexcept
    : fd_(fd), base_(base), size_(size), name_(std::move(name)), writable_(writable) {}

shm_segment::shm_segment(shm_segment&& other) noexcept
    : fd_(other.fd_), base_(other.base_), size_(other.size_), name_(std::move(other.name_)),
      writable_(other.writable_) {
  other.fd_ = -1;
  other.base_ = nullptr;
  other.size_ = 0;
}

shm_segment& shm_segment::operator=(shm_segment&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = other.fd_;
    base_ = other.base_;
    size_ = other.size_;
    name_ = std::move(other.name_);
    writable_ = other.writable_;
    other.fd_ = -1;
    other.base_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

shm_segment::~shm_segment() noexcept { reset(); }

void shm_segment::reset() noexcept {
  if (base_ != nullptr) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);  // drops any OFD lock held through this description
  base_ = nullptr;
  fd_ = -1;
  size_ = 0;
}

segment_header& shm_segment::header() noexcept { return *reinterpret_cast<segment_header*>(base_); }
const segment_header& shm_segment::header() const noexcept {
  return *reinterpret_cast<const segment_header*>(base_);
}

bool shm_segment::mapping_intact() const noexcept {
  struct stat st {};
  return fd_ >= 0 && fstat(fd_, &st) == 0 && static_cast<std::uint64_t>(st.st_size) >= size_;
}

bool shm_segment::exists(std::string_view name) noexcept {
  struct stat st {};
  return stat_by_name(name, st);
}

bool shm_segment::replaced_by_name() const noexcept {
  struct stat mine {}, named {};
  if (fd_ < 0 || fstat(fd_, &mine) != 0 || !stat_by_name(name_, named)) return false;
  return mine.st_ino != named.st_ino || mine.st_dev != named.st_dev;
}

bool shm_segment::try_lock(lock_role role) noexcept {
  flock fl = lock_request(F_WRLCK, role);
  return fcntl(fd_, F_OFD_SETLK, &fl) == 0;
}

bool shm_segment::is_locked_by_other(lock_role role) const noexcept {
  flock fl = lock_request(F_WRLCK, role);
  if (fcntl(fd_, F_OFD_GETLK, &fl) != 0) return false;
  return fl.l_type != F_UNLCK;
}

void shm_segment::heartbeat(std::int64_t now_mono_ns) noexcept {
  // relaxed: a lone timestamp; readers only compare its age, nothing is published with it.
  header().writer_heartbeat_ns.store(now_mono_ns, std::memory_order_relaxed);
}

writer_liveness shm_segment::writer_state(std::int64_t max_heartbeat_age_ns,
                                          std::int64_t now_mono_ns) const noexcept {
  if (!is_locked_by_other(lock_role::writer)) return writer_liveness::dead;
  const auto hb = header().writer_heartbeat_ns.load(std::memory_order_relaxed);
  return now_mono_ns - hb > max_heartbeat_age_ns ? writer_liveness::stale : writer_liveness::alive;
}

shm_segment shm_segment::create_or_adopt(const segment_spec& spec, bool* adopted) {
  if (spec.total_size < kSegmentHeaderSize)
    throw segment_error("segment " + spec.name + ": size " + std::to_string(spec.total_size) +
                        " is smaller than the header");
  const std::string path = shm_path(spec.name);
  // A few rounds: another process may unlink or create the name between our calls.
  int unsized_waits = 0;  // ms waited on a size-0 segment (a creator between shm_open and its lock)
  for (int attempt = 0; attempt < 8; ++attempt) {
    bool created = true;
    int fd = shm_open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, spec.mode);
    if (fd < 0 && errno == EEXIST) {
      created = false;
      fd = shm_open(path.c_str(), O_RDWR | O_CLOEXEC, 0);
      if (fd < 0 && errno == ENOENT) continue;
      if (fd < 0 && errno == EACCES) {  // most likely another user's, mode 0600: say whose
        struct stat st {};
        if (stat_by_name(spec.name, st))
          if (auto why = check_owner(st.st_uid, ::geteuid(), spec.name)) throw segment_owner_error(*why);
        errno = EACCES;
      }
    }
    if (fd < 0) throw segment_error(sys_error(spec.name, "shm_open"));
    shm_segment seg(fd, nullptr, 0, spec.name, true);
    if (!created) {
      // Before the lock, the fchmod and any byte of it: a name another user took first is
      // theirs, not a leftover of ours (fchmod would fail with EPERM — a crash loop — and a
      // root writer would otherwise adopt it).
      struct stat st {};
      if (fstat(fd, &st) != 0) throw segment_error(sys_error(spec.name, "fstat"));
      if (auto why = check_owner(st.st_uid, ::geteuid(), spec.name)) throw segment_owner_error(*why);
      // Size 0: its creator is between shm_open and its lock (it sizes the file only while
      // holding the lock). Taking the lock now would make us judge its fresh file a leftover
      // and unlink it under it; wait for it instead — up to 100 ms, then it is abandoned.
      if (st.st_size == 0 && unsized_waits < 100) {
        ++unsized_waits;
        --attempt;
        seg = shm_segment();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // set-up path
        continue;
      }
    }

    // Our own fresh file can be locked by nobody else but a prober that gives it back at
    // once (one that took it before the wait above existed, or saw it at size 0 too late):
    // retry briefly rather than report a live writer that is not there.
    bool locked = seg.try_lock(lock_role::writer);
    for (int i = 0; !locked && created && i < 50; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      locked = seg.try_lock(lock_role::writer);
    }
    if (!locked) {
      std::string who;
      struct stat st{};
      if (fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) >= kSegmentHeaderSize) {
        if (std::byte* p = map_fd(fd, kSegmentHeaderSize, false)) {
          who = " (pid " +
                std::to_string(reinterpret_cast<const segment_header*>(p)->writer_pid.load()) + ")";
          munmap(p, kSegmentHeaderSize);
        }
      }
      throw segment_error("segment " + spec.name + ": already has a live writer" + who);
    }
    // fchmod: the process umask may have narrowed the mode given to shm_open; an adopted
    // segment takes the mode its new writer asks for.
    if (fchmod(fd, spec.mode) != 0) throw segment_error(sys_error(spec.name, "fchmod"));

    if (!created) {
      struct stat st{};
      if (fstat(fd, &st) != 0) throw segment_error(sys_error(spec.name, "fstat"));
      std::string mismatch;
      if (static_cast<std::uint64_t>(st.st_size) != spec.total_size) {
        mismatch = "size " + std::to_string(st.st_size) + " != " + std::to_string(spec.total_size);
      } else {
        seg.base_ = map_fd(fd, spec.total_size, true);
        if (seg.base_ == nullptr) throw segment_error(sys_error(spec.name, "mmap"));
        seg.size_ = spec.total_size;
        if (auto bad = check_header(seg.header(), st.st_size, spec.kind, spec.name)) {
          mismatch = bad->second;
        } else if (seg.header().geometry != spec.geometry) {
          mismatch = "geometry differs from the requested one";
        }
      }
      if (mismatch.empty()) {
        segment_header& h = seg.header();
        h.writer_pid.store(getpid(), std::memory_order_relaxed);
        h.writer_epoch.fetch_add(1, std::memory_order_relaxed);
        seg.heartbeat(mono_ns());
        if (adopted != nullptr) *adopted = true;
        return seg;
      }
      // A leftover from a dead writer that we cannot resume: replace it. Readers still
      // mapping the old one see its writer lock free forever and reopen by name.
      shm_unlink(path.c_str());
      continue;
    }

    if (ftruncate(fd, static_cast<off_t>(spec.total_size)) != 0)
      throw segment_error(sys_error(spec.name, "ftruncate to " + std::to_string(spec.total_size)));
    seg.base_ = map_fd(fd, spec.total_size, true);
    if (seg.base_ == nullptr) throw segment_error(sys_error(spec.name, "mmap"));
    seg.size_ = spec.total_size;
    segment_header& h = seg.header();  // ftruncate zero-filled everything, version included
    h.magic = kSegmentMagic;
    h.kind = static_cast<std::uint32_t>(spec.kind);
    h.total_size = spec.total_size;
    h.creator_pid = getpid();
    h.creation_time_ns = wall_ns();
    h.geometry = spec.geometry;
    h.writer_pid.store(getpid(), std::memory_order_relaxed);
    h.writer_epoch.store(1, std::memory_order_relaxed);
    h.writer_heartbeat_ns.store(mono_ns(), std::memory_order_relaxed);
    // release: publishes every header field above; pairs with check_header's acquire.
    h.layout_version.store(kLayoutVersion, std::memory_order_release);
    if (adopted != nullptr) *adopted = false;
    return seg;
  }
  throw segment_error("segment " + spec.name + ": name keeps changing under us (concurrent creators?)");
}

attach_result shm_segment::try_open(std::string_view name, segment_kind kind, access_mode mode) {
  attach_result r;
  const std::string path = shm_path(name);
  const bool writable = mode == access_mode::read_write;
  int fd = shm_open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno == ENOENT) {
      r.status = attach_status::await;
      r.reason = "segment " + std::string(name) + ": does not exist (yet)";
    } else {
      r.status = attach_status::incompatible;
      r.reason = sys_error(name, writable ? "open read-write" : "open read-only") + owner_note(name);
    }
    return r;
  }
  shm_segment seg(fd, nullptr, 0, std::string(name), writable);
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    r.status = attach_status::incompatible;
    r.reason = sys_error(name, "fstat");
    return r;
  }
  // Whose it is, before a byte of it is trusted: another user may have created a well-formed
  // segment under our bus's name first.
  std::string why;
  const auto expected = expected_segment_owner(&why);
  if (!expected) {
    r.status = attach_status::incompatible;
    r.reason = "segment " + std::string(name) + ": " + why;
    return r;
  }
  if (auto bad = check_owner(st.st_uid, *expected, name)) {
    r.status = attach_status::incompatible;
    r.reason = std::move(*bad);
    r.foreign_owner = true;
    return r;
  }
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size == 0) {  // created but not yet sized: the creator is between open and ftruncate
    r.status = attach_status::await;
    r.reason = "segment " + std::string(name) + ": not ready (size 0)";
    return r;
  }
  if (file_size < kSegmentHeaderSize) {
    r.status = attach_status::incompatible;
    r.reason = "segment " + std::string(name) + ": " + std::to_string(file_size) +
               " bytes, smaller than the " + std::to_string(kSegmentHeaderSize) + "-byte header";
    return r;
  }
  seg.base_ = map_fd(fd, file_size, writable);
  if (seg.base_ == nullptr) {
    r.status = attach_status::incompatible;
    r.reason = sys_error(name, "mmap");
    return r;
  }
  seg.size_ = file_size;
  if (auto bad = check_header(seg.header(), file_size, kind, name)) {
    // The creator sizes the file only while holding the writer lock; a sized, unfinished
    // segment whose lock is free was abandoned by a creator that died half-way.
    if (bad->first == attach_status::await && !seg.is_locked_by_other(lock_role::writer)) {
      r.status = attach_status::incompatible;
      r.reason = "segment " + std::string(name) + ": abandoned by its creator before it was finished";
      r.abandoned = true;
    } else {
      r.status = bad->first;
      r.reason = std::move(bad->second);
    }
    return r;
  }
  // The header agreed with the size we mapped; if the owner truncated the file meanwhile,
  // the mapping is already partly beyond its end (SIGBUS on touch): refuse it now.
  struct stat again {};
  if (fstat(fd, &again) != 0 || static_cast<std::uint64_t>(again.st_size) != file_size) {
    r.status = attach_status::incompatible;
    r.reason = "segment " + std::string(name) + ": size changed from " + std::to_string(file_size) + " to " +
               std::to_string(again.st_size) + " while attaching (truncated by its owner?)";
    return r;
  }
  r.status = attach_status::ok;
  r.segment = std::move(seg);
  return r;
}

shm_segment shm_segment::open(std::string_view name, segment_kind kind, access_mode mode, int wait_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    attach_result r = try_open(name, kind, mode);
    if (r.status == attach_status::ok) return std::move(r.segment);
    if (r.foreign_owner) throw segment_owner_error(r.reason);
    if (r.status == attach_status::incompatible || std::chrono::steady_clock::now() >= deadline)
      throw segment_error(r.reason);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // set-up path, not the hot path
  }
}

std::vector<std::string> list_segments(std::string_view bus) {
  std::vector<std::string> out;
  const std::string prefix = bus.empty() ? "mdbus." : "mdbus." + std::string(bus) + ".";
  if (DIR* d = opendir("/dev/shm")) {
    while (dirent* e = readdir(d)) {
      const std::string_view n = e->d_name;
      if (n.substr(0, prefix.size()) == prefix && n.size() > prefix.size()) out.emplace_back(n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

segment_info inspect_segment(std::string_view name) {
  segment_info info;
  info.name = std::string(name);
  if (name.substr(0, 6) == "mdbus.") {
    const std::string_view rest = name.substr(6);
    const auto dot = rest.find('.');
    info.bus = std::string(rest.substr(0, dot));
    if (dot != std::string_view::npos) info.object = std::string(rest.substr(dot + 1));
  }
  const std::string path = shm_path(name);
  int fd = shm_open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    const int err = errno;
    info.permission_denied = err == EACCES;
    info.status = err == ENOENT ? attach_status::await : attach_status::incompatible;
    info.reason = err == ENOENT ? "segment " + info.name + ": does not exist" : sys_error(name, "open read-only") + owner_note(name);
    if (struct stat st {}; err != ENOENT && stat_by_name(name, st)) {
      info.owner_uid = st.st_uid;
      info.mode = st.st_mode & 07777;
      info.file_size = static_cast<std::uint64_t>(st.st_size);
    }
    return info;
  }
  shm_segment seg(fd, nullptr, 0, info.name, false);
  struct stat st{};
  if (fstat(fd, &st) != 0) {
    info.status = attach_status::incompatible;
    info.reason = sys_error(name, "fstat");
    return info;
  }
  info.file_size = static_cast<std::uint64_t>(st.st_size);
  info.mode = st.st_mode & 07777;
  info.owner_uid = st.st_uid;
  // Another owner's segment is shown (for list and info) but never judged usable.
  std::string owner_refusal;
  if (const auto expected = expected_segment_owner(&owner_refusal)) {
    if (auto bad = check_owner(st.st_uid, *expected, name)) {
      owner_refusal = std::move(*bad);
      info.foreign_owner = true;
    }
  } else {
    owner_refusal = "segment " + info.name + ": " + owner_refusal;
  }
  auto refuse_owner = [&] {
    info.status = attach_status::incompatible;
    info.reason = owner_refusal;
    return info;
  };
  if (info.file_size < kSegmentHeaderSize) {
    if (!owner_refusal.empty()) return refuse_owner();
    info.status = info.file_size == 0 ? attach_status::await : attach_status::incompatible;
    info.reason = "segment " + info.name + ": " + std::to_string(info.file_size) + " bytes, no complete header";
    return info;
  }
  std::byte* p = map_fd(fd, kSegmentHeaderSize, false);
  if (p == nullptr) {
    if (!owner_refusal.empty()) return refuse_owner();
    info.status = attach_status::incompatible;
    info.reason = sys_error(name, "mmap");
    return info;
  }
  seg.base_ = p;
  seg.size_ = kSegmentHeaderSize;
  const segment_header& h = seg.header();
  info.layout_version = h.layout_version.load(std::memory_order_acquire);
  info.kind = static_cast<segment_kind>(h.kind);
  info.creator_pid = h.creator_pid;
  info.creation_time_ns = h.creation_time_ns;
  info.geometry = h.geometry;
  info.writer_pid = h.writer_pid.load(std::memory_order_relaxed);
  info.writer_epoch = h.writer_epoch.load(std::memory_order_relaxed);
  info.writer_heartbeat_ns = h.writer_heartbeat_ns.load(std::memory_order_relaxed);
  info.writer_alive = seg.is_locked_by_other(lock_role::writer);
  info.reader_attached = seg.is_locked_by_other(lock_role::reader);
  if (!owner_refusal.empty()) return refuse_owner();
  if (auto bad = check_header(h, info.file_size, info.kind, name)) {
    info.status = bad->first;
    info.reason = std::move(bad->second);
  } else {
    info.status = attach_status::ok;
  }
  return info;
}

bool shm_segment::remove(std::string_view name) noexcept {
  return shm_unlink(shm_path(name).c_str()) == 0;
}

}  // namespace mdbus
