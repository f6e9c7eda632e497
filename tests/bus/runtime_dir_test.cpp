// The control socket's directory (issue 17): the default is never a shared /tmp path, and a
// directory that is not ours or that others can write is refused with one line naming it,
// its owner uid and its mode.
#include "bus/runtime_dir.hpp"

#include "support/impostor.hpp"
#include "support/scoped_env.hpp"
#include "support/temp_dir.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

using namespace mdbus;

TEST_CASE("a socket directory must be a real directory of ours that nobody else can write") {
  const dir_facts ok{true, false, 1000, 0700};
  CHECK_FALSE(check_private_dir("/run/user/1000/mdbus", ok, 1000).has_value());
  CHECK_FALSE(check_private_dir("/srv/mdbus", {true, false, 1000, 0755}, 1000).has_value());  // readable is fine
  CHECK(check_private_dir("/tmp", {true, false, 0, 01777}, 0) ==
        "socket directory /tmp: owner uid 0, mode 1777: writable by group or others, refused");
  CHECK(check_private_dir("/tmp/mdbus-1000", {true, false, 65534, 0700}, 1000) ==
        "socket directory /tmp/mdbus-1000: owner uid 65534, mode 0700: not ours (uid 1000), refused");
  CHECK(check_private_dir("/x", {true, false, 1000, 0770}, 1000) ==
        "socket directory /x: owner uid 1000, mode 0770: writable by group or others, refused");
  CHECK(check_private_dir("/x", {false, true, 1000, 0777}, 1000) ==
        "socket directory /x: is a symbolic link (owner uid 1000, mode 0777), refused");
  CHECK(check_private_dir("/x", {false, false, 1000, 0600}, 1000) ==
        "socket directory /x: is not a directory (owner uid 1000, mode 0600), refused");
}

TEST_CASE("the default socket directory: XDG_RUNTIME_DIR when usable, /run/mdbus for root, else /tmp/mdbus-<uid>") {
  CHECK(choose_runtime_dir("/run/user/1000", true, 1000) == "/run/user/1000/mdbus");
  CHECK(choose_runtime_dir("/run/user/1000/", true, 1000) == "/run/user/1000/mdbus");
  CHECK(choose_runtime_dir("/run/user/1000", false, 1000) == "/tmp/mdbus-1000");  // not ours, or others may write it
  CHECK(choose_runtime_dir("relative", true, 1000) == "/tmp/mdbus-1000");
  CHECK(choose_runtime_dir(nullptr, false, 1000) == "/tmp/mdbus-1000");
  CHECK(choose_runtime_dir(nullptr, false, 0) == "/run/mdbus");
  CHECK(choose_runtime_dir("/run/user/0", true, 0) == "/run/user/0/mdbus");
  // The service user of the systemd unit: /run/mdbus is its RuntimeDirectory, so it is chosen
  // before /tmp, but never before a usable XDG_RUNTIME_DIR.
  CHECK(choose_runtime_dir(nullptr, false, 998, true) == "/run/mdbus");
  CHECK(choose_runtime_dir("/run/user/998", false, 998, true) == "/run/mdbus");
  CHECK(choose_runtime_dir("/run/user/998", true, 998, true) == "/run/user/998/mdbus");
  CHECK(parent_dir("/run/mdbus/sim.ctl") == "/run/mdbus");
  CHECK(parent_dir("/x.ctl") == "/");
  CHECK(parent_dir("x.ctl") == ".");
}

TEST_CASE("default_control_socket follows this process's XDG_RUNTIME_DIR only when it is ours and private") {
  test::temp_dir xdg("xdg");
  {
    test::scoped_env env("XDG_RUNTIME_DIR", xdg.str());
    CHECK(default_control_socket("sim") == xdg.str() + "/mdbus/sim.ctl");
  }
  const std::string fallback = ::geteuid() == 0 ? "/run/mdbus/sim.ctl" : "/tmp/mdbus-" + std::to_string(::geteuid()) + "/sim.ctl";
  {
    REQUIRE(::chmod(xdg.str().c_str(), 0777) == 0);  // anybody could plant a socket there
    test::scoped_env env("XDG_RUNTIME_DIR", xdg.str());
    CHECK(default_control_socket("sim") == fallback);
  }
  {
    test::scoped_env env("XDG_RUNTIME_DIR", std::nullopt);
    CHECK(default_control_socket("sim") == fallback);
    CHECK(default_control_socket("sim").rfind("/tmp/mdbus.", 0) != 0);  // never the old shared path
  }
}

TEST_CASE("ensure_private_dir creates the directory 0700, accepts our own, refuses what others can write") {
  test::temp_dir base("rtdir");
  const std::string d = base.file("mdbus");
  CHECK(ensure_private_dir(d, false) == "socket directory " + d + ": No such file or directory");  // not created
  const mode_t old = ::umask(0077);
  CHECK_FALSE(ensure_private_dir(d, true).has_value());
  ::umask(old);
  struct stat st {};
  REQUIRE(::stat(d.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == ::geteuid());
  CHECK_FALSE(ensure_private_dir(d, true).has_value());  // again: it exists and is ours

  REQUIRE(::chmod(d.c_str(), 0777) == 0);
  CHECK(ensure_private_dir(d, true) ==
        "socket directory " + d + ": owner uid " + std::to_string(::geteuid()) + ", mode 0777: writable by group or others, refused");

  const std::string link = base.file("link");
  REQUIRE(::symlink(d.c_str(), link.c_str()) == 0);
  CHECK(ensure_private_dir(link, true) == "socket directory " + link + ": is a symbolic link (owner uid " +
                                              std::to_string(::geteuid()) + ", mode 0777), refused");
}

TEST_CASE("hijack: ensure_private_dir refuses a directory another user made first, naming its owner uid and mode") {
  test::require_root_or_skip("a directory of another user");
  const test::impostor_dir taken("rtdir", 0700);
  CHECK(ensure_private_dir(taken.str(), true) ==
        "socket directory " + taken.str() + ": owner uid 65534, mode 0700: not ours (uid 0), refused");
}
