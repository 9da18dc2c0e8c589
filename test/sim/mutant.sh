#!/bin/sh
# Does a mutation of the protocol make the simulation test fail? Applies PATCH (a diff against
# HEAD, e.g. `git diff protocol/ > m.patch`) in a scratch worktree, runs the simulation test
# there with and without it, and prints the checks that fail only with it.
# usage: test/sim/mutant.sh PATCH        (environment: SIM_SEEDS, SIM_FAMILY as for the test)
set -eu
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 PATCH (a diff against HEAD)" >&2; exit 2; }
patch=$(realpath "$1")
root=$(git rev-parse --show-toplevel)
dir=$(mktemp -d /tmp/dbcast-mutant.XXXXXX)
git -C "$root" worktree add --detach "$dir" HEAD >/dev/null 2>&1
trap 'git -C "$root" worktree remove --force "$dir"; rm -rf "$dir"' EXIT
ln -s "$root/node_modules" "$dir/node_modules"
cd "$dir"
failing() { npx tap --reporter=tap test/simulation.test.ts 2>&1 | grep -E '^ *not ok|seed [0-9]+ \[' | sed 's/ # time=.*//' | sort -u; }
failing > base.txt || true
git apply "$patch"
failing > mutant.txt || true
new=$(comm -13 base.txt mutant.txt)
if [ -z "$new" ]; then echo "mutant SURVIVED: no check fails that did not fail without it"; exit 1; fi
echo "mutant killed; failing only with it:"; echo "$new"
