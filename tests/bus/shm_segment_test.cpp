#include "mdbus/shm_segment.hpp"

#include "bus/clock.hpp"
#include "support/impostor.hpp"
#include "support/scoped_env.hpp"
#include "support/unique_bus.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

using namespace mdbus;

namespace {

segment_spec spec_for(const std::string& name, std::uint64_t size = 4096) {
  segment_spec s;
  s.name = name;
  s.kind = segment_kind::control_block;
  s.total_size = size;
  s.geometry = {7, 8, 9};
  return s;
}

// Writes an arbitrary file into /dev/shm, as a foreign program or a dead creator would.
void write_raw(const std::string& name, const void* bytes, std::size_t n, std::size_t file_size) {
  const int fd = shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, static_cast<off_t>(file_size)) == 0);
  const std::size_t len = n < file_size ? n : file_size;
  REQUIRE(pwrite(fd, bytes, len, 0) == static_cast<ssize_t>(len));
  close(fd);
}

void fill_good_header(segment_header& h, std::uint64_t size) {
  h.magic = kSegmentMagic;
  h.layout_version.store(kLayoutVersion);
  h.kind = static_cast<std::uint32_t>(segment_kind::control_block);
  h.total_size = size;
  h.creator_pid = 1;
}

}  // namespace

TEST_CASE("segment names are mdbus.<bus>.<object> and bad parts are refused by name") {
  CHECK(segment_name("prod", "feed.binance.A") == "mdbus.prod.feed.binance.A");
  CHECK_THROWS_WITH_AS(segment_name("a.b", "x"), doctest::Contains("bus name 'a.b'"), segment_error);
  CHECK_THROWS_AS(segment_name("", "x"), segment_error);
  CHECK_THROWS_AS(segment_name("a", ""), segment_error);
  CHECK_THROWS_AS(segment_name("a", "x/y"), segment_error);
  CHECK_THROWS_AS(segment_name("a", ".x"), segment_error);
  CHECK_THROWS_AS(segment_name(std::string(65, 'a'), "x"), segment_error);
}

TEST_CASE("a created segment opens read-only with its header intact and mode 0600") {
  test::unique_bus bus;
  const auto name = bus.segment("seg");
  bool adopted = true;
  shm_segment w = shm_segment::create_or_adopt(spec_for(name), &adopted);
  CHECK_FALSE(adopted);
  CHECK(w.writable());
  struct stat st{};
  REQUIRE(stat(("/dev/shm/" + name).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  shm_segment r = shm_segment::open(name, segment_kind::control_block, access_mode::read_only);
  CHECK_FALSE(r.writable());
  CHECK(r.size() == 4096);
  CHECK(r.header().geometry == std::array<std::uint64_t, 3>{7, 8, 9});
  CHECK(r.header().creator_pid == getpid());
  CHECK(r.header().writer_epoch.load() == 1);
  CHECK(r.header().creation_time_ns > 0);
}

TEST_CASE("group-readable mode is honoured") {
  test::unique_bus bus;
  auto spec = spec_for(bus.segment("seg"));
  spec.mode = 0640;
  shm_segment w = shm_segment::create_or_adopt(spec);
  struct stat st{};
  REQUIRE(stat(("/dev/shm/" + spec.name).c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("opening a missing segment says await, and open() gives up after its wait with the reason") {
  test::unique_bus bus;
  attach_result r = shm_segment::try_open(bus.segment("nothing"), segment_kind::control_block, access_mode::read_only);
  CHECK(r.status == attach_status::await);
  CHECK(r.reason.find("does not exist") != std::string::npos);
  CHECK_THROWS_WITH_AS(shm_segment::open(bus.segment("nothing"), segment_kind::control_block,
                                         access_mode::read_only, 20),
                       doctest::Contains("does not exist"), segment_error);
}

TEST_CASE("every header field is validated with a one-line reason") {
  test::unique_bus bus;
  const auto name = bus.segment("bad");
  auto expect = [&](const segment_header& h, std::size_t file_size, attach_status st, const char* text) {
    write_raw(name, &h, sizeof h, file_size);
    attach_result r = shm_segment::try_open(name, segment_kind::control_block, access_mode::read_only);
    CHECK(r.status == st);
    CHECK_MESSAGE(r.reason.find(text) != std::string::npos, r.reason);
    CHECK(r.reason.find('\n') == std::string::npos);
    CHECK(r.reason.find(name) != std::string::npos);
  };
  SUBCASE("magic") {
    segment_header h{};
    fill_good_header(h, 4096);
    h.magic = 0x1234;
    expect(h, 4096, attach_status::incompatible, "bad magic");
  }
  SUBCASE("layout version") {
    segment_header h{};
    fill_good_header(h, 4096);
    h.layout_version.store(kLayoutVersion + 2);
    expect(h, 4096, attach_status::incompatible,
           ("layout version " + std::to_string(kLayoutVersion + 2) + ", this build reads " +
            std::to_string(kLayoutVersion))
               .c_str());
  }
  SUBCASE("kind") {
    segment_header h{};
    fill_good_header(h, 4096);
    h.kind = static_cast<std::uint32_t>(segment_kind::spsc_ring);
    expect(h, 4096, attach_status::incompatible, "kind spsc_ring (1), expected control_block");
  }
  SUBCASE("total size larger than the file") {
    segment_header h{};
    fill_good_header(h, 1 << 30);
    expect(h, 4096, attach_status::incompatible, "header says 1073741824 bytes but the segment is 4096");
  }
  SUBCASE("creator pid") {
    segment_header h{};
    fill_good_header(h, 4096);
    h.creator_pid = 0;
    expect(h, 4096, attach_status::incompatible, "creator pid 0");
  }
  SUBCASE("file smaller than a header") {
    segment_header h{};
    fill_good_header(h, 4096);
    expect(h, 100, attach_status::incompatible, "smaller than the 128-byte header");
  }
  SUBCASE("unfinished and abandoned by its creator") {
    segment_header h{};
    fill_good_header(h, 4096);
    h.layout_version.store(0);
    expect(h, 4096, attach_status::incompatible, "abandoned");
  }
}

TEST_CASE("an unfinished segment whose creator still holds the lock is 'await', never half-read") {
  test::unique_bus bus;
  const auto name = bus.segment("busy");
  segment_header h{};
    fill_good_header(h, 4096);
  h.layout_version.store(0);
  write_raw(name, &h, sizeof h, 4096);
  const int fd = shm_open(("/" + name).c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  flock fl{};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 0;
  fl.l_len = 1;
  REQUIRE(fcntl(fd, F_OFD_SETLK, &fl) == 0);  // as the creator does before sizing the file
  attach_result r = shm_segment::try_open(name, segment_kind::control_block, access_mode::read_only);
  CHECK(r.status == attach_status::await);
  CHECK(r.reason.find("not ready") != std::string::npos);
  close(fd);
}

TEST_CASE("a second writer is refused while the first lives, naming its pid") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  shm_segment w = shm_segment::create_or_adopt(spec);
  const std::string expected = "already has a live writer (pid " + std::to_string(getpid()) + ")";
  CHECK_THROWS_WITH_AS(shm_segment::create_or_adopt(spec), doctest::Contains(expected.c_str()), segment_error);
}

TEST_CASE("a restarted writer adopts a matching segment, keeps its body and bumps the epoch") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  {
    shm_segment w = shm_segment::create_or_adopt(spec);
    std::memcpy(w.body(), "hello", 5);
  }
  bool adopted = false;
  shm_segment w2 = shm_segment::create_or_adopt(spec, &adopted);
  CHECK(adopted);
  CHECK(std::memcmp(w2.body(), "hello", 5) == 0);
  CHECK(w2.header().writer_epoch.load() == 2);
}

TEST_CASE("a leftover with another geometry or size is replaced, not adopted") {
  test::unique_bus bus;
  auto spec = spec_for(bus.segment("seg"));
  {
    shm_segment w = shm_segment::create_or_adopt(spec);
    std::memcpy(w.body(), "hello", 5);
  }
  SUBCASE("geometry") { spec.geometry[0] = 99; }
  SUBCASE("size") { spec.total_size = 8192; }
  bool adopted = true;
  shm_segment w2 = shm_segment::create_or_adopt(spec, &adopted);
  CHECK_FALSE(adopted);
  CHECK(w2.header().writer_epoch.load() == 1);
  CHECK(w2.body()[0] == std::byte{0});
}

TEST_CASE("a foreign file under the name is replaced by the writer") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  const char junk[200] = "not a segment";
  write_raw(spec.name, junk, sizeof junk, 4096);
  bool adopted = true;
  shm_segment w = shm_segment::create_or_adopt(spec, &adopted);
  CHECK_FALSE(adopted);
  CHECK(shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only).status ==
        attach_status::ok);
}

TEST_CASE("readers judge the writer alive, stale (old heartbeat) or dead (lock released)") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  auto w = std::make_unique<shm_segment>(shm_segment::create_or_adopt(spec));
  shm_segment r = shm_segment::open(spec.name, segment_kind::control_block, access_mode::read_only);
  const std::int64_t now = mono_ns();
  w->heartbeat(now);
  CHECK(r.writer_state(1'000'000'000, now + 10) == writer_liveness::alive);
  CHECK(r.writer_state(1'000'000'000, now + 2'000'000'000) == writer_liveness::stale);
  w.reset();  // the kernel drops the lock with the description, as it would on a crash
  CHECK(r.writer_state(1'000'000'000, now) == writer_liveness::dead);
}

TEST_CASE("remove unlinks the name, a mapped reader keeps its mapping") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  shm_segment w = shm_segment::create_or_adopt(spec);
  shm_segment r = shm_segment::open(spec.name, segment_kind::control_block, access_mode::read_only);
  CHECK(shm_segment::remove(spec.name));
  CHECK_FALSE(shm_segment::remove(spec.name));
  CHECK(r.header().magic == kSegmentMagic);
}

// ---- ownership (issue 17: a segment name another local user took first) -----------------------

TEST_CASE("segment owners: uids parse strictly, MDBUS_BUS_UID names the trusted one, a mismatch is one line") {
  CHECK(parse_uid("0") == uid_t{0});
  CHECK(parse_uid("65534") == uid_t{65534});
  CHECK(parse_uid("4294967294") == uid_t{4294967294U});
  for (const char* bad : {"", "-1", "+5", " 5", "5 ", "12a", "4294967295", "99999999999", "0x10"}) {
    INFO(bad);
    CHECK_FALSE(parse_uid(bad).has_value());
  }
  CHECK_FALSE(check_owner(1000, 1000, "mdbus.b.out").has_value());
  CHECK(check_owner(65534, 1000, "mdbus.b.out") == "segment mdbus.b.out: owned by uid 65534, expected uid 1000, refused");
  {
    test::scoped_env unset(kBusUidVariable, std::nullopt);
    CHECK(expected_segment_owner() == ::geteuid());
  }
  {
    test::scoped_env set(kBusUidVariable, "4242");
    CHECK(expected_segment_owner() == uid_t{4242});
  }
  {
    test::scoped_env bad(kBusUidVariable, "nobody");
    std::string why;
    CHECK_FALSE(expected_segment_owner(&why).has_value());
    CHECK(why == "MDBUS_BUS_UID=\"nobody\" is not a uid");
  }
}

TEST_CASE("readers refuse a segment of another owner than MDBUS_BUS_UID names, before its header") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  shm_segment w = shm_segment::create_or_adopt(spec);
  const uid_t other = ::geteuid() + 1;
  test::scoped_env trust_other(kBusUidVariable, std::to_string(other));
  const std::string line = "segment " + spec.name + ": owned by uid " + std::to_string(::geteuid()) + ", expected uid " +
                           std::to_string(other) + ", refused";
  attach_result r = shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only);
  CHECK(r.status == attach_status::incompatible);
  CHECK(r.foreign_owner);
  CHECK(r.reason == line);
  CHECK_THROWS_WITH_AS(shm_segment::open(spec.name, segment_kind::control_block, access_mode::read_only), line.c_str(),
                       segment_owner_error);
  const segment_info i = inspect_segment(spec.name);
  CHECK(i.status == attach_status::incompatible);
  CHECK(i.foreign_owner);
  CHECK(i.owner_uid == ::geteuid());
  CHECK(i.reason == line);
  CHECK(i.kind == segment_kind::control_block);  // still shown, never trusted
}

TEST_CASE("hijack: a segment another user created first is refused by its writer, naming the owner, untouched") {
  test::require_root_or_skip("a segment of another user");
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"));
  const std::string line = "segment " + spec.name + ": owned by uid 65534, expected uid 0, refused";
  for (const mode_t mode : {mode_t{0666}, mode_t{0600}}) {
    INFO("impostor's mode " << std::oct << mode);
    bus.remove_all();
    // The impostor's file: world-writable or private, sized like ours, with its own bytes.
    REQUIRE(test::run_as_impostor([&] {
              const int fd = shm_open(("/" + spec.name).c_str(), O_RDWR | O_CREAT | O_EXCL, mode);
              if (fd < 0 || fchmod(fd, mode) != 0 || ftruncate(fd, 4096) != 0) return 1;
              return pwrite(fd, "impostor", 8, 0) == 8 ? 0 : 1;
            }) == 0);
    CHECK_THROWS_WITH_AS(shm_segment::create_or_adopt(spec), line.c_str(), segment_owner_error);
    // Not chmod-ed, locked, resized or written: the file is as the impostor left it.
    struct stat st {};
    REQUIRE(stat(("/dev/shm/" + spec.name).c_str(), &st) == 0);
    CHECK(st.st_uid == test::kImpostorUid);
    CHECK((st.st_mode & 07777) == mode);
    CHECK(st.st_size == 4096);
    char head[9] = {};
    const int fd = shm_open(("/" + spec.name).c_str(), O_RDONLY, 0);
    REQUIRE(fd >= 0);
    CHECK(pread(fd, head, 8, 0) == 8);
    close(fd);
    CHECK(std::string(head) == "impostor");
    // Readers refuse it too, and so does inspection.
    attach_result r = shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only);
    CHECK(r.status == attach_status::incompatible);
    CHECK(r.foreign_owner);
    CHECK(inspect_segment(spec.name).owner_uid == test::kImpostorUid);
  }
}

TEST_CASE("hijack: a well-formed segment of another user is refused by readers unless MDBUS_BUS_UID trusts its owner") {
  test::require_root_or_skip("a segment of another user");
  test::unique_bus bus;
  auto spec = spec_for(bus.segment("seg"));
  spec.mode = 0644;
  REQUIRE(test::run_as_impostor([&] {
            try {
              shm_segment w = shm_segment::create_or_adopt(spec);  // exits at once: the segment stays
              return 0;
            } catch (const segment_error&) {
              return 1;
            }
          }) == 0);
  {
    test::scoped_env own(kBusUidVariable, std::nullopt);
    attach_result r = shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only);
    CHECK(r.status == attach_status::incompatible);
    CHECK(r.reason == "segment " + spec.name + ": owned by uid 65534, expected uid 0, refused");
    const segment_info i = inspect_segment(spec.name);
    CHECK(i.foreign_owner);
    CHECK(i.owner_uid == test::kImpostorUid);
  }
  test::scoped_env trust(kBusUidVariable, "65534");
  attach_result r = shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only);
  CHECK(r.status == attach_status::ok);
  CHECK(inspect_segment(spec.name).status == attach_status::ok);
}

TEST_CASE("a reader can tell that the owner truncated the segment under its mapping") {
  test::unique_bus bus;
  const auto spec = spec_for(bus.segment("seg"), 8192);
  shm_segment w = shm_segment::create_or_adopt(spec);
  shm_segment r = shm_segment::open(spec.name, segment_kind::control_block, access_mode::read_only);
  CHECK(r.mapping_intact());
  const int fd = shm_open(("/" + spec.name).c_str(), O_RDWR, 0);
  REQUIRE(fd >= 0);
  REQUIRE(ftruncate(fd, 4096) == 0);  // the owner shrinks it: pages past 4096 are gone for every mapping
  close(fd);
  CHECK_FALSE(r.mapping_intact());  // checked without touching the mapping (that would be SIGBUS)
  CHECK_FALSE(w.mapping_intact());
  // A new reader is refused: the header's size no longer matches the file.
  attach_result again = shm_segment::try_open(spec.name, segment_kind::control_block, access_mode::read_only);
  CHECK(again.status == attach_status::incompatible);
  CHECK(again.reason.find("header says 8192 bytes but the segment is 4096") != std::string::npos);
}
