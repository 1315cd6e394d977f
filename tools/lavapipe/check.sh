#!/usr/bin/env bash
# The GPU code path checked on the CPU: burn's wgpu backend (WGSL kernels, the `wgpu` feature)
# on Mesa's software Vulkan driver, lavapipe, with the model's tests that run on every device
# the build has. By default (CI's stage, ~7 min on 2 cores with the build): the GPU forms
# against burn's own operations (the shifted 9×1 convolution at every shape the encoder uses and
# odd ones, and the two-stage BatchNorm sums; values, gradients, running statistics) and the
# Barlow Twins loss and projector against PyTorch. `--all` adds every PyTorch parity test of
# the encoder and the classifiers and one training step of the PSTL encoder in every form
# against burn's operations (~14 min more: lavapipe compiles every new kernel with LLVM, one at
# a time). ASMA_TEST_DEVICES=wgpu runs them on that device alone (the CPU device ran in the
# workspace tests) and ASMA_REQUIRE_GPU=1 fails instead of skipping when no adapter comes up.
#
# Driver: tools/lavapipe/install.sh (Debian bookworm, root). Built in the `lavapipe` profile
# (unoptimised, 4.6 min from scratch on 2 cores: the kernels run in lavapipe, and an optimised
# build of burn's GPU backend takes ~20 minutes). GALLIVM_PERF=nopt skips LLVM's optimisation
# passes on the kernels, which compile a quarter faster and run slower, on test-sized tensors.
#
# Usage: tools/lavapipe/check.sh [--all]
set -euo pipefail
cd "$(dirname "$0")/../.."
icd=/usr/share/vulkan/icd.d/lvp_icd.json
[[ -f $icd ]] || { echo "missing lavapipe ($icd): run tools/lavapipe/install.sh" >&2; exit 1; }
# lavapipe alone, whatever other drivers the machine has (both names: older and newer loaders).
export VK_ICD_FILENAMES=$icd VK_DRIVER_FILES=$icd
export ASMA_TEST_DEVICES=wgpu ASMA_REQUIRE_GPU=1 GALLIVM_PERF=nopt
start=$SECONDS
cargo test --profile lavapipe --features wgpu -p asma-model --lib -- shifted_form batch_norm_sums
if [[ ${1:-} == --all ]]; then
  cargo test --profile lavapipe --features wgpu -p asma-model --test parity
else
  cargo test --profile lavapipe --features wgpu -p asma-model --test parity -- barlow
fi
echo "lavapipe stage: $((SECONDS - start)) s"
