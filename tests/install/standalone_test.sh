#!/usr/bin/env bash
# The repository stands alone: no file names the development machines' shared folder (the
# design notes and captures outside the repository) or an absolute path of a development
# machine. Docs point at ARCHITECTURE.md, feeders/CONFORMANCE.md and tests/data/captures/.
# usage: standalone_test.sh <source dir>
set -euo pipefail
cd "$1"
# An absolute path starts a word (after a space, quote, '=', '(' or ':'); "build/tests/install/work/"
# is a relative one. The patterns are split so that this file does not match itself.
start='(^|[[:space:]"'"'"'`=(:])'
patterns=('\.\./'"shared" "$start/"'work/' "$start/"'home/' "$start/"'Users/' "$start/"'root/')
bad=0
for p in "${patterns[@]}"; do
  # git grep reads the tracked and the untracked (not ignored) files as they are on disk; exit 1
  # is "no match", anything above it an error that must not pass for one.
  if [ -d .git ] || git rev-parse --git-dir > /dev/null 2>&1; then
    set +e; hits=$(git grep --untracked -nIE "$p" -- . ':!build*'); rc=$?; set -e
  else
    set +e; hits=$(grep -rnIE --exclude-dir='build*' --exclude-dir=.git "$p" .); rc=$?; set -e
  fi
  if [ "$rc" -eq 0 ]; then
    echo "standalone_test: FAIL: files name '$p':"; echo "$hits" | head -20
    bad=1
  elif [ "$rc" -ne 1 ]; then
    echo "standalone_test: FAIL: searching for '$p' failed (exit $rc)"; bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
echo "standalone_test: PASS"
