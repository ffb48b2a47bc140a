# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) \
#          --build-arg COMMIT=$(git rev-parse HEAD) -t feedwatch .
# Base images are fully qualified so no registry search order can swap them.
FROM docker.io/library/golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# .git is not in the build context (.dockerignore), so version and commit
# come from build args; an empty COMMIT prints "unknown".
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/feedwatch ./cmd/feedwatch \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/feedwatch /usr/local/bin/feedwatch
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/feedwatch
# No VOLUME: with an external NATS (watch, notify) all state is in the
# cluster; "run" with the embedded server keeps its store in
# /var/lib/feedwatch, so mount a volume there (README "Install").
ENV FEEDWATCH_CONFIG=/etc/feedwatch/feedwatch.yaml \
    FEEDWATCH_DATA_DIR=/var/lib/feedwatch \
    FEEDWATCH_HTTP_LISTEN=0.0.0.0:7070
EXPOSE 7070
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/feedwatch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/feedwatch"]
CMD ["run"]
