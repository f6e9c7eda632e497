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
files=$(git ls-files --cached --others --exclude-standard 2>/dev/null || find . -path ./build -prune -o -path ./.git -prune -o -type f -print)
bad=0
for p in "${patterns[@]}"; do
  # shellcheck disable=SC2086
  if hits=$(grep -nE "$p" $files 2>/dev/null); then
    echo "standalone_test: FAIL: files name '$p':"; echo "$hits" | head -20
    bad=1
  fi
done
[ "$bad" -eq 0 ] || exit 1
echo "standalone_test: PASS ($(echo "$files" | wc -w) files)"
