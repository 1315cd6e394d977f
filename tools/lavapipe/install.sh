#!/usr/bin/env bash
# Mesa's software Vulkan driver (lavapipe) on Debian bookworm (as root), for
# tools/lavapipe/check.sh: Mesa 25.0.7 from bookworm-backports, the version the WGSL build is
# checked on (bookworm's own is 22.3). Both crash on the SPIR-V of the `vulkan` feature.
set -euo pipefail
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  cat >/etc/apt/sources.list.d/asma-bookworm-backports.sources <<'SOURCES'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
fi
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q -t bookworm-backports \
  mesa-vulkan-drivers libvulkan1
