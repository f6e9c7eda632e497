#include "bus/runtime_dir.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mdbus {
namespace {

constexpr std::size_t kMaxSocketPath = 107;  // sockaddr_un::sun_path less its terminating NUL

std::string octal_mode(mode_t m) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

dir_facts facts_of(const struct stat& st) {
  return {S_ISDIR(st.st_mode), S_ISLNK(st.st_mode), st.st_uid, static_cast<mode_t>(st.st_mode & 07777)};
}

bool xdg_dir_usable(const char* xdg) {
  if (xdg == nullptr || xdg[0] != '/') return false;
  struct stat st {};
  // stat, not lstat: a symlinked XDG_RUNTIME_DIR is common; what counts is the directory it
  // names, which must be ours and private (the XDG spec: owned by the user, mode 0700).
  if (::stat(xdg, &st) != 0) return false;
  dir_facts f = facts_of(st);
  return !check_private_dir(xdg, f, ::geteuid()).has_value();
}

// /run/mdbus made for us (systemd's RuntimeDirectory= for the service user): lstat, a link
// there is not ours to follow.
bool run_dir_ours() {
  struct stat st {};
  if (::lstat("/run/mdbus", &st) != 0) return false;
  return !check_private_dir("/run/mdbus", facts_of(st), ::geteuid()).has_value();
}

}  // namespace

std::optional<std::string> check_private_dir(std::string_view dir, const dir_facts& f, uid_t us) {
  const std::string head = "socket directory " + std::string(dir) + ": ";
  const std::string who = "owner uid " + std::to_string(f.owner) + ", mode " + octal_mode(f.mode);
  if (f.is_symlink) return head + "is a symbolic link (" + who + "), refused";
  if (!f.is_dir) return head + "is not a directory (" + who + "), refused";
  if (f.owner != us) return head + who + ": not ours (uid " + std::to_string(us) + "), refused";
  if ((f.mode & (S_IWGRP | S_IWOTH)) != 0) return head + who + ": writable by group or others, refused";
  return std::nullopt;
}

std::string choose_runtime_dir(const char* xdg_runtime_dir, bool xdg_usable, uid_t us, bool run_dir_ours) {
  if (xdg_runtime_dir != nullptr && xdg_runtime_dir[0] == '/' && xdg_usable) {
    std::string d = xdg_runtime_dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    return d + "/mdbus";
  }
  if (us == 0 || run_dir_ours) return "/run/mdbus";
  return "/tmp/mdbus-" + std::to_string(us);
}

std::string default_runtime_dir() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  return choose_runtime_dir(xdg, xdg_dir_usable(xdg), ::geteuid(), run_dir_ours());
}

std::string default_control_socket(std::string_view bus) {
  std::string path = default_runtime_dir() + "/" + std::string(bus) + ".ctl";
  // A long XDG_RUNTIME_DIR must not make the default unusable: the next candidate is short.
  if (path.size() > kMaxSocketPath) path = choose_runtime_dir(nullptr, false, ::geteuid(), run_dir_ours()) + "/" + std::string(bus) + ".ctl";
  return path;
}

std::string parent_dir(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::optional<std::string> ensure_private_dir(const std::string& dir, bool create) {
  const std::string head = "socket directory " + dir + ": ";
  bool made = false;
  if (create) {
    if (::mkdir(dir.c_str(), 0700) == 0)
      made = true;
    else if (errno != EEXIST)
      return head + "mkdir: " + std::strerror(errno);
  }
  // O_NOFOLLOW + fstat: the facts are those of the directory itself, not of a link's target
  // that another user could point elsewhere.
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    struct stat st {};
    if ((err == ELOOP || err == ENOTDIR) && ::lstat(dir.c_str(), &st) == 0) {
      if (auto why = check_private_dir(dir, facts_of(st), ::geteuid())) return why;
    }
    return head + std::strerror(err);
  }
  struct stat st {};
  std::optional<std::string> why;
  if (::fstat(fd, &st) != 0) {
    why = head + "fstat: " + std::strerror(errno);
  } else if (made && (st.st_mode & 07777) != 0700 && st.st_uid == ::geteuid() && ::fchmod(fd, 0700) == 0) {
    // Our own new directory that the umask narrowed past usability: set the mode we meant.
    st.st_mode = (st.st_mode & ~07777) | 0700;
  }
  if (!why) why = check_private_dir(dir, facts_of(st), ::geteuid());
  ::close(fd);
  return why;
}

}  // namespace mdbus
