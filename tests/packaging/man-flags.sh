#!/bin/bash
# SPDX-License-Identifier: MIT
# The man pages name exactly the options the programs have: the OPTIONS of doc/man/ferryd.8.scd
# against ferryd's getopt table and --help, each COMMANDS section of ferry.1.scd against that
# command's getopt table (src/ferry/cmd_*.c) and its --help, ferry's GLOBAL OPTIONS against
# main.c, and ferry-node.8.scd against `ferry-node --help`. An option added to a program and not
# to its page, or a page naming one that does not exist, fails here.
#   man-flags.sh BUILD_DIR SOURCE_ROOT
set -uo pipefail
build=$1 src=$2
man=$src/doc/man
pass=0 fail=0
# same WHAT EXPECTED ACTUAL
same() {
  local e a
  e=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u | tr '\n' ' ')
  a=$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u | tr '\n' ' ')
  if [ "$e" = "$a" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1"; echo "  program: [$e]"; echo "  page:    [$a]"; fi
}
# section FILE START END: the lines of an scd file from the heading START to the next END heading
section() { awk -v s="$2" -v e="$3" '$0 ~ s {on = 1; next} on && $0 ~ e {exit} on' "$1"; }
# page_opts: the options an scd text names in bold (*-c, --config* _FILE_, *--qps* _N_)
page_opts() { grep -oE '\*-[^*]*\*' | tr -d '*' | sed 's/,//g; s/ /\n/g' | grep -E '^--?[a-zA-Z]' | sed -E 's/=.*//'; }
# table FILE: the long options of its getopt_long table and its short options
table() {
  grep -oE '\{"[a-z-]+", *(no|required|optional)_argument' "$1" | sed -E 's/\{"([a-z-]+)".*/--\1/'
  # the short options: inline in the getopt_long call, or in a shortopts variable
  grep -oE '(getopt_long\(argc, argv,|shortopts =) "[^"]*"' "$1" | head -1 | sed -E 's/.*"\+?([^"]*)"/\1/' |
    tr -d ':' | grep -o . | sed 's/^/-/'
}
# help_opts: the options a --help text names
help_opts() { grep -oE '(^|[ [|,])--?[a-zA-Z][a-zA-Z-]*' | tr -d ' [|,' | sort -u; }

for f in ferryd.8.scd ferry.1.scd ferry-node.8.scd; do
  [ -f "$man/$f" ] || { echo "FAIL: no $man/$f"; exit 1; }
done

# ferryd
# ferryd's flags, YAML keys and --help come from one settings table (src/ferryd/config.c):
# its --help is the list, and each table key must be a flag there
t=$("$build/src/ferryd/ferryd" --help | help_opts)
keys=$(grep -oE '^ +\{"[a-z_]+", (NULL|"[a-z-]+")' "$src/src/ferryd/config.c" |
  sed -E 's/^ +\{"([a-z_]+)", NULL/--\1/; s/^ +\{"[a-z_]+", "([a-z-]+)"/--\1/' | tr '_' '-')
[ -n "$keys" ] || { echo "FAIL: no settings found in src/ferryd/config.c"; fail=$((fail + 1)); }
same "ferryd: every setting of the table is in --help" "$t" "$t $keys"
same "ferryd(8) OPTIONS" "$t" "$(section "$man/ferryd.8.scd" '^# OPTIONS' '^# ' | page_opts)"

# ferry: global options, then each command of `ferry --help`
t=$(table "$src/src/ferry/main.c")
same "ferry: options of --help are in main.c's table" "$t" \
  "$t $("$build/src/ferry/ferry" --help | sed -n '/^Options:/,/^$/p' | help_opts)"
same "ferry(1) GLOBAL OPTIONS" "$t" "$(section "$man/ferry.1.scd" '^# GLOBAL OPTIONS' '^# ' | page_opts)"
cmds=$("$build/src/ferry/ferry" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p')
[ -n "$cmds" ] || { echo "FAIL: no commands in 'ferry --help'"; fail=$((fail + 1)); }
same "ferry(1) COMMANDS sections" "$cmds" "$(sed -nE 's/^## ([a-z]+).*/\1/p' "$man/ferry.1.scd")"
for c in $cmds; do
  t=$(table "$src/src/ferry/cmd_$c.c" | grep -vxE -- '--help|-h')
  same "ferry $c: options of --help are in cmd_$c.c's table" "$t" \
    "$t $("$build/src/ferry/ferry" "$c" --help | help_opts | grep -vxE -- '--help|-h')"
  same "ferry(1) section $c" "$t" "$(section "$man/ferry.1.scd" "^## $c" '^#' | page_opts)"
done

# ferry-node: its --help lists every setting
h=$("$build/src/node/ferry-node" --help | help_opts | grep -vx -- --SETTING)
same "ferry-node(8) OPTIONS" "$h -h --help" "$(section "$man/ferry-node.8.scd" '^# OPTIONS' '^# [A-Z]' | page_opts)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
