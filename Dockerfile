# darkhorses in a container: a build stage, then a small non-root runtime (glibc, CA certificates,
# the binary and its config; no shell, no package manager).
#
#   docker build -t darkhorses .
#   docker run --rm -v darkhorses-data:/var/lib/darkhorses darkhorses --sandbox orchestrate --force-all
#
# The database: set DATABASE_URL to PostgreSQL, or mount a volume at /var/lib/darkhorses (the
# SQLite file, logs and lock files live there). A cron container without either starts from an
# empty SQLite file at every run and loses what it fetched when it exits.
# Deployment examples (Render, Kubernetes, systemd, cron, GitHub Actions): examples/deploy/.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependencies in their own layer: built against placeholder sources, so this layer is reused
# until Cargo.toml or Cargo.lock change (editing src/ rebuilds only the crate itself).
COPY Cargo.toml Cargo.lock ./
RUN mkdir src \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && cargo build --release --locked --bin darkhorses \
    && rm -rf src target/release/darkhorses target/release/deps/darkhorses-* target/release/deps/libdarkhorses-*

# The crate: its sources, the migrations and the sandbox data they embed. The touch makes sure
# cargo sees them as newer than the placeholders, whatever times the build context carries.
COPY src ./src
COPY sql ./sql
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked --bin darkhorses \
    && mkdir -p /out/var/lib/darkhorses

# distroless/cc: glibc, libgcc, CA certificates and a `nonroot` user (uid 65532), nothing else.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/darkhorses /usr/local/bin/darkhorses
COPY config/darkhorses.yaml /etc/darkhorses/darkhorses.yaml
COPY --from=build --chown=65532:65532 /out/var/lib/darkhorses /var/lib/darkhorses
USER 65532:65532
# The working directory is the data directory: the default `sqlite:darkhorses.db` and `logs/`
# resolve inside the volume. Lock files live there too, so two containers sharing the volume
# never write the same SQLite file at once.
WORKDIR /var/lib/darkhorses
ENV DARKHORSES_LOCKS_DIR=/var/lib/darkhorses/locks \
    DARKHORSES_HEALTH_CHECK_BIND=0.0.0.0
VOLUME ["/var/lib/darkhorses"]
# orchestrate --daemon serves /livez, /healthz and /metrics here (health_check.port).
EXPOSE 9187
HEALTHCHECK --interval=5m --timeout=30s --start-period=1m --retries=3 \
    CMD ["darkhorses", "--config", "/etc/darkhorses/darkhorses.yaml", "-q", "health", "--offline"]
ENTRYPOINT ["darkhorses", "--config", "/etc/darkhorses/darkhorses.yaml"]
# Long-running by default (the HEALTHCHECK and the port are for it); a cron platform runs one
# tick instead: `orchestrate`, or a single job such as `daily --days-ahead 1`.
CMD ["orchestrate", "--daemon"]
