# peerchain: a multi-stage image. The build stage compiles peerchaind and
# peerchain-cli with CMake; the runtime stage carries only the binaries and
# the shared libraries they load, runs as a non-root user, and keeps the
# chain in the /data volume.
#
# The test suite is not run here: CI runs it on the host, three times (plain,
# ASan+UBSan, TSan) plus valgrind, which an image build could not do as well;
# docker/cluster-test.sh then tests this image as a cluster.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config \
      libjansson-dev libsodium-dev liblmdb-dev libmicrohttpd-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY include include
COPY src src
COPY test test
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPC_WERROR=ON \
 && cmake --build build -j"$(nproc)" --target peerchaind peerchain-cli \
 && strip build/peerchaind build/peerchain-cli

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libjansson4 libsodium23 liblmdb0 libmicrohttpd12 libcurl4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home peerchain \
 && mkdir -p /data && chown peerchain:peerchain /data
COPY --from=build /src/build/peerchaind /src/build/peerchain-cli /usr/local/bin/
COPY docker/entrypoint.sh /usr/local/bin/peerchain-entrypoint
USER peerchain
VOLUME /data
EXPOSE 8555 8545
# The CLI asks the node's /health route: no curl needed in the image.
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=3 \
  CMD ["peerchain-cli", "--api", "127.0.0.1:8545", "health"]
ENTRYPOINT ["peerchain-entrypoint"]
