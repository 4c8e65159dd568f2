#!/usr/bin/env bash
# Every test of esrestore, on a fresh machine as on a used one:
#
#   tools/test.sh
#
# 1. installs what the tests need and the machine lacks: Chromium (the page's browser test), Java
#    and Maven (the real Elasticsearch), the Node.js clients of fixtures/testdata/node (pinned by
#    its package-lock.json), and builds the real nodes (Maven Central, about 67 MB a version);
# 2. runs go test -race ./... on the in-process stand-in;
# 3. runs every suite that can run on a real node on a real Elasticsearch, once per version in
#    ESRESTORE_TEST_VERSIONS (default "8.19.21 9.5.3"): each test binary starts its own node
#    (ESRESTORE_TEST_REAL, see fixtures/estest), and the fixture package's checks of the stand-in
#    against the real node run on one node started here.
#
# Extra arguments go to every go test (e.g. -run TestModes, -count=1).
set -euo pipefail
cd "$(dirname "$0")/.."

export AWS_EC2_METADATA_DISABLED=true
versions="${ESRESTORE_TEST_VERSIONS:-8.19.21 9.5.3}"

section() { printf '\n== %s (at %d s)\n' "$*" "$SECONDS"; }
# Every suite runs even when one fails, so that one run shows every failure; the script fails at
# the end.
failed=()
suite() {
  local name="$1"
  shift
  if ! "$@"; then
    failed+=("$name")
  fi
}

section "what the tests need"
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${missing[*]} (install them, or run as root to have them installed)" >&2
    exit 1
  fi
  echo "installing ${missing[*]} (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
chromium --version
java -version 2>&1 | head -1
(cd fixtures/testdata/node && npm ci --no-audit --no-fund --loglevel=error)
for v in $versions; do
  tools/realnode.sh build "$v"
  echo "Elasticsearch $v built"
done

section "go test -race ./... (the stand-in)"
suite "stand-in" go test -race -timeout 30m "$@" ./...

# The packages whose tests take their cluster from fixtures/estest.
real_pkgs=$(go list -f '{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}' ./... |
  awk '/ .*fixtures\/estest( |$)/ {print $1}')

node_dir=""
stop_node() {
  if [ -n "$node_dir" ]; then
    tools/realnode.sh stop "$node_dir" >/dev/null 2>&1 || true
    rm -rf "$node_dir"
  fi
}
trap stop_node EXIT

for v in $versions; do
  section "Elasticsearch $v: the end-to-end suites on a real node"
  # shellcheck disable=SC2086 # one word a package
  suite "real node $v" env ESRESTORE_TEST_REAL="$v" go test -count=1 -timeout 30m "$@" $real_pkgs

  section "Elasticsearch $v: the stand-in checked against a real node"
  node_dir="$(mktemp -d /tmp/esrestore-realnode-XXXXXX)"
  chmod 755 "$node_dir"
  url="$(tools/realnode.sh start "$node_dir" --version "$v" | head -1)"
  suite "stand-in judged on $v" env ESRESTORE_TEST_ES_URL="$url" go test -count=1 "$@" ./fixtures/ ./fixtures/cmd/esseed/
  stop_node
  node_dir=""
done

section "done"
if [ ${#failed[@]} -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}"
  exit 1
fi
echo "every suite passed"
