#!/usr/bin/env bash
# Builds the Dockerfile and runs the image, for real, without a Docker engine
# or a registry: buildah (vfs storage, chroot isolation) on a Debian machine,
# as root.
#
#   1. installs buildah and a static busybox if they are missing;
#   2. makes the builder base image the Dockerfile's FROM names (golang:1.26)
#      out of this machine's Go toolchain, unless it is already there for this
#      Go version;
#   3. buildah bud --pull=never the Dockerfile (its `go mod download` reaches
#      the module proxy);
#   4. runs the image as its non-root user: `esrestore version` must print the
#      stamped version, and `esrestore demo` must exit 0 and leave a
#      summary.json under ./esrestore-demo/ when the binary has a demo command.
#
# Environment:
#   VERSION       version stamped into the binary (default: git describe, or the source tree's
#                 release (cmd/esrestore/version.go) outside a git checkout)
#   IMAGE         tag of the image built (default: esrestore:ci)
#   REQUIRE_DEMO  1: a binary without the demo command fails the script
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=golang:1.26 # the Dockerfile's ARG GO_IMAGE default
IMAGE=${IMAGE:-esrestore:ci}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null ||
  sed -n 's/^const release = "\(.*\)"$/\1/p' cmd/esrestore/version.go)}
REQUIRE_DEMO=${REQUIRE_DEMO:-0}
APP_UID=65532

# vfs storage works wherever overlay mounts do not (a container's root
# filesystem); chroot isolation needs no OCI runtime. Debian's buildah 1.28
# ignores $STORAGE_DRIVER, hence the flag on every call.
export BUILDAH_ISOLATION=chroot STORAGE_DRIVER=vfs
buildah() { command buildah --storage-driver "$STORAGE_DRIVER" "$@"; }

start=$SECONDS
step() { echo "== container: $* (+$((SECONDS - start))s)"; }
fail() { echo "container: FAIL: $*" >&2; exit 1; }

containers=()
mounted=()
cleanup() {
  local c
  for c in "${mounted[@]}"; do buildah umount "$c" >/dev/null 2>&1 || true; done
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM # so that the EXIT trap runs

# --- 1. tools ---------------------------------------------------------------
static_busybox() {
  [ -x /bin/busybox ] || return 1
  local out
  out=$(LC_ALL=C ldd /bin/busybox 2>&1 || true) # exits 1 on a static binary
  [[ "$out" == *"not a dynamic executable"* ]]
}
if ! command -v buildah >/dev/null || ! static_busybox || [ ! -f /etc/ssl/certs/ca-certificates.crt ]; then
  step "installing buildah busybox-static ca-certificates"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq buildah busybox-static ca-certificates >/dev/null
fi
static_busybox || fail "/bin/busybox is not a static binary"
buildah --version

# --- 2. builder base image ----------------------------------------------------
gover=$(go env GOVERSION)
case "$gover" in
  go1.26|go1.26.*) ;;
  *) fail "the Dockerfile builds with $BASE_IMAGE but this machine has $gover" ;;
esac
have=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.esrestore.go-version"}}' "$BASE_IMAGE" 2>/dev/null || true)
if [ "$have" = "$gover" ]; then
  step "$BASE_IMAGE already made from $gover"
else
  step "making $BASE_IMAGE from $(go env GOROOT) ($gover)"
  goroot=$(go env GOROOT)
  c=$(buildah from scratch); containers+=("$c")
  m=$(buildah mount "$c"); mounted+=("$c")
  mkdir -p "$m"/bin "$m"/usr/local "$m"/etc/ssl/certs "$m"/root "$m"/go "$m"/tmp "$m"/src
  chmod 1777 "$m"/tmp
  cp -a "$goroot" "$m"/usr/local/go
  cp /bin/busybox "$m"/bin/busybox
  for applet in $(/bin/busybox --list); do
    [ -e "$m/bin/$applet" ] || ln -s busybox "$m/bin/$applet"
  done
  cp /etc/ssl/certs/ca-certificates.crt "$m"/etc/ssl/certs/
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$m"/etc/passwd
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$m"/etc/group
  buildah umount "$c" >/dev/null; mounted=()
  buildah config \
    --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env GOPATH=/go --env GOTOOLCHAIN=local --env HOME=/root \
    --workingdir /go --cmd /bin/sh \
    --label org.esrestore.go-version="$gover" \
    "$c"
  buildah commit --quiet --rm "$c" "$BASE_IMAGE" >/dev/null
  containers=()
fi

# --- 3. the Dockerfile ----------------------------------------------------------
step "buildah bud $IMAGE (VERSION=$VERSION)"
previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE" 2>/dev/null || true)
# Each output line stamped with the seconds since the start: CI logs show
# which step the time goes to.
buildah bud --pull=never --isolation chroot --build-arg VERSION="$VERSION" -t "$IMAGE" . 2>&1 |
  while IFS= read -r line; do printf '[%4ds] %s\n' $((SECONDS - start)) "$line"; done
current=$(buildah inspect --type image --format '{{.FromImageID}}' "$IMAGE")
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then
  buildah rmi "$previous" >/dev/null 2>&1 || true # the last run's image, now untagged
fi

user=$(buildah inspect --type image --format '{{.OCIv1.Config.User}}' "$IMAGE")
entrypoint=$(buildah inspect --type image --format '{{.OCIv1.Config.Entrypoint}}' "$IMAGE")
workdir=$(buildah inspect --type image --format '{{.OCIv1.Config.WorkingDir}}' "$IMAGE")
echo "image config: User=$user Entrypoint=$entrypoint WorkingDir=$workdir"
# Kubernetes' runAsNonRoot can only verify a numeric user.
[[ "$user" =~ ^([0-9]+)(:[0-9]+)?$ ]] || fail "image user $user is not numeric"
[ "${BASH_REMATCH[1]}" -ne 0 ] || fail "image runs as root"
[ "$entrypoint" = '[esrestore]' ] || fail "entrypoint is $entrypoint, want [esrestore]"
label=$(buildah inspect --type image --format '{{index .OCIv1.Config.Labels "org.opencontainers.image.version"}}' "$IMAGE")
[ "$label" = "$VERSION" ] || fail "label org.opencontainers.image.version is $label, want $VERSION"

# --- 4. run it ------------------------------------------------------------------
c=$(buildah from --pull=never "$IMAGE"); containers+=("$c")
m=$(buildah mount "$c"); mounted+=("$c")
[ "$(stat -c %u "$m$workdir")" = "$APP_UID" ] || fail "$workdir is not owned by $APP_UID"
[ "$(stat -c %a "$m/tmp")" = 1777 ] || fail "/tmp is not mode 1777"
echo "image files: $(cd "$m" && find . -type f | sort | tr '\n' ' ')"
run() { buildah run --isolation chroot --user "$APP_UID:$APP_UID" --workingdir "$workdir" "$c" -- "$@"; }

step "esrestore version"
out=$(run esrestore version)
echo "$out"
case "$out" in
  "esrestore $VERSION "*) ;;
  *) fail "esrestore version printed \"$out\", want the stamped version $VERSION" ;;
esac

help=$(run esrestore -h 2>&1 || true)
if grep -Eq '^  demo( |$)' <<<"$help"; then
  step "esrestore demo as $APP_UID"
  run esrestore demo || fail "esrestore demo exited $?"
  summary=$(find "$m$workdir/esrestore-demo" -name summary.json -print -quit 2>/dev/null || true)
  [ -n "$summary" ] || fail "esrestore demo left no summary.json under $workdir/esrestore-demo"
  grep -Eq '"complete": *true' "$summary" || fail "${summary#"$m"} does not say \"complete\": true"
  echo "demo report: ${summary#"$m"}"
elif [ "$REQUIRE_DEMO" = 1 ]; then
  fail "demo not available in this build (REQUIRE_DEMO=1)"
else
  echo "container: demo not available in this build: skipped"
fi

step "ok: $IMAGE $(buildah images --format '{{.Size}}' "$IMAGE"), done in $((SECONDS - start))s"
