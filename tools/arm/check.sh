#!/usr/bin/env bash
# The burn-free edge binary for 64-bit ARM (aarch64-unknown-linux-gnu, the Raspberry Pi 4B of
# the paper's edge table): cross-compiled here, its inference parity test run under qemu
# (the committed models' logits within 1e-4 of burn's on x86, crates/asma-edge/tests/fixtures.rs),
# and `asma-edge infer` under qemu printing what the x86 binary prints.
#
# Toolchain (Debian bookworm; tools/arm/install.sh installs it with apt): Debian's rustc-web
# with its arm64 standard library, the GNU cross linker and qemu-user. rustup's targets are
# not reachable offline; the rustc that compiles for ARM is Debian's, so the ARM build has its
# own target folder (target/arm). The binary is linked statically (crt-static): one file to
# copy to a board, no glibc version to match; and qemu-user (7.2 and 10.0 alike) hangs in
# glibc's pthread_create when the dynamic loader runs under it on the machines here, while
# static binaries run.
#
# Usage: tools/arm/check.sh
# Outputs: target/arm/aarch64-unknown-linux-gnu/release/asma-edge
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in /usr/bin/rustc aarch64-linux-gnu-gcc qemu-aarch64-static; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run tools/arm/install.sh" >&2; exit 1; }
done
[[ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ]] || { echo "missing the arm64 standard library (libstd-rust-web-dev:arm64)" >&2; exit 1; }
export RUSTC=/usr/bin/rustc
export CARGO_TARGET_DIR=target/arm
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static
"$RUSTC" --version
start=$SECONDS
cargo test --release -p asma-edge --target aarch64-unknown-linux-gnu --test fixtures
cargo build --release -p asma-edge --target aarch64-unknown-linux-gnu
arm=target/arm/aarch64-unknown-linux-gnu/release/asma-edge
file "$arm" 2>/dev/null || true
# The same command on both platforms prints the same names and probabilities (3 decimals).
# (x86 with the usual toolchain and target folder: already built by `cargo test --workspace`)
env -u RUSTC -u CARGO_TARGET_DIR cargo build --release -p asma-edge
f=crates/asma-edge/tests/fixtures
args=(infer --model "$f/student" --model "$f/teacher" "$f/input.npy")
strip_ms() { sed 's/  ([0-9.]* ms)$//'; }
diff <(qemu-aarch64-static "$arm" "${args[@]}" | strip_ms) <(target/release/asma-edge "${args[@]}" | strip_ms)
echo "arm: parity tests and infer under qemu agree with x86 ($((SECONDS - start)) s)"
