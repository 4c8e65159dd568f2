#!/bin/bash
# bench-restore.sh runs the whole job once per restore strategy (passes: both sides written whole;
# reconcile: the snapshot restored as the target, only what differs written) and prints for each
# the wall time, the CPU time and peak RSS of esrestore, the time of its restore and diff phases,
# the documents written as Elasticsearch counts them (_stats/indexing index_total of the target),
# the CPU the cluster spent, and the summary's restore counts.
#
#   tools/bench-restore.sh [DOCS [PORT [PREFER [ORDER]]]]     on a fixture cluster (the stand-in)
#   tools/bench-restore.sh --es-url URL [DOCS [PREFER [ORDER]]]  on a real node (tools/realnode.sh)
#
# With --es-url the cluster is seeded first (fixtures/cmd/esseed --replace, 5% lost), and two
# references run beside the job on the same data: Elasticsearch's own restore of the snapshot
# under another name (the floor: no document is indexed) and elasticdump's copy of the original
# into a new index (the usual tool, everything indexed). Every line says which cluster it ran on.
#
# ORDER is the strategies in the order they run, "passes reconcile" by default; run both orders,
# since the fixture's heap grows with each run. The machine is shared: compare the lines of one
# run, not runs.
set -euo pipefail
cd "$(dirname "$0")/.."
es=""
if [ "${1:-}" = --es-url ]; then
	es=${2:?--es-url URL}
	shift 2
	docs=${1:-200000}
	prefer=${2:-original}
	order=${3:-passes reconcile}
	where="real node"
else
	docs=${1:-100000}
	port=${2:-19471}
	prefer=${3:-original}
	order=${4:-passes reconcile}
	where="stand-in"
fi
export AWS_EC2_METADATA_DISABLED=true # the AWS SDK never probes the instance metadata address
tmp=$(mktemp -d)
fake=""
trap '[ -n "$fake" ] && kill "$fake" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM

go build -o "$tmp/esrestore" ./cmd/esrestore
if [ -z "$es" ]; then
	es=http://127.0.0.1:$port
	go build -o "$tmp/esfake" ./fixtures/cmd/esfake
	"$tmp/esfake" --addr "127.0.0.1:$port" --docs "$docs" --loss 0.05 --seed 1 >"$tmp/esfake.log" 2>&1 &
	fake=$!
	until curl -fs "$es/" >/dev/null 2>&1; do
		kill -0 "$fake" 2>/dev/null || { cat "$tmp/esfake.log"; exit 1; }
		sleep 1
	done
else
	echo "seeding $docs documents on $es ($where)"
	go run ./fixtures/cmd/esseed --es-url "$es" --docs "$docs" --loss 0.05 --seed 1 --replace >/dev/null
fi
version=$(curl -fs "$es/" | jq -r .version.number)

# node_cpu prints the cluster's CPU milliseconds so far (0 on the stand-in, which has no _nodes).
node_cpu() {
	curl -fs "$es/_nodes/stats/process" 2>/dev/null | jq '[.nodes[].process.cpu.total_in_millis] | add' 2>/dev/null || echo 0
}
written() { curl -fs "$es/$1/_stats/indexing" | jq ".indices[\"$1\"].primaries.indexing.index_total"; }

echo "$where, Elasticsearch $version, $docs documents, prefer $prefer"
printf '%-12s %8s %8s %9s %9s %10s %12s %11s %9s %9s %9s %s\n' what wall_s cpu_s restore_s diff_s peak_kib index_total node_cpu_s indexed kept read load
for strategy in $order; do
	target=bench_$strategy
	cpu0=$(node_cpu)
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" "$tmp/esrestore" run --es-url "$es" --original documents \
		--source snapshot:backups/before-loss --target "$target" --prefer "$prefer" --strategy "$strategy" \
		--output "file://$tmp/out" --environment bench --run-id "bench-$strategy" --progress 0 \
		--fail-on none --log-format json >/dev/null 2>"$tmp/$strategy.log" || { cat "$tmp/$strategy.log"; exit 1; }
	cpu1=$(node_cpu)
	summary=$tmp/out/documents/bench-$strategy/summary.json
	read -r secs user sys kib <"$tmp/time"
	diff_s=$(jq -r 'select(.msg == "diff compared") | .seconds' "$tmp/$strategy.log" | tail -1)
	printf '%-12s %8s %8.1f %9.1f %9.1f %10s %12s %11.1f %9s %9s %9s %s\n' "$strategy" "$secs" "$(echo "$user + $sys" | bc)" \
		"$(jq .restore.seconds "$summary")" "${diff_s:-0}" "$kib" "$(written "$target")" "$(echo "($cpu1 - $cpu0) / 1000" | bc -l)" \
		"$(jq .restore.indexed "$summary")" "$(jq .restore.kept "$summary")" "$(jq .restore.read "$summary")" \
		"$(jq -r .restore.load "$summary")"
	jq -c '{verdict: .verdict.status, outcome, loss}' "$summary"
	curl -fs -XDELETE "$es/$target" >/dev/null
done

[ "$where" = "real node" ] || exit 0

# The floor: Elasticsearch restores the snapshot's index under another name, copying files.
cpu0=$(node_cpu)
start=$(date +%s.%N)
curl -fs -XPOST "$es/_snapshot/backups/before-loss/_restore?wait_for_completion=true" -H 'Content-Type: application/json' \
	-d '{"indices":"documents","rename_pattern":".+","rename_replacement":"bench_floor","include_aliases":false,"index_settings":{"index.number_of_replicas":0}}' >/dev/null
secs=$(echo "$(date +%s.%N) - $start" | bc)
cpu1=$(node_cpu)
printf '%-12s %8.1f %8s %9s %9s %10s %12s %11.1f %9s %9s %9s %s\n' es-restore "$secs" - - - - "$(written bench_floor)" \
	"$(echo "($cpu1 - $cpu0) / 1000" | bc -l)" - - - "Elasticsearch's own snapshot restore"
curl -fs -XDELETE "$es/bench_floor" >/dev/null

# elasticdump: the mapping, then every document of the original, into a new index.
dump=fixtures/testdata/node/node_modules/.bin/elasticdump
if [ -x "$dump" ]; then
	cpu0=$(node_cpu)
	/usr/bin/time -f '%e %U %S %M' -o "$tmp/time" sh -c "$dump --input='$es/documents' --output='$es/bench_dump' --type=mapping >/dev/null &&
		$dump --input='$es/documents' --output='$es/bench_dump' --type=data --limit=1000 >/dev/null"
	cpu1=$(node_cpu)
	read -r secs user sys kib <"$tmp/time"
	curl -fs -XPOST "$es/bench_dump/_refresh" >/dev/null
	printf '%-12s %8s %8.1f %9s %9s %10s %12s %11.1f %9s %9s %9s %s\n' elasticdump "$secs" "$(echo "$user + $sys" | bc)" - - "$kib" \
		"$(written bench_dump)" "$(echo "($cpu1 - $cpu0) / 1000" | bc -l)" - - - "copy of the original, every document indexed"
	curl -fs -XDELETE "$es/bench_dump" >/dev/null
else
	echo "elasticdump: not installed (cd fixtures/testdata/node && npm ci)"
fi
