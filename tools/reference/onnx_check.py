"""Run an ONNX model exported by asma under onnxruntime and compare it with expected logits.

    pip install onnxruntime numpy
    python3 tools/reference/onnx_check.py MODEL.onnx INPUT.npy EXPECTED.npy [--atol 1e-4]

INPUT.npy is the `skeleton` input, (N, C, T, 25, M) float32; EXPECTED.npy the logits asma's
CPU path gave, (N, num_classes). Prints the max |difference| and exits 1 if it exceeds
--atol (2 on an unusable file). If the `onnx` package is importable the model is also run
through `onnx.checker.check_model` (full check); onnxruntime alone is enough otherwise.
"""
import argparse
import os
import sys

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("input")
    parser.add_argument("expected")
    parser.add_argument("--atol", type=float, default=1e-4)
    args = parser.parse_args()

    for path in (args.model, args.input, args.expected):
        if not os.path.isfile(path):
            print(f"onnx_check: {path}: no such file", file=sys.stderr)
            sys.exit(2)

    try:
        import onnxruntime as ort
    except ImportError:
        sys.exit("onnx_check: onnxruntime is not installed (pip install onnxruntime)")

    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            onnx.checker.check_model(onnx.load(args.model), full_check=True)
        except Exception as e:  # the checker raises several types
            print(f"onnx_check: {args.model}: onnx.checker rejects it: {e}", file=sys.stderr)
            sys.exit(2)
        print(f"onnx.checker {onnx.__version__}: ok")

    x = np.load(args.input)
    expected = np.load(args.expected)
    try:
        session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    except Exception as e:
        print(f"onnx_check: {args.model}: onnxruntime cannot load it: {e}", file=sys.stderr)
        sys.exit(2)
    inputs = session.get_inputs()
    if len(inputs) != 1:
        print(f"onnx_check: {args.model}: {len(inputs)} inputs, expected 1", file=sys.stderr)
        sys.exit(2)
    (got,) = session.run(None, {inputs[0].name: x.astype(np.float32)})
    if got.shape != expected.shape:
        print(f"onnx_check: output shape {got.shape}, expected {expected.shape}", file=sys.stderr)
        sys.exit(1)
    delta = float(np.max(np.abs(got.astype(np.float64) - expected.astype(np.float64))))
    print(f"onnxruntime {ort.__version__}: max |delta| = {delta:.3e} (atol {args.atol:g})")
    if not delta <= args.atol:  # also catches NaN
        print(f"onnx_check: {args.model}: max |delta| {delta:.3e} exceeds atol {args.atol:g}",
              file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
