#!/bin/sh
# Banned functions (after curl's checksrc): no shell from our code, no unbounded
# string writes, no thread-unsafe or error-blind parsers. Scans src/, ignoring comments.
#   banned.sh SRC_DIR
src=${1:-src}
hits=$(find "$src" -name '*.[ch]' -print | sort | xargs awk '
  FNR == 1 { incomment = 0 }
  {
    line = $0
    # drop comments: the rest of a block comment, whole /* */ spans, // tails
    if (incomment) { if (sub(/^.*\*\//, "", line)) incomment = 0; else next }
    gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, "", line)
    if (sub(/\/\*.*$/, "", line)) incomment = 1
    sub(/\/\/.*$/, "", line)
    gsub(/"([^"\\]|\\.)*"/, "\"\"", line)   # and string literals
    if (line ~ /(^|[^A-Za-z0-9_])(system|popen|execl|execlp|sprintf|vsprintf|strcpy|strcat|gets|strtok|atoi|atol|tmpnam|mktemp|alloca)[ \t]*\(/)
      printf "%s:%d: %s\n", FILENAME, FNR, $0
  }')
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf, strtok_r, strtol, posix_spawn with argv, mkstemp...):"
  echo "$hits"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "no banned functions in $src"
echo "1 passed, 0 failed"
