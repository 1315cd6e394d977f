"""One row of `asma bench edge` in PyTorch eager or ONNX Runtime: batch-1 latency and peak
memory of a model set (one per stream, run one after the other as 3-stream fusion does).
Run by `asma bench edge` in a fresh process per measurement, so the peak memory is this
model's; prints one JSON object.

    python3 tools/reference/bench_edge.py --runtime torch --models RUN_J RUN_M RUN_B --threads 1
    python3 tools/reference/bench_edge.py --runtime ort --onnx J.onnx M.onnx B.onnx --threads 1

Memory: growth of the resident set from before loading to the high-water mark after the
timed runs (`VmHWM − VmRSS` from /proc/self/status), the same definition asma uses.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def proc_kb(key):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    return 0


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        out[k] = np.frombuffer(data[8 + n + a:8 + n + b], dtype='<f4').reshape(v['shape'])
    return out


def torch_model(run_dir):
    import torch
    from asma_reference import AsmaClassifier, StudentClassifier
    cfg = json.load(open(os.path.join(run_dir, 'config.json')))
    classes = cfg['data']['num_classes']
    student = os.path.join(run_dir, 'student.safetensors')
    if os.path.exists(student):
        model = StudentClassifier(classes, depth=cfg.get('student', {}).get('depth', 5))
        weights = read_safetensors(student)
    else:
        enc = cfg['model'].get('encoder', {})
        model = AsmaClassifier(classes, fusion=cfg['model'].get('fusion', 'cross_attention'),
                               hidden_channels=enc.get('hidden_channels', 16),
                               hidden_dim=enc.get('hidden_dim', 256))
        weights = read_safetensors(os.path.join(run_dir, 'classifier.safetensors'))
    state = {k: torch.from_numpy(v.copy()) for k, v in weights.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('.A') and k != 'A']
    if missing or unexpected:
        raise SystemExit(f'{run_dir}: missing {missing[:5]}, unexpected {unexpected[:5]}')
    return model.eval(), cfg['data']['stream']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--runtime', choices=['torch', 'ort'], required=True)
    ap.add_argument('--models', nargs='*', default=[])
    ap.add_argument('--onnx', nargs='*', default=[])
    ap.add_argument('--input', required=True, help='(S, 1, 3, T, 25, M) float32 .npy, one per model')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--reps', type=int, default=30)
    args = ap.parse_args()
    inputs = np.load(args.input)
    before = proc_kb('VmRSS')
    if args.runtime == 'torch':
        import torch
        torch.set_num_threads(args.threads)
        models = [torch_model(d)[0] for d in args.models]
        xs = [torch.from_numpy(inputs[i].copy()) for i in range(len(models))]

        def run():
            with torch.inference_mode():
                return [m(x) for m, x in zip(models, xs)]
        version = torch.__version__
    else:
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        opts.inter_op_num_threads = 1
        sessions = [ort.InferenceSession(p, opts, providers=['CPUExecutionProvider'])
                    for p in args.onnx]
        xs = [inputs[i] for i in range(len(sessions))]

        def run():
            return [s.run(None, {'skeleton': x})[0] for s, x in zip(sessions, xs)]
        version = ort.__version__
    for _ in range(3):
        run()
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    peak = proc_kb('VmHWM')
    print(json.dumps({
        'runtime': args.runtime,
        'version': version,
        'threads': args.threads,
        'latency_ms': statistics.median(times),
        'peak_mb': max(0, peak - before) / 1024,
    }))


if __name__ == '__main__':
    main()
