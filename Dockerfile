# esrestore: a static binary on scratch, run as a non-root user.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t esrestore .
#   docker run --rm esrestore version
#
# CI builds and runs this file with buildah (.ci/container.sh), from a
# golang:1.26 base it makes out of the machine's own Go toolchain.

ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
# Modules first: this step is reused until go.mod or go.sum change. The
# cache mounts keep the module and build caches between builds on one
# machine (BuildKit, buildah): a warm build takes seconds, a cold one
# compiles everything (3 to 5 minutes on 2 cores).
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/esrestore ./cmd/esrestore
# The final image has no shell: lay out its few files here. A numeric user
# (65532) so that Kubernetes' runAsNonRoot can verify it without /etc/passwd
# lookups; a home that is the working directory, where `esrestore demo` writes
# ./esrestore-demo/; /tmp for os.TempDir.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/home/esrestore /rootfs/tmp /rootfs/usr/local/bin \
 && echo 'root:x:0:0:root:/root:/sbin/nologin' > /rootfs/etc/passwd \
 && echo 'esrestore:x:65532:65532:esrestore:/home/esrestore:/sbin/nologin' >> /rootfs/etc/passwd \
 && echo 'root:x:0:' > /rootfs/etc/group \
 && echo 'esrestore:x:65532:' >> /rootfs/etc/group \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
 && cp /out/esrestore /rootfs/usr/local/bin/esrestore \
 && chown 65532:65532 /rootfs/home/esrestore \
 && chmod 0755 /rootfs/home/esrestore \
 && chmod 1777 /rootfs/tmp

FROM scratch
ARG VERSION=dev
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/bin HOME=/home/esrestore SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/esrestore
LABEL org.opencontainers.image.title="esrestore" \
      org.opencontainers.image.description="Restores lost Elasticsearch documents into a new index, diffs original vs restored, and writes a report for review" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/esrestore/esrestore"
ENTRYPOINT ["esrestore"]
CMD ["-h"]
