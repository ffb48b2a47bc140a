# syntax=docker/dockerfile:1
# Build: docker build --build-arg VERSION=$(git describe --tags --always) -t feedwatch .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/feedwatch ./cmd/feedwatch \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/feedwatch /usr/local/bin/feedwatch
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/feedwatch
ENV FEEDWATCH_CONFIG=/etc/feedwatch/feedwatch.yaml \
    FEEDWATCH_DATA_DIR=/var/lib/feedwatch \
    FEEDWATCH_HTTP_LISTEN=0.0.0.0:7070
VOLUME ["/var/lib/feedwatch"]
EXPOSE 7070
USER nonroot:nonroot
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/feedwatch", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/feedwatch"]
CMD ["run"]
