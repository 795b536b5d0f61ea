# Image for the data-path benchmark (bench/datapath.sh): the csvol base image plus fio.
# Built by bench/datapath.sh (tag csvol-bench-fio:<hash of this file and the base image>):
#   DOCKER_BUILDKIT=0 docker build --network host --build-arg BASE_IMAGE=csvol-base:bookworm -t IMAGE - <bench/fio.Dockerfile
ARG BASE_IMAGE=csvol-base:bookworm
FROM ${BASE_IMAGE}
RUN set -eu; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends fio; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb; \
    fio --version
