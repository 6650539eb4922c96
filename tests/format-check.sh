#!/bin/sh
# The C sources follow .clang-format (run `clang-format -i FILE` to fix).
#   format-check.sh SOURCE_ROOT
root=${1:-.}
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped"; exit 77; }
cd "$root" || exit 1
bad=$(find src tests bench -name '*.[ch]' -print | sort | while read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || echo "$f"
done)
if [ -n "$bad" ]; then
  echo "not formatted (clang-format -i these):"; echo "$bad"; echo "0 passed, 1 failed"; exit 1
fi
echo "1 passed, 0 failed"
