#!/bin/sh
# bench-restore.sh runs the whole job twice on one fixture cluster in its
# own process, once per restore strategy (passes: both sides written whole;
# reconcile: the snapshot restored as the target, only what differs
# written), and prints for each the wall time, the peak RSS of esrestore,
# the documents written as Elasticsearch counts them (_stats/indexing
# index_total of the target) and the summary's restore counts.
#
#   tools/bench-restore.sh [DOCS [PORT [PREFER [ORDER]]]]    e.g. tools/bench-restore.sh 1000000
#
# ORDER is the strategies in the order they run, "passes reconcile" by
# default; run both orders, since the fixture's heap grows with each run.
# The machine is shared: compare the two lines of one run, not runs.
set -eu
docs=${1:-100000}
port=${2:-19471}
prefer=${3:-original}
order=${4:-passes reconcile}
export AWS_EC2_METADATA_DISABLED=true # the AWS SDK never probes the instance metadata address
es=http://127.0.0.1:$port
tmp=$(mktemp -d)
trap 'kill "$fake" 2>/dev/null || true; rm -rf "$tmp"' EXIT INT TERM

go build -o "$tmp/esfake" ./fixtures/cmd/esfake
go build -o "$tmp/esrestore" ./cmd/esrestore
"$tmp/esfake" --addr "127.0.0.1:$port" --docs "$docs" --loss 0.05 --seed 1 >"$tmp/esfake.log" 2>&1 &
fake=$!
until curl -fs "$es/" >/dev/null 2>&1; do
	kill -0 "$fake" 2>/dev/null || { cat "$tmp/esfake.log"; exit 1; }
	sleep 1
done

printf '%-10s %8s %8s %10s %12s %10s %10s %10s %s\n' strategy seconds restore_s peak_kib index_total indexed kept read load
for strategy in $order; do
	target=bench_$strategy
	/usr/bin/time -f '%e %M' -o "$tmp/time" "$tmp/esrestore" run --es-url "$es" --original documents \
		--source snapshot:backups/before-loss --target "$target" --prefer "$prefer" --strategy "$strategy" \
		--output "file://$tmp/out" --environment bench --run-id "bench-$strategy" --progress 0 \
		--fail-on none --log-level warn >/dev/null 2>"$tmp/$strategy.log" || { cat "$tmp/$strategy.log"; exit 1; }
	written=$(curl -fs "$es/$target/_stats/indexing" | jq ".indices[\"$target\"].primaries.indexing.index_total")
	summary=$tmp/out/documents/bench-$strategy/summary.json
	read -r secs kib <"$tmp/time"
	printf '%-10s %8s %8.1f %10s %12s %10s %10s %10s %s\n' "$strategy" "$secs" "$(jq .restore.seconds "$summary")" "$kib" "$written" \
		"$(jq .restore.indexed "$summary")" "$(jq .restore.kept "$summary")" "$(jq .restore.read "$summary")" \
		"$(jq -r .restore.load "$summary")"
	jq -c '{verdict: .verdict.status, outcome, loss}' "$summary"
	curl -fs -XDELETE "$es/$target" >/dev/null
done
