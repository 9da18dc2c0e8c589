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
cleanup() { kill "${pids[@]}" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
net=(--interface 127.0.0.1 --group 239.255.42.99 --port 9099 --job demo)

head -c $((size_mib * 1048576)) /dev/urandom > "$dir/input.dump"
want=$(sha256sum < "$dir/input.dump" | cut -d' ' -f1)
for i in $(seq 1 "$n"); do
  bin/dbcast receive "${net[@]}" --name "replica$i" --output "$dir/replica$i.dump" --start-timeout-sec 30 \
    2> "$dir/replica$i.log" &
  pids+=($!)
done
start=$(date +%s.%N)
bin/dbcast send "${net[@]}" --min-receivers "$n" < "$dir/input.dump"
code=$?
end=$(date +%s.%N)
wait "${pids[@]}"
pids=()
ok=0
for i in $(seq 1 "$n"); do
  got=$(sha256sum < "$dir/replica$i.dump" | cut -d' ' -f1)
  [ "$got" = "$want" ] && ok=$((ok + 1))
done
echo "demo: ${size_mib} MiB to ${n} receivers: ${ok}/${n} byte-exact, sender exit ${code}," \
  "$(awk -v s="$start" -v e="$end" -v m="$size_mib" 'BEGIN { printf "%.1f MiB/s per receiver (wall clock, incl. join)", m / (e - s) }')"
[ "$ok" -eq "$n" ] && [ "$code" -eq 0 ]
