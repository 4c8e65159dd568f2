#!/usr/bin/env bash
# A report written by s3out must read back with the AWS CLI as plain S3
# objects: summary.json as JSON, the .ndjson.gz objects as gzip-encoded
# NDJSON with the bytes that were written.
#
# Starts versitygw on 127.0.0.1, writes a report through the product code
# (TestReportRoundTrip pointed at this server), reads every object back with
# `aws s3 cp`, and exits non-zero on any mismatch. Runs as root on Debian;
# installs Debian's awscli when no working `aws` is found.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "s3-awscli: $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

aws_cli=
for c in aws /usr/bin/aws; do
	if command -v "$c" >/dev/null 2>&1 && "$c" --version >/dev/null 2>&1; then
		aws_cli=$(command -v "$c")
		break
	fi
done
if [ -z "$aws_cli" ]; then
	log "installing Debian's awscli"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null
	aws_cli=/usr/bin/aws
fi
log "using $("$aws_cli" --version 2>&1)"

work=$(mktemp -d)
vgw_pid=
cleanup() {
	if [ -n "$vgw_pid" ]; then
		kill "$vgw_pid" 2>/dev/null || true
		wait "$vgw_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

log "building versitygw from tools/go.mod"
(cd tools && go build -o "$work/versitygw" github.com/versity/versitygw/cmd/versitygw)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=
for p in $(shuf -i 20000-60000 -n 50); do
	if port_free "$p"; then
		port=$p
		break
	fi
done
[ -n "$port" ] || fail "no free port on 127.0.0.1"
endpoint=http://127.0.0.1:$port

# The CLI and the product both take credentials from the environment only.
export AWS_ACCESS_KEY_ID=esrestoreci
AWS_SECRET_ACCESS_KEY=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export AWS_SECRET_ACCESS_KEY
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE=$work/none AWS_SHARED_CREDENTIALS_FILE=$work/none
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER=
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3

mkdir "$work/data"
ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
	"$work/versitygw" --port "127.0.0.1:$port" --quiet posix "$work/data" >"$work/versitygw.log" 2>&1 &
vgw_pid=$!
for _ in $(seq 150); do
	port_free "$port" || break
	kill -0 "$vgw_pid" 2>/dev/null || fail "versitygw exited: $(cat "$work/versitygw.log")"
	sleep 0.2
done
port_free "$port" && fail "versitygw does not listen on $endpoint"
log "versitygw on $endpoint"

log "writing a report through s3out"
if ! ESRESTORE_TEST_S3_ENDPOINT=$endpoint ESRESTORE_TEST_S3_MANIFEST=$work/manifest \
	go test -count=1 -run '^TestReportRoundTrip$/^s3$' -v ./s3out >"$work/test.log" 2>&1; then
	cat "$work/test.log" >&2
	fail "writing the report failed"
fi
grep -E '^ *--- ' "$work/test.log" >&2 || true
[ -s "$work/manifest" ] || fail "the test wrote no manifest"
objects=$(wc -l <"$work/manifest")
[ "$objects" -eq 3 ] || fail "got $objects objects in the manifest, want 3"

checked=0
while IFS=$'\t' read -r url want_sha; do
	bucket_key=${url#s3://}
	bucket=${bucket_key%%/*}
	key=${bucket_key#*/}
	"$aws_cli" --endpoint-url "$endpoint" s3 cp --only-show-errors "$url" - >"$work/object" ||
		fail "aws s3 cp $url failed"
	read -r ctype cenc < <("$aws_cli" --endpoint-url "$endpoint" s3api head-object \
		--bucket "$bucket" --key "$key" --query '[ContentType, ContentEncoding]' --output text)
	case $key in
	*.ndjson.gz)
		[ "$ctype" = application/x-ndjson ] || fail "$url: got Content-Type $ctype, want application/x-ndjson"
		[ "$cenc" = gzip ] || fail "$url: got Content-Encoding $cenc, want gzip"
		# The CLI hands over the stored bytes; a browser would decode them.
		if [ "$(od -An -tx1 -N2 "$work/object" | tr -d ' ')" = 1f8b ]; then
			gunzip -c <"$work/object" >"$work/plain" || fail "$url: not gzip"
		else
			cp "$work/object" "$work/plain"
		fi
		python3 -c 'import json, sys
n = 0
for n, line in enumerate(sys.stdin, 1):
    json.loads(line)
assert n > 0, "empty"' <"$work/plain" || fail "$url: not NDJSON"
		;;
	*.json)
		[ "$ctype" = application/json ] || fail "$url: got Content-Type $ctype, want application/json"
		[ "$cenc" = None ] || fail "$url: got Content-Encoding $cenc, want none"
		cp "$work/object" "$work/plain"
		python3 -m json.tool <"$work/plain" >/dev/null || fail "$url: not JSON"
		;;
	*) fail "$url: unexpected object" ;;
	esac
	got_sha=$(sha256sum <"$work/plain" | cut -d' ' -f1)
	[ "$got_sha" = "$want_sha" ] || fail "$url: got sha256 $got_sha, want $want_sha"
	log "ok $url ($ctype${cenc:+, $cenc}, $(wc -c <"$work/plain") bytes decoded)"
	checked=$((checked + 1))
done <"$work/manifest"

echo "s3-awscli: $checked passed, 0 failed"
