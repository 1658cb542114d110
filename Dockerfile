# The image a Kubernetes Indexed Job or a Slurm array task runs (docs/distributed.md):
# the `infrasim` binary and the shipped scenarios, nothing else.
#
#   docker build -t infrasim .
#   docker run --rm infrasim run scenarios/01-single-lb.json
FROM rust:1.89-slim AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin infrasim

FROM debian:bookworm-slim
COPY --from=build /src/target/release/infrasim /usr/local/bin/infrasim
COPY scenarios /scenarios
WORKDIR /
ENTRYPOINT ["infrasim"]
