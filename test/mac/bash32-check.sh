#!/usr/bin/env bash
# bash32-check.sh [dir-or-file...]: reject bash >= 4 constructs in the on-instance scripts, which
# run under macOS's /bin/bash 3.2 (behavior.md §6, src/mac/README.md). Default: src/mac.
# Prints file:line: what: text for every hit and exits 1 when there is any; 0 when clean.
# Comment lines (first non-blank character '#') are skipped. Callable from .ci/run:
#   bash test/mac/bash32-check.sh src/mac
set -euo pipefail

# One rule per line: <description> => <ERE>.
# shellcheck disable=SC2016 # the rules are literal text
rules='associative array (declare/local/typeset -A) => (^|[;&|[:space:]])(declare|local|typeset|readonly)([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*A
nameref (declare/local -n) => (^|[;&|[:space:]])(declare|local|typeset)([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*n
case attributes (declare -l/-u) => (^|[;&|[:space:]])(declare|local|typeset)([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*[lu]
mapfile/readarray => (^|[;&|({[:space:]])(mapfile|readarray)([[:space:]]|$)
case modification ${x,,} ${x^^} => \$\{[#!]?[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?(,|\^)
transformation ${x@Q} => \$\{[#!]?[A-Za-z_][A-Za-z0-9_]*(\[[^]]*\])?@[QEPAaUuLK]\}
negative array index => \$\{[A-Za-z_][A-Za-z0-9_]*\[[[:space:]]*-[0-9]
append redirection &>> => &>>
stderr pipe |& => \|&
coproc => (^|[;&|[:space:]])coproc([[:space:]]|$)
EPOCHSECONDS/EPOCHREALTIME/BASHPID => \$\{?(EPOCHSECONDS|EPOCHREALTIME|BASHPID)
wait -n => (^|[;&|[:space:]])wait[[:space:]]+-[A-Za-z]*n
case fall-through ;& ;;& => ;;&|(^|[^;]);&([[:space:]]|$)
globstar => globstar
test -v => (\[\[?|test)[[:space:]]+-v[[:space:]]
printf %(...)T => %\([^)]*\)T
automatic fd {var}> => \{[A-Za-z_][A-Za-z0-9_]*\}[<>]
read -i / read -N => (^|[;&|[:space:]])read([[:space:]]+-[A-Za-z]+)*[[:space:]]+-[A-Za-z]*[iN]
brace sequence with step or zero padding => \{-?[0-9]+\.\.-?[0-9]+\.\.|\{0[0-9]+\.\.'

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  targets=("$(cd "$(dirname "$0")/../.." && pwd)/src/mac")
fi

files=()
for t in "${targets[@]}"; do
  if [ -d "$t" ]; then
    while IFS= read -r f; do files+=("$f"); done < <(find "$t" -type f -name '*.sh' | LC_ALL=C sort)
  elif [ -f "$t" ]; then
    files+=("$t")
  else
    echo "bash32-check: no such file or directory: $t" >&2
    exit 2
  fi
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "bash32-check: no .sh files found in ${targets[*]}" >&2
  exit 2
fi

hits=0
for f in "${files[@]}"; do
  while IFS= read -r rule; do
    what=${rule%% => *}
    re=${rule#* => }
    out=$(LC_ALL=C grep -n -E -e "$re" "$f" | LC_ALL=C grep -v -E '^[0-9]+:[[:space:]]*#' || true)
    if [ -n "$out" ]; then
      while IFS= read -r line; do
        printf '%s:%s: %s: %s\n' "$f" "${line%%:*}" "$what" "${line#*:}"
        hits=$((hits + 1))
      done <<<"$out"
    fi
  done <<<"$rules"
done
if [ "$hits" -gt 0 ]; then
  echo "bash32-check: $hits bash >= 4 construct(s) found; macOS /bin/bash is 3.2" >&2
  exit 1
fi
echo "bash32-check: ${#files[@]} files clean"
