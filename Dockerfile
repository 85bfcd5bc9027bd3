# syntax=docker/dockerfile:1

# Base images are referenced by tag until their digests are written here, as
# golang:1.26@sha256:<digest of the multi-platform index> (docker buildx
# imagetools inspect golang:1.26 shows it); `make check-digests` fails until
# every image, this file's and deploy/'s, is pinned by digest.

# Builder: compiles on the build machine's platform and cross-compiles to the
# target one (docker buildx build --platform linux/amd64,linux/arm64 .).
FROM --platform=$BUILDPLATFORM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src

# Dependencies first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o /out/keyless ./cmd/keyless

# Runtime: static binary on distroless, no shell, non-root (65532 is the
# "nonroot" user of the image, and the runAsUser of the chart's Deployment).
FROM gcr.io/distroless/static:nonroot
COPY --from=builder /out/keyless /keyless
USER 65532:65532
ENTRYPOINT ["/keyless"]
