#!/usr/bin/env python3
"""Writes the tiny pickle fixtures of crates/asma-data/tests/fixtures/pickle/.

Run only to regenerate them (needs NumPy; the Rust tests read the committed bytes, CI has
no NumPy):

    python3 tools/reference/make_pickle_fixtures.py

It also checks that Python loads `rust_labels_p3.pkl`, the file asma's own writer produced
(refresh it first with
`cargo test -p asma-data --test pickle -- --ignored dump_rust_labels_fixture`).

The malicious fixtures are only written, never loaded.
"""

import os
import pickle
import pickletools
import struct
import sys
import warnings

import numpy as np

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "crates", "asma-data", "tests", "fixtures", "pickle",
)

NAMES = [
    "S001C001P001R001A001.skeleton",
    "S001C002P003R002A013.skeleton",
    "S017C003P020R002A060.skeleton",
    "S032C003P106R002A120.skeleton",
]
LABELS = [0, 12, 59, 119]

# Must match RUST_NAMES / RUST_LABELS in crates/asma-data/tests/pickle.rs.
RUST_NAMES = ["S001C001P001R001A001.skeleton", "S001C002P003R002A013", "h\u00e9llo \u2713", ""]
RUST_LABELS = [0, 255, 256, 65535, 65536, -1, -2**31, 2**31, 2**40, -2**63, 2**63 - 1]


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    print(f"{name:32s} {len(data):6d} bytes")


def keypoint(m, t, seed, v=25, c=3):
    """Values ((i + seed) % 97 - 48) / 8 over the C-order index i: exact in float16.
    The Rust tests recompute them with the same formula."""
    i = np.arange(m * t * v * c)
    return (((i + seed) % 97 - 48) * 0.125).reshape(m, t, v, c).astype(np.float16)


def pyskl_dict():
    annotations = [
        dict(frame_dir="S001C001P001R001A001", label=0, total_frames=3,
             keypoint=keypoint(1, 3, 0)),
        dict(frame_dir="S001C002P003R002A013", label=12, total_frames=2,
             keypoint=keypoint(2, 2, 5), img_shape=(1080, 1920), original_shape=(1080, 1920)),
        # Three bodies (the reader keeps two) and a NumPy integer label.
        dict(frame_dir="S017C003P020R002A060", label=np.int64(59), total_frames=2,
             keypoint=keypoint(3, 2, 11)),
    ]
    split = {
        "xsub_train": ["S001C001P001R001A001", "S001C002P003R002A013"],
        "xsub_val": ["S017C003P020R002A060"],
    }
    return dict(split=split, annotations=annotations)


def rename_numpy_core(data, old, new):
    """Rewrites the NumPy module names of a pickle opcode by opcode (fixing the length
    prefixes of the string opcodes), drops its frames and lets pickletools re-frame it."""
    ops = list(pickletools.genops(data))
    out = bytearray()
    for k, (op, arg, pos) in enumerate(ops):
        end = ops[k + 1][2] if k + 1 < len(ops) else len(data)
        raw = data[pos:end]
        if op.name == "FRAME":
            continue
        if op.name == "GLOBAL":
            raw = raw.replace(old.encode() + b".", new.encode() + b".")
        elif isinstance(arg, str) and arg.startswith(old + "."):
            text = (new + arg[len(old):]).encode()
            if op.name == "SHORT_BINUNICODE":
                raw = b"\x8c" + bytes([len(text)]) + text
            elif op.name == "BINUNICODE":
                raw = b"X" + struct.pack("<I", len(text)) + text
            else:
                raise ValueError(f"unexpected {op.name}")
        out += raw
    return pickletools.optimize(bytes(out))


def same(a, b):
    """Deep equality that understands NumPy arrays and scalars."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return type(a) is type(b) and a == b


def main():
    os.makedirs(OUT, exist_ok=True)

    # --- label pickles (docs/DATA.md §3a) ---------------------------------------------------
    for p in (2, 3, 4, 5):
        write(f"labels_p{p}.pkl", pickle.dumps((NAMES, LABELS), protocol=p))
    for p in (2, 4):
        write(f"labels_np_int64_p{p}.pkl",
              pickle.dumps((NAMES, [np.int64(x) for x in LABELS]), protocol=p))
    write("labels_nparray_p4.pkl",
          pickle.dumps((NAMES, np.array(LABELS, dtype=np.int64)), protocol=4))
    paths = ["/data/nturgbd_raw/nturgb+d_skeletons/" + n for n in NAMES]
    write("labels_msg3d_p4.pkl", pickle.dumps((paths, LABELS), protocol=4))
    write("labels_list_p3.pkl", pickle.dumps([NAMES, LABELS], protocol=3))
    write("labels_bad_lengths_p4.pkl", pickle.dumps((NAMES, LABELS[:3]), protocol=4))
    write("labels_bad_negative_p4.pkl", pickle.dumps((NAMES, [0, -1, 2, 3]), protocol=4))
    write("labels_bad_float_p4.pkl", pickle.dumps((NAMES, [0, 1.5, 2, 3]), protocol=4))
    write("labels_bad_triple_p4.pkl", pickle.dumps((NAMES, LABELS, LABELS), protocol=4))

    # --- every builtin, protocols 0-5 ------------------------------------------------------
    shared = [1, 2]
    misc = {
        "none": None, "true": True, "false": False,
        "ints": [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31 - 1, 2**31,
                 2**63 - 1, -2**63],
        "floats": [0.0, -1.5, 1e300, float("inf")],
        "str": "h\u00e9llo \u2713 \\ \n", "long_str": "x" * 300,
        "bytes": b"\x00\xffab", "empty_bytes": b"", "long_bytes": bytes(range(256)) * 2,
        "bytearray": bytearray(b"ab"),
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "set": {1, 2, 3}, "frozenset": frozenset({4}),
        "shared": [shared, shared], "int_keys": {1: "a", 2: "b"},
        "range": list(range(1100)),
    }
    for p in range(6):
        write(f"misc_p{p}.pkl", pickle.dumps(misc, protocol=p))

    # --- pyskl / mmaction2 annotation files (docs/DATA.md §3c) --------------------------------
    anno = pyskl_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy.core is deprecated under NumPy 2
        for p in (2, 4, 5):
            data = pickle.dumps(anno, protocol=p)
            numpy2 = rename_numpy_core(data, "numpy.core", "numpy._core")
            numpy1 = rename_numpy_core(data, "numpy._core", "numpy.core")
            assert b"numpy.core." not in numpy2 and b"numpy._core." not in numpy1
            for variant in (numpy2, numpy1):
                assert same(pickle.loads(variant), anno), "rewritten pickle differs"
            write(f"pyskl_p{p}.pkl", numpy2)
            write(f"pyskl_numpy1_p{p}.pkl", numpy1)
    coco = dict(split={"xsub_train": ["S001C001P001R001A001"]}, annotations=[dict(
        frame_dir="S001C001P001R001A001", label=0, total_frames=2,
        keypoint=keypoint(1, 2, 0, v=17, c=2),
        keypoint_score=np.ones((1, 2, 17), dtype=np.float16), img_shape=(1080, 1920))])
    write("pyskl_coco2d_p4.pkl", pickle.dumps(coco, protocol=4))

    # --- hostile input: written, never loaded ------------------------------------------------
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo hi",))

    genuine = pickle.dumps(Evil(), protocol=4)  # names posix.system on Linux
    write("malicious_system_p4.pkl", genuine)
    text = pickle.dumps(Evil(), protocol=2)
    os_system = text.replace(b"c" + os.system.__module__.encode() + b"\nsystem\n",
                             b"cos\nsystem\n")
    assert b"cos\nsystem\n" in os_system
    write("malicious_os_system_p2.pkl", os_system)

    # --- asma's own writer, checked against Python -------------------------------------------
    rust = os.path.join(OUT, "rust_labels_p3.pkl")
    if os.path.exists(rust):
        with open(rust, "rb") as f:
            loaded = pickle.load(f)
        assert loaded == (RUST_NAMES, RUST_LABELS), loaded
        assert type(loaded) is tuple and all(type(x) is list for x in loaded)
        print("rust_labels_p3.pkl: Python loads exactly (RUST_NAMES, RUST_LABELS)")
    else:
        print("rust_labels_p3.pkl missing: run the ignored Rust test, then this script",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
