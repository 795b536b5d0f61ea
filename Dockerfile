# Root filesystem of the csvol managed plugin. Built by scripts/build-plugin.sh with the published binary
# as the whole build context: docker build -f Dockerfile artifacts/publish/BACKEND
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}

# Filesystem and NFS tools the backends run (mkfs, blkid, fsck, mount.nfs). csvol-base:bookworm already
# has them, so this step needs no network there; a plain debian:bookworm-slim base fetches them.
RUN set -eu; \
    missing=""; \
    for p in e2fsprogs xfsprogs nfs-common util-linux ca-certificates; do \
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"; \
    done; \
    if [ -n "$missing" ]; then \
      apt-get update; \
      DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    mkdir -p /run/docker/plugins /mnt/volumes /var/lib/csvol

COPY csvol /usr/local/bin/csvol
ENTRYPOINT ["/usr/local/bin/csvol"]
