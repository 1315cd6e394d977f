#!/usr/bin/env python3
"""Regenerates the small NumPy-written fixtures read by asma-data's npy/npz tests.

Run only when the fixtures must change (CI has no NumPy; the tests read the committed
files):  python3 tools/reference/make_npy_fixtures.py
Every value is deterministic so the Rust tests can recompute it.
"""
import os
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "..", "..", "crates", "asma-data", "tests", "fixtures", "npy")


def ctrgcn_arrays():
    """x: value of (n, t, f) = n*1000 + t*150 + f (f32); y: one-hot, class (7*n + 3) % 60."""
    def x(n, t):
        return (np.arange(n * t * 150, dtype=np.float32).reshape(n, t, 150)
                + np.arange(n, dtype=np.float32)[:, None, None] * 1000
                - (np.arange(n, dtype=np.float32)[:, None, None] * t * 150))

    def y(n, offset):
        out = np.zeros((n, 60), dtype=np.float64)
        for i in range(n):
            out[i, (7 * (i + offset) + 3) % 60] = 1.0
        return out

    return {"x_train": x(3, 6), "y_train": y(3, 0), "x_test": x(2, 6), "y_test": y(2, 3)}


def main():
    os.makedirs(OUT, exist_ok=True)
    # (2, 3, 4, 25, 2) float32 arange: value at flat index k is k.
    a = np.arange(2 * 3 * 4 * 25 * 2, dtype=np.float32).reshape(2, 3, 4, 25, 2)
    np.save(os.path.join(OUT, "skeleton_f32.npy"), a)
    # Same values as float64 (open_skeleton must refuse it).
    np.save(os.path.join(OUT, "skeleton_f64.npy"), a.astype(np.float64))
    # Header version 2.0, small int16 matrix: value at (i, j) = 10*i - j.
    b = (10 * np.arange(3)[:, None] - np.arange(4)[None, :]).astype(np.int16)
    with open(os.path.join(OUT, "v2_i16.npy"), "wb") as f:
        np.lib.format.write_array(f, b, version=(2, 0))
    # AimCLR-style label file: int64 (N, 1).
    np.save(os.path.join(OUT, "label_i64.npy"), np.array([[3], [0], [59], [12]], dtype=np.int64))
    # Fortran-order float32 (3, 4): value at (i, j) = i*4 + j.
    np.save(os.path.join(OUT, "fortran_f32.npy"),
            np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)))
    # Big-endian float64 vector and a 0-d scalar.
    np.save(os.path.join(OUT, "big_endian_f8.npy"), np.array([1.5, -2.0, 3.25], dtype=">f8"))
    np.save(os.path.join(OUT, "scalar_f64.npy"), np.array(2.5, dtype=np.float64))
    # CTR-GCN-style archives (uncompressed and deflated).
    arrs = ctrgcn_arrays()
    np.savez(os.path.join(OUT, "ctrgcn_stored.npz"), **arrs)
    np.savez_compressed(os.path.join(OUT, "ctrgcn_deflated.npz"), **arrs)


if __name__ == "__main__":
    main()
