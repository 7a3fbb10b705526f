# vouch's container image: `docker build -t vouch .` (the Kubernetes, AWS Batch and
# scheduling examples in contrib/ name it). Two stages: the build on the Rust image of
# the minimum supported version, then only the binary on a slim Debian runtime with CA
# certificates (S3, Glue), running as an unprivileged user.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# --locked: the dependency versions of Cargo.lock, as `cargo install --locked` takes.
RUN cargo build --release --locked --bin vouch \
    && cp target/release/vouch /usr/local/bin/vouch

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 vouch \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /work vouch \
    && mkdir -p /work && chown vouch:vouch /work
COPY --from=build /usr/local/bin/vouch /usr/local/bin/vouch
# Secrets mounted from a Kubernetes Secret need defaultMode 0440 and fsGroup 10001 (or
# 0400 owned by 10001): vouch refuses a secret file others may read.
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["vouch"]
CMD ["--help"]
