#!/usr/bin/env bash
# The 64-bit ARM toolchain of tools/arm/check.sh on Debian bookworm (as root): Debian's
# rustc-web (1.96, from bookworm-security) with its arm64 standard library, the GNU cross
# linker and C library, and qemu-user.
set -euo pipefail
dpkg --add-architecture arm64
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
  rustc-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
