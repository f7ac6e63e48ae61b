#!/usr/bin/env bash
# check_docs: the repository must stand alone. Fails if a tracked (or new, not ignored) text file
# cites design notes outside the repository (../shared, /work/shared, shared/design), names a bare
# physics/ngspice/paper/style .md outside docs/ (write docs/X.md), cites a docs/X.md (or, inside
# docs/, a relative X.md link) that does not exist, or has a Markdown link or image that does not
# resolve. Prints one PASS/FAIL line per check and the harness's "summary: P passed, F failed";
# tests/run.sh runs it with the test programs.
set -u
cd "$(dirname "$(readlink -f "$0")")/.." || exit 2 # the real tree, also via build-asan/root
self=tests/check_docs.sh
pass=0
fail=0

report() { # report OK NAME DETAIL
    if [ "$1" -eq 1 ]; then pass=$((pass + 1)); s=PASS; else fail=$((fail + 1)); s=FAIL; fi
    printf '%s %s: %s\n' "$s" "$2" "$3"
}

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -co --exclude-standard | grep -v -x -F "$self")
else # a tarball without .git: everything except build products
    mapfile -t files < <(find . -type f -not -path './.git*' -not -path './build*' \
        -not -path './bin*' -not -path './out/*' -printf '%P\n' | grep -v -x -F "$self")
fi
existing=()
for f in "${files[@]}"; do [ -f "$f" ] && existing+=("$f"); done
if [ "${#existing[@]}" -eq 0 ]; then # never let grep fall back to reading stdin
    echo "FAIL file list: no files found under $(pwd)"
    echo "summary: 0 passed, 1 failed"
    exit 1
fi
other=()
for f in "${existing[@]}"; do case "$f" in docs/*) ;; *) other+=("$f") ;; esac; done

# 1. no citation of notes outside the repository
hits=$(grep -I -n -E '\.\./shared|/work/shared|shared/design' -- "${existing[@]}" 2>/dev/null)
n=$(printf '%s' "$hits" | grep -c .)
report $((n == 0)) "no citation outside the repository" \
    "observed $n lines citing ../shared, /work/shared or shared/design, expected 0"
[ "$n" -ne 0 ] && printf '    %s\n' "$hits" | head -n 20

# 2. outside docs/, a design note is cited as docs/X.md, never as a bare X.md
# (a name in backquotes is a file name in a listing, e.g. the README's docs/ row, not a citation)
hits=$(grep -I -n -E '(^|[^/A-Za-z0-9_.`-])(physics|ngspice|paper|style)\.md' -- "${other[@]}" \
       2>/dev/null)
n=$(printf '%s' "$hits" | grep -c .)
report $((n == 0)) "design notes cited by their docs/ path" \
    "observed $n lines with a bare physics/ngspice/paper/style .md, expected 0"
[ "$n" -ne 0 ] && printf '    %s\n' "$hits" | head -n 20

# 3. every cited docs/X.md exists (and every relative X.md link inside docs/)
missing=""
for d in $(grep -I -o -h -E 'docs/[A-Za-z0-9_-]+\.md' -- "${existing[@]}" 2>/dev/null | sort -u); do
    [ -f "$d" ] || missing="$missing $d"
done
for d in $(grep -I -o -h -E '\]\([A-Za-z0-9_-]+\.md' -- docs/*.md 2>/dev/null \
           | sed 's/^](//' | sort -u); do
    [ -f "docs/$d" ] || missing="$missing docs/$d"
done
n=$(printf '%s' "$missing" | wc -w)
report $((n == 0)) "cited docs exist" "observed $n missing:${missing:- none}, expected 0"

# 4. every relative link or image of a Markdown file, [text](path) or ![alt](path), resolves from
# that file's directory (a docs/ file links docs/sweeps/... as sweeps/...); web links and anchors
# are not checked
missing=""
for f in "${existing[@]}"; do
    case "$f" in *.md) ;; *) continue ;; esac
    for t in $(grep -o -E '\]\([^)#[:space:]]+' -- "$f" 2>/dev/null | sed 's/^](//' | sort -u); do
        case "$t" in http://* | https://* | mailto:*) continue ;; esac
        [ -e "$(dirname "$f")/$t" ] || missing="$missing $f:$t"
    done
done
n=$(printf '%s' "$missing" | wc -w)
report $((n == 0)) "Markdown links resolve" "observed $n broken:${missing:- none}, expected 0"

echo "summary: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
