"""NumPy reference reader for NTU RGB+D `.skeleton` files, the baseline of `asma bench data`.

It reads a file the way the ST-GCN-lineage tools (ST-GCN, AimCLR, CrosSCLR) do: line by line,
one dict per body and per joint with all 12 joint fields, then copies xyz of the first two
bodies of every frame into a zero-initialised (3, T, 25, 2) float32 array. The prepare
baseline adds the 300-frame padding and the frame50 reduction of `frame50_reference.py`.

    python3 tools/reference/ntu_reader_reference.py --bench FILE_LIST   # prints JSON
"""
import json
import os
import sys
import time

import numpy as np

JOINT_KEYS = ['x', 'y', 'z', 'depthX', 'depthY', 'colorX', 'colorY',
              'orientationW', 'orientationX', 'orientationY', 'orientationZ', 'trackingState']
BODY_KEYS = ['bodyID', 'clipedEdges', 'handLeftConfidence', 'handLeftState', 'handRightConfidence',
             'handRightState', 'isResticted', 'leanX', 'leanY', 'trackingState']


def read_skeleton(path):
    with open(path, 'r') as f:
        info = {'numFrame': int(f.readline()), 'frameInfo': []}
        for _ in range(info['numFrame']):
            frame = {'numBody': int(f.readline()), 'bodyInfo': []}
            for _ in range(frame['numBody']):
                body = dict(zip(BODY_KEYS, f.readline().split()))
                body['numJoint'] = int(f.readline())
                body['jointInfo'] = []
                for _ in range(body['numJoint']):
                    body['jointInfo'].append({k: float(v) for k, v in zip(JOINT_KEYS, f.readline().split())})
                frame['bodyInfo'].append(body)
            info['frameInfo'].append(frame)
    return info


def read_xyz(path, max_body=2, num_joint=25):
    info = read_skeleton(path)
    data = np.zeros((3, info['numFrame'], num_joint, max_body), dtype=np.float32)
    for n, frame in enumerate(info['frameInfo']):
        for m, body in enumerate(frame['bodyInfo']):
            for j, v in enumerate(body['jointInfo']):
                if m < max_body and j < num_joint:
                    data[:, n, j, m] = [v['x'], v['y'], v['z']]
    return data


def bench(list_file):
    files = [l.strip() for l in open(list_file) if l.strip()]
    total_bytes = sum(os.path.getsize(p) for p in files)
    t0 = time.perf_counter()
    arrays = [read_xyz(p) for p in files]
    parse_s = time.perf_counter() - t0
    result = {'files': len(files), 'bytes': total_bytes, 'parse_seconds': parse_s}
    try:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from frame50_reference import frame50
        t0 = time.perf_counter()
        for p in files:
            d = read_xyz(p)
            d = np.pad(d, ((0, 0), (0, 300 - d.shape[1]), (0, 0), (0, 0)))
            frame50(d)
        result['prepare_seconds'] = time.perf_counter() - t0
    except ImportError as e:  # OpenCV missing: parse figure only
        result['prepare_error'] = str(e)
    del arrays
    print(json.dumps(result))


if __name__ == '__main__':
    if len(sys.argv) != 3 or sys.argv[1] != '--bench':
        sys.exit(__doc__)
    bench(sys.argv[2])
