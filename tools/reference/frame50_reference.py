"""Reference for asma's frame50 preparation (docs/METHOD.md §2.1-2.2), in NumPy + OpenCV.

Written from the description of AimCLR's `tools/ntu_gendata.py` (first two bodies per frame,
zero-padded to 300 frames) and `feeder/preprocess_ntu.py` / `NTUMotionProcessor`
(length rule, centring on J21, `cv2.resize` INTER_LINEAR in time, per-frame y rotation).
Run only to regenerate the fixtures of `crates/asma-data/tests/frame50.rs`:

    pip install numpy opencv-python-headless
    python3 tools/reference/frame50_reference.py crates/asma-data/tests/fixtures/frame50
"""
import os
import sys

import cv2
import numpy as np

MAX_FRAME = 300


def read_xyz(path):
    """(3, T, 25, 2) float32: slot m of frame t = the m-th body listed in frame t."""
    tokens = open(path).read().split('\n')
    lines = [l.split() for l in tokens if l.strip()]
    pos = 0
    n_frames = int(lines[pos][0]); pos += 1
    data = np.zeros((3, n_frames, 25, 2), dtype=np.float32)
    for t in range(n_frames):
        n_bodies = int(lines[pos][0]); pos += 1
        for m in range(n_bodies):
            pos += 1  # body info
            n_joints = int(lines[pos][0]); pos += 1
            for j in range(n_joints):
                vals = lines[pos]; pos += 1
                if m < 2:
                    data[:, t, j, m] = [float(v) for v in vals[:3]]
    return data


def frame50(data300, t_length=50):
    x = data300.copy()
    length = int((np.abs(x[:, :, 0, 0]).sum(axis=0) != 0).sum())
    C, T, V, M = x.shape
    x = x - x[:, :, 20, :].reshape(C, T, 1, M)
    out = np.zeros((C, t_length, V, M), dtype=np.float32)
    for m in range(M):
        img = np.ascontiguousarray(x[:, :length, :, m].transpose(1, 2, 0))  # (length, V, C)
        out[:, :, :, m] = cv2.resize(img, (V, t_length), interpolation=cv2.INTER_LINEAR).transpose(2, 0, 1)
    for m in range(M):
        body = out[:, :, :, m]
        vec = body[:, :, 8] - body[:, :, 4]
        vec[1, :] = 0
        norm = np.sqrt(np.sum(np.square(vec), axis=0))
        thetas = np.arccos(vec[0, :] / (norm + 0.0001)) * (180 / np.pi)
        if np.sum(vec[2, :]) >= 0:
            thetas = -thetas
        rad = thetas * np.pi / 180
        for t in range(t_length):
            R = np.zeros((3, 3))
            R[0, 0] = np.cos(rad[t]); R[0, 2] = -np.sin(rad[t])
            R[1, 1] = 1
            R[2, 0] = np.sin(rad[t]); R[2, 2] = np.cos(rad[t])
            body[:, t, :] = np.dot(R, body[:, t, :])
        out[:, :, :, m] = body
    return out.astype(np.float32)


def write_inputs(folder, rng):
    """Small NTU-format files covering the cases the length rule and resize care about."""
    names, specs = [], [
        # (frames, second body frames, zero-body frame, three-body frame)
        (12, None, None, None),
        (37, (0, 37), 20, None),
        (50, None, None, 10),
        (83, (30, 60), 41, None),
        (160, (0, 160), None, 100),
    ]
    for i, (frames, second, empty, three) in enumerate(specs):
        name = f"S001C00{1 + i % 3}P00{1 + i}R001A00{1 + i}"
        base = rng.normal(0, 0.3, size=(25, 3)) + np.array([0, 0, 3.0])
        lines = [str(frames)]
        for t in range(frames):
            bodies = []
            if t != empty:
                bodies.append(base + 0.1 * np.sin(0.1 * t + np.arange(25)[:, None]))
                if second and second[0] <= t < second[1]:
                    bodies.append(base + np.array([0.8, 0, 0.2]) + 0.05 * np.cos(0.2 * t + np.arange(25)[:, None]))
                if t == three:
                    bodies.append(base + np.array([-1.5, -0.5, 1.0]))
            lines.append(str(len(bodies)))
            for k, b in enumerate(bodies):
                lines.append(f"{72057594037930000 + k} 0 1 1 1 1 0 0.01 -0.02 2")
                lines.append("25")
                for j in range(25):
                    x, y, z = b[j]
                    lines.append(f"{x:.5f} {y:.5f} {z:.5f} 256 212 960 540 0 0 0 0 2")
        with open(os.path.join(folder, name + ".skeleton"), "w") as f:
            f.write("\r\n".join(lines) + "\r\n")
        names.append(name)
    return names


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    names = write_inputs(folder, np.random.default_rng(0))
    out = np.stack([frame50(np.pad(d, ((0, 0), (0, MAX_FRAME - d.shape[1]), (0, 0), (0, 0))))
                    for d in (read_xyz(os.path.join(folder, n + ".skeleton")) for n in names)])
    np.save(os.path.join(folder, "expected_position.npy"), out)
    with open(os.path.join(folder, "names.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(out.shape, "written to", folder)


if __name__ == "__main__":
    main()
