#!/usr/bin/env bash
# Loopback demo: one sender, three receivers on this host (multicast on 127.0.0.1, no root).
# Usage: npm run demo [-- SIZE_MIB [RECEIVERS]]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-64}
n=${2:-3}
[ -f dist/src/cli.js ] || npx tsc -p tsconfig.json
dir=$(mktemp -d /tmp/dbcast-demo.XXXXXX)
pids=()
cleanup() {
  for f in "$dir"/replica*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  kill "${pids[@]}" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
net=(--interface 127.0.0.1 --group 239.255.42.99 --port 9099 --job demo)

head -c $((size_mib * 1048576)) /dev/urandom > "$dir/input.dump"
want=$(sha256sum < "$dir/input.dump" | cut -d' ' -f1)
# Each receiver writes the stream to its stdout, a real pipe into a hashing consumer, as in
# `dbcast receive | pg_restore`. The group records the receiver's pid (for cleanup) and its exit
# status (a pipeline's own status is its last command's, sha256sum's).
for i in $(seq 1 "$n"); do
  { bin/dbcast receive "${net[@]}" --name "replica$i" --start-timeout-sec 30 2> "$dir/replica$i.log" &
    echo $! > "$dir/replica$i.pid"
    rc=0; wait $! || rc=$?
    echo "$rc" > "$dir/replica$i.code"
  } | sha256sum > "$dir/replica$i.sha" &
  pids+=($!)
done
start=$(date +%s.%N)
code=0
bin/dbcast send "${net[@]}" --min-receivers "$n" < "$dir/input.dump" || code=$?
end=$(date +%s.%N)
wait "${pids[@]}" # sha256sum ends once its receiver's group has exited (and written its code)
pids=()
ok=0
rx_ok=0
for i in $(seq 1 "$n"); do
  got=$(cut -d' ' -f1 < "$dir/replica$i.sha")
  [ "$got" = "$want" ] && ok=$((ok + 1))
  rcode=$(cat "$dir/replica$i.code" 2>/dev/null || echo '?')
  if [ "$rcode" = 0 ]; then rx_ok=$((rx_ok + 1)); else
    echo "demo: replica$i exit $rcode:" >&2; tail -n 5 "$dir/replica$i.log" >&2
  fi
done
echo "demo: ${size_mib} MiB to ${n} receivers: ${ok}/${n} byte-exact, sender exit ${code}," \
  "$(awk -v s="$start" -v e="$end" -v m="$size_mib" 'BEGIN { printf "%.1f MiB/s per receiver (wall clock, incl. join)", m / (e - s) }')"
[ "$ok" -eq "$n" ] && [ "$rx_ok" -eq "$n" ] && [ "$code" -eq 0 ]
