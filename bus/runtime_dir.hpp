#pragma once
/// Where a bus's control socket lives, and the check that nobody else can reach into it.
///
/// A socket in a shared directory (/tmp) can be taken first by any local user: the owner's
/// supervisor then refuses to start and the owner's mdctl talks to the impostor. So the
/// default path is in a directory only we can write, like tmux's and systemd's:
///
///   1. `$XDG_RUNTIME_DIR/mdbus/<bus>.ctl` when XDG_RUNTIME_DIR is usable (an absolute path to
///      a directory owned by us and not writable by group or others — the spec's 0700),
///   2. else `/run/mdbus/<bus>.ctl` when we are root (root owns /run), or when /run/mdbus is a
///      private directory of ours: the systemd unit's `RuntimeDirectory=mdbus`, made for the
///      service user (config/systemd/mdsupervisor@.service), so that the service and an
///      operator's `sudo -u mdbus mdctl` meet at the same socket,
///   3. else `/tmp/mdbus-<uid>/<bus>.ctl`.
///
/// The socket's directory — the default one or that of a configured path — must be owned by
/// the effective uid and must not be group- or world-writable; the supervisor creates the
/// last component 0700 when it is missing (ensure_private_dir) and refuses anything else
/// with one line naming the path, its owner uid and its mode.
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace mdbus {

/// What a directory's stat says, for the pure check.
struct dir_facts {
  bool is_dir = false;
  bool is_symlink = false;
  uid_t owner = 0;
  mode_t mode = 0;  ///< permission bits (07777)
};

/// Why `dir` may not hold our sockets (`facts` from lstat/fstat, `us` the effective uid), or
/// nullopt when it may: a directory, not a symbolic link, owned by `us`, no group/other write
/// bit. The reason is one line naming the directory, its owner uid and mode. Pure.
std::optional<std::string> check_private_dir(std::string_view dir, const dir_facts& facts, uid_t us);

/// The candidates of the default socket directory, from the environment (pure: the caller
/// passes getenv("XDG_RUNTIME_DIR") and the euid). `xdg_usable` says whether the XDG
/// directory passed check_private_dir; `run_dir_ours` whether /run/mdbus did. Returns the
/// chosen directory, without the trailing '/'.
std::string choose_runtime_dir(const char* xdg_runtime_dir, bool xdg_usable, uid_t us, bool run_dir_ours = false);

/// The directory the default control socket goes in, for this process (environment, euid).
std::string default_runtime_dir();

/// `default_runtime_dir() + "/" + bus + ".ctl"`: the supervisor's default control socket.
std::string default_control_socket(std::string_view bus);

/// The directory part of a socket path ("." for a bare name, "/" for "/x").
std::string parent_dir(std::string_view path);

/// Makes sure `dir` is ours and private: creates it (one level, mode 0700) when it is missing
/// and `create` is set, then checks it without following a symbolic link. Returns nullopt when
/// it may hold our sockets, else the one-line reason (check_private_dir's, or the system
/// call that failed). Never throws.
std::optional<std::string> ensure_private_dir(const std::string& dir, bool create);

}  // namespace mdbus
