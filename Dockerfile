# kefu: one static binary on a distroless base.
#   docker build -t kefu .
#   docker run --rm -p 8080:8080 -e KEFU_TOKEN_SECRET=... kefu serve --demo
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/kefu ./cmd/kefu \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kefu /usr/local/bin/kefu
# An empty data dir owned by the runtime user: a named volume mounted here
# starts with this ownership.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV KEFU_DATA_DIR=/data \
    KEFU_ADDR=:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/kefu"]
CMD ["serve"]
