# darkhorses: one static-ish binary on a slim base. Build: docker build -t darkhorses .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY sql ./sql
COPY config ./config
COPY examples ./examples
RUN cargo build --release --locked --bin darkhorses

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/darkhorses --create-home darkhorses
COPY --from=build /src/target/release/darkhorses /usr/local/bin/darkhorses
COPY config/darkhorses.yaml /etc/darkhorses/darkhorses.yaml
USER darkhorses
WORKDIR /var/lib/darkhorses
ENV DARKHORSES_LOCKS_DIR=/var/lib/darkhorses DARKHORSES_LOGGING_DIR=/var/lib/darkhorses/logs
ENTRYPOINT ["darkhorses", "--config", "/etc/darkhorses/darkhorses.yaml"]
CMD ["daily"]
