#!/usr/bin/env bash
# The repository stands alone: no file names the development machines' shared folder (the
# design notes and captures outside the repository) or an absolute path of a development
# machine. Docs point at ARCHITECTURE.md, feeders/CONFORMANCE.md and tests/data/captures/.
# usage: standalone_test.sh <source dir>
set -euo pipefail
cd "$1"
# The patterns are split so that this file does not match itself.
patterns=('\.\./'"shared" '/'"work/" '/'"home/" '/'"Users/" '/'"root/")
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
