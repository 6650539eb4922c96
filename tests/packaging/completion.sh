#!/bin/bash
# SPDX-License-Identifier: MIT
# The bash completion of ferry offers exactly the program's commands and options: it is sourced
# and asked (COMP_WORDS/_ferry, as bash does on TAB), and its answers are compared with
# `ferry --help`, `ferry CMD --help` and the getopt_long tables in src/ferry/main.c and
# src/ferry/cmd_*.c. A command or option added to ferry and not to the completion fails here.
#   completion.sh FERRY_BINARY SOURCE_ROOT
set -uo pipefail
ferry=$1 src=$2
comp=$src/deploy/bash-completion/ferry
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# check MESSAGE CMD...: CMD must succeed
check() { local m=$1; shift; if "$@"; then ok; else bad "$m"; fi; }
has() { grep -q -- "^$1 " <<<"$2"; }   # has OPTION TABLE
# same WHAT EXPECTED ACTUAL: two word lists, compared as sorted sets
same() {
  local e a
  e=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u | tr '\n' ' ')
  a=$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u | tr '\n' ' ')
  if [ "$e" = "$a" ]; then ok; else bad "$1: expected [$e], completion gives [$a]"; fi
}
# complete WORD... : what the completion offers for the last word (bash's own call convention)
complete_words() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _ferry ferry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  echo "${COMPREPLY[*]}"
}
# table FILE: "--name arg|noarg" for each getopt_long entry, then "-x arg|noarg" for each short
table() {
  grep -oE '\{"[a-z-]+", *(no|required|optional)_argument' "$1" |
    sed -E 's/\{"([a-z-]+)", *(no|required|optional)_argument/--\1 \2/; s/ required$/ arg/; s/ (no|optional)$/ noarg/'
  local s
  s=$(grep -oE 'getopt_long\(argc, argv, "[^"]*"' "$1" | head -1 | sed -E 's/.*"\+?([^"]*)"/\1/')
  while [ -n "$s" ]; do
    if [ "${s:1:1}" = : ]; then echo "-${s:0:1} arg"; s=${s:2}; else echo "-${s:0:1} noarg"; s=${s:1}; fi
  done
}

[ -x "$ferry" ] || { echo "no ferry binary at $ferry"; exit 1; }
[ -f "$comp" ] || { echo "no completion at $comp"; exit 1; }
bash -n "$comp" || { echo "the completion does not parse"; exit 1; }
# shellcheck source=/dev/null
source "$comp"
check "sourcing it does not register _ferry for ferry" [ "$(complete -p ferry 2>/dev/null)" = "complete -F _ferry ferry" ]

# 1. `ferry <TAB>`: the commands of `ferry --help`
cmds=$("$ferry" --help | sed -n '/^Commands:/,/^$/p' | sed -nE 's/^  ([a-z]+) .*/\1/p' | tr '\n' ' ')
[ -n "$cmds" ] || bad "could not read the commands from 'ferry --help'"
same "ferry <TAB>" "$cmds" "$(complete_words ferry '')"
same "ferry g<TAB>" "$(tr ' ' '\n' <<<"$cmds" | grep '^g' | tr '\n' ' ')" "$(complete_words ferry g)"
# after a global option's value, still the commands
same "ferry --server URL <TAB>" "$cmds" "$(complete_words ferry --server unix:///x.sock '')"

# 2. `ferry -<TAB>`: the global options (main.c's table and short options), those of --help included
t=$(table "$src/src/ferry/main.c")
same "ferry -<TAB>" "$(cut -d' ' -f1 <<<"$t" | tr '\n' ' ')" "$(complete_words ferry -)"
offered=" $(complete_words ferry -) "
for o in $("$ferry" --help | sed -n '/^Options:/,/^$/p' | grep -oE '(^|[ [])--?[a-z][a-z-]*' | tr -d ' ['); do
  check "'ferry --help' names $o, which main.c's getopt table does not have" has "$o" "$t"
  check "ferry -<TAB> does not offer $o (in --help)" [ "${offered/ $o /}" != "$offered" ]
done
# shellcheck disable=SC2154 # set by the completion
same "ferry's options that take a value" "$(awk '$2 == "arg" {print $1}' <<<"$t" | tr '\n' ' ')" "$_ferry_args_"

# 3. each command: `ferry CMD -<TAB>` and `ferry CMD --<TAB>` against its getopt table and --help
for c in $cmds; do
  f=$src/src/ferry/cmd_$c.c
  [ -f "$f" ] || { bad "no $f for command $c"; continue; }
  t=$(table "$f")
  [ -n "$t" ] || { bad "no getopt table in $f"; continue; }
  pre=(ferry "$c")
  [ "$c" = mig ] && pre+=(plan)
  [ "$c" = gpu ] && pre+=(ls)
  same "ferry ${pre[*]:1} -<TAB>" "$(cut -d' ' -f1 <<<"$t" | tr '\n' ' ')" "$(complete_words "${pre[@]}" -)"
  same "ferry ${pre[*]:1} --<TAB>" "$(grep -- '^--' <<<"$t" | cut -d' ' -f1 | tr '\n' ' ')" "$(complete_words "${pre[@]}" --)"
  for o in $("$ferry" "$c" --help | grep -oE '(^|[ [|])--?[a-zA-Z][a-z-]*' | tr -d ' [|'); do
    check "'ferry $c --help' names $o, which $f's getopt table does not have" has "$o" "$t"
  done
  v="_ferry_args_$c"
  same "ferry $c's options that take a value" "$(awk '$2 == "arg" {print $1}' <<<"$t" | tr '\n' ' ')" "${!v}"
done

# 4. values and words after options
same "ferry run --<TAB> after -f FILE" "$(complete_words ferry run --)" "$(complete_words ferry run -f x.yaml --)"
same "ferry get -o <TAB>" "json wide" "$(complete_words ferry get -o '')"
same "ferry mig plan -o <TAB>" "table json mig-parted" "$(complete_words ferry mig plan -o '')"
same "ferry mig <TAB>" "plan" "$(complete_words ferry mig '')"
same "ferry gpu <TAB>" "ls" "$(complete_words ferry gpu '')"
same "ferry logs -f --ta<TAB> (-f takes no value in logs)" "--tail" "$(complete_words ferry logs -f --ta)"
d=$(mktemp -d) && touch "$d/job.yaml" "$d/jobs.json"
same "ferry run -f DIR/jo<TAB>" "$d/job.yaml $d/jobs.json" "$(complete_words ferry run -f "$d/jo")"
rm -rf "$d"
same "ferry nosuchcommand --<TAB>" "" "$(complete_words ferry nosuchcommand --)"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
