#!/usr/bin/env bash
# One real Elasticsearch node on 127.0.0.1, for esrestore's tests.
#
#   tools/realnode.sh start DIR [--version 8.19.21|9.5.3] [--write-queue N]
#   tools/realnode.sh stop DIR [--kill]
#   tools/realnode.sh build [VERSION]
#
# start builds tools/realnode (Elastic's server, transport-netty4 and test framework from Maven
# Central, about 67 MB of jars, cached), starts one node with single-node discovery, its data under
# DIR/data and the fs snapshot repositories' root (path.repo) at DIR/repo, a heap of at most 1 GB,
# and prints the node's URL as the first line of stdout once GET / answers. On a DIR that already
# holds a node's data it restarts that node on the same data and the same port. --write-queue N
# gives the write thread pool one thread and a queue of N, so bulks meet real 429s.
#
# build only builds (what start does first), for a machine to fetch the jars ahead of the tests.
#
# stop sends SIGTERM and waits for the node to close (SIGKILL after 30 s); --kill sends SIGKILL at
# once, as a crash would.
#
# Elasticsearch refuses to run as root, so as root the node runs as the user esrestore-es (created
# when missing) and DIR is given to it; every directory above DIR must be searchable by others.
#
# Environment: ESRESTORE_TEST_REALNODE_CACHE, where built nodes are kept (default
# /var/tmp/esrestore-realnode, shared by every checkout; readable by the node's user);
# ESRESTORE_TEST_REALNODE_HEAP, the heap (default 1g); ESRESTORE_TEST_REALNODE_TIMEOUT_MS, how long
# the node may live (default about 23 days); ESRESTORE_TEST_REALNODE_WATCH_PID, a
# process whose end stops the node and removes DIR (a test binary that started it).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
module="$here/realnode"
node_user=esrestore-es

die() { echo "realnode: $*" >&2; exit 1; }

usage() {
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# java_for VERSION prints the java binary that runs that Elasticsearch version.
java_for() {
  case "$1" in
    8.*) echo "${JAVA_HOME:+$JAVA_HOME/bin/}java" ;;
    9.*)
      for j in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-2[1-9]-jdk-amd64 /usr/lib/jvm/java-2[1-9]-openjdk-amd64; do
        [ -x "$j/bin/java" ] && { echo "$j/bin/java"; return; }
      done
      die "Elasticsearch $1 needs Java 21 or newer; none found under /usr/lib/jvm" ;;
    *) die "--version $1: not one of 8.19.21, 9.5.3" ;;
  esac
}

# build VERSION makes sure CACHE/VERSION holds the node's jar and libraries, built from the
# module's current sources; prints that directory.
build() {
  local version="$1" cache="${ESRESTORE_TEST_REALNODE_CACHE:-/var/tmp/esrestore-realnode}"
  local out="$cache/$version" profile=() major=es8 java
  case "$version" in 9.*) profile=(-Pes9); major=es9 ;; esac
  java="$(java_for "$version")"
  mkdir -p "$cache"
  chmod 755 "$cache"
  local stamp
  stamp="$(cd "$module" && find pom.xml src -type f | sort | xargs sha256sum | sha256sum | cut -c1-16)"
  # Several test binaries may start nodes at once: one builds, the others wait for it.
  exec 9>"$cache/$version.lock"
  flock 9
  if [ "$(cat "$out/stamp" 2>/dev/null)" != "$stamp" ]; then
    echo "realnode: building Elasticsearch $version (first time: Maven downloads about 67 MB)" >&2
    local jh
    jh="$(dirname "$(dirname "$(readlink -f "$(command -v "$java")")")")"
    if ! (cd "$module" && JAVA_HOME="$jh" mvn -q -B -Dstyle.color=never "${profile[@]}" package \
      dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="target/$major/lib") \
      >"$cache/$version.build.log" 2>&1; then
      cat "$cache/$version.build.log" >&2
      die "building $module for $version failed (mvn output above)"
    fi
    rm -rf "$out.tmp"
    mkdir -p "$out.tmp/lib"
    cp "$module/target/$major/realnode-1.jar" "$out.tmp/"
    cp "$module/target/$major/lib/"*.jar "$out.tmp/lib/"
    echo "$stamp" >"$out.tmp/stamp"
    chmod -R a+rX "$out.tmp"
    rm -rf "$out"
    mv "$out.tmp" "$out"
  fi
  flock -u 9
  echo "$out"
}

# as_node CMD... runs CMD as the node's user when this script runs as root.
as_node() {
  "${run_as[@]}" "$@"
}
run_as=()
[ "$(id -u)" = 0 ] && run_as=(setpriv --reuid="$node_user" --regid="$node_user" --init-groups --)

start() {
  local dir="" version=8.19.21 queue=0
  [ $# -ge 1 ] || usage
  dir="$1"; shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --version) [ $# -ge 2 ] || usage; version="$2"; shift 2 ;;
      --write-queue) [ $# -ge 2 ] || usage; queue="$2"; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [[ "$queue" =~ ^[0-9]+$ ]] || die "--write-queue $queue: not a number"
  local java lib
  java="$(java_for "$version")"
  lib="$(build "$version")"

  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    die "$dir: a node is already running (pid $(cat "$dir/pid")); stop it first"
  fi
  if [ -f "$dir/version" ] && [ "$(cat "$dir/version")" != "$version" ]; then
    die "$dir holds the data of Elasticsearch $(cat "$dir/version"), not $version"
  fi
  echo "$version" >"$dir/version"
  if [ "$(id -u)" = 0 ]; then
    id "$node_user" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$node_user"
    chown -R "$node_user:$node_user" "$dir"
    chmod 755 "$dir"
    as_node test -w "$dir" ||
      die "$dir: the user $node_user cannot reach it (a directory above it is not searchable by others)"
  fi

  local port=0
  [ -f "$dir/http.port" ] && port="$(cat "$dir/http.port")"
  rm -f "$dir/started"
  local heap="${ESRESTORE_TEST_REALNODE_HEAP:-1g}"
  # setsid: the node outlives this script and is not hit by a terminal's signals. Neither setpriv
  # nor setsid forks here, so $! is the JVM's pid. ESTestCase's suite timeout (20 minutes, by
  # annotation) would stop the node; a value ending in ! wins over the annotation.
  local timeout="${ESRESTORE_TEST_REALNODE_TIMEOUT_MS:-2000000000}"
  "${run_as[@]}" setsid "$java" -Xms256m -Xmx"$heap" -XX:+UseSerialGC \
    -Djava.io.tmpdir="$dir" -Dtests.asserts=false -Dtests.security.manager=false \
    ${ESRESTORE_TEST_REALNODE_WATCH_PID:+-Drealnode.watch.pid=$ESRESTORE_TEST_REALNODE_WATCH_PID -Drealnode.remove.dir=true} \
    -Dlog4j2.disable.jmx=true -Dtests.locale=en-US -Dtests.timezone=UTC \
    -Dtests.timeoutSuite="$timeout!" -Dtests.timeout="$timeout!" \
    -cp "$lib/realnode-1.jar:$lib/lib/*" esrestore.realnode.Main "$dir" "$port" 0 "$queue" \
    >>"$dir/node.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$dir/pid"

  local deadline=$((SECONDS + 180))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$dir/node.log" >&2
      die "the node exited before it answered; its log is $dir/node.log"
    fi
    if [ -f "$dir/started" ] && [ -f "$dir/http.port" ]; then
      port="$(cat "$dir/http.port")"
      if curl -fsS -o /dev/null --max-time 5 "http://127.0.0.1:$port/"; then
        break
      fi
    fi
    [ $SECONDS -lt $deadline ] || { kill -9 "$pid" 2>/dev/null; die "no answer from GET / within 180 s; log: $dir/node.log"; }
    sleep 0.3
  done
  echo "http://127.0.0.1:$port"
}

stop() {
  local dir="" kill=0
  [ $# -ge 1 ] || usage
  dir="$1"; shift
  [ "${1:-}" = --kill ] && kill=1
  [ -f "$dir/pid" ] || die "$dir: no node was started there"
  local pid
  pid="$(cat "$dir/pid")"
  if kill -0 "$pid" 2>/dev/null; then
    if [ $kill = 1 ]; then
      kill -KILL "$pid"
    else
      kill -TERM "$pid"
      local deadline=$((SECONDS + 30))
      while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$dir/pid" "$dir/started"
}

[ $# -ge 1 ] || usage
cmd="$1"; shift
case "$cmd" in
  start) start "$@" ;;
  stop) stop "$@" ;;
  build) [ $# -le 1 ] || usage; build "${1:-8.19.21}" >/dev/null ;;
  *) usage ;;
esac
