#!/usr/bin/env bash
# Run benchmarks on this tree and on an earlier revision, alternating, in one run.
#
#   bench/compare_revisions.sh REV [ROUNDS] -- bench_compliance.py [args] -- bench_auditor.py [args]
#
# "No worse than before" needs the old code measured beside the new one on the same
# machine in the same hour (a figure from another day says little on a shared VM).
# REV is checked out in a temporary git worktree; each bench runs there with
# PYTHONPATH pointing at it (the venv's editable install finder comes after the
# path finder, so the worktree's packages win; the script prints which it imported),
# then here, ROUNDS times. Output: each run's own figures, labelled.
set -euo pipefail
cd "$(dirname "$0")/.."
rev=${1:?usage: bench/compare_revisions.sh REV [ROUNDS] -- BENCH [ARGS] [-- BENCH [ARGS]]}
shift
rounds=1
if [[ ${1:-} =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
[[ ${1:-} == -- ]] && shift
py=$PWD/.venv/bin/python
old=$(mktemp -d /tmp/netwarden-bench-rev.XXXXXX)
trap 'git worktree remove --force "$old/tree" >/dev/null 2>&1 || true; rm -rf "$old"' EXIT
git worktree add --detach -q "$old/tree" "$rev"
echo "baseline: $(git -C "$old/tree" log --oneline -1)"
echo "this tree: $(git log --oneline -1)$(git diff --quiet || echo ' (+ uncommitted changes)')"
benches=()
cur=""
for a in "$@"; do
    if [[ $a == -- ]]; then benches+=("$cur"); cur=""; else cur+="${cur:+ }$a"; fi
done
[[ -n $cur ]] && benches+=("$cur")
for b in "${benches[@]}"; do
    read -r -a argv <<< "$b"
    for ((r = 1; r <= rounds; r++)); do
        for side in baseline new; do
            if [[ $side == baseline ]]; then tree=$old/tree; else tree=$PWD; fi
            echo "== ${argv[0]} round $r: $side"
            (cd "$tree" && PYTHONPATH=$tree "$py" -c 'import netwarden, sys; print("netwarden from", netwarden.__file__, file=sys.stderr)' &&
                PYTHONPATH=$tree "$py" "bench/${argv[0]}" "${argv[@]:1}")
        done
    done
done
