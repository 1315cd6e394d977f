"""The operations of `asma bench ops` in PyTorch, same sizes and order (forward, then backward
of the output's sum, each followed by a device sync). Prints one JSON object. PyTorch has one
form of each operation: the rows for asma's `matmul`, `host`, `sums` and `shifted` forms repeat
its module (asma matches rows by name).

    python3 tools/reference/bench_ops.py --batch 128 --reps 3 --device cpu --threads 2
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asma_reference import Graph  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', type=int, default=128)
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--threads', type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    sync = (lambda: torch.cuda.synchronize()) if args.device.startswith('cuda') else (lambda: None)
    torch.manual_seed(0)
    n, c, t, v = 2 * args.batch, 16, 50, 25
    x = torch.randn(n, c, t, v, device=dev)
    x_wide = torch.randn(n, 3 * c, t, v, device=dev)
    x_bn1d = torch.randn(n, 75, t, 1, device=dev)
    bn = nn.BatchNorm2d(c).to(dev)
    data_bn = nn.BatchNorm1d(75).to(dev)
    gcn = nn.Conv2d(c, 3 * c, 1).to(dev)
    tcn = nn.Conv2d(c, c, (9, 1), padding=(4, 0)).to(dev)
    tcn2 = nn.Conv2d(c, 2 * c, (9, 1), stride=(2, 1), padding=(4, 0)).to(dev)
    drop = nn.Dropout(0.5)
    A = torch.tensor(Graph().A, device=dev)
    keep = torch.tensor([j for j in range(25) if j % 3 != 1], device=dev)

    def graph_product(z):
        nn_, kc, tt, vv = z.shape
        return torch.einsum('nkctv,kvw->nctw', z.view(nn_, 3, kc // 3, tt, vv), A).contiguous()

    ops = [
        ('data_bn (BatchNorm1d, 75 ch)', x_bn1d, lambda x: data_bn(x.squeeze(3)).unsqueeze(3)),
        ('data_bn (BatchNorm1d, 75 ch), host', x_bn1d, lambda x: data_bn(x.squeeze(3)).unsqueeze(3)),
        ('data_bn (BatchNorm1d, 75 ch), sums', x_bn1d, lambda x: data_bn(x.squeeze(3)).unsqueeze(3)),
        ('batchnorm2d (16 ch)', x, bn),
        ('batchnorm2d (16 ch), host', x, bn),
        ('batchnorm2d (16 ch), sums', x, bn),
        ('gcn 1x1 conv 16→48, direct', x, gcn),
        ('gcn 1x1 conv 16→48, matmul', x, gcn),
        ('gcn 1x1 conv 16→48, host', x, gcn),
        ('graph product (48 ch)', x_wide, graph_product),
        ('graph product (48 ch), host', x_wide, graph_product),
        ('tcn 9x1 conv 16→16, direct', x, tcn),
        ('tcn 9x1 conv 16→16, matmul', x, tcn),
        ('tcn 9x1 conv 16→16, host', x, tcn),
        ('tcn 9x1 conv 16→16, shifted', x, tcn),
        ('tcn 9x1 conv 16→32 stride 2, direct', x, tcn2),
        ('tcn 9x1 conv 16→32 stride 2, matmul', x, tcn2),
        ('tcn 9x1 conv 16→32 stride 2, host', x, tcn2),
        ('tcn 9x1 conv 16→32 stride 2, shifted', x, tcn2),
        ('relu', x, F.relu),
        ('dropout 0.5', x, drop),
        ('select 17 of 25 joints', x, lambda x: x[:, :, :, keep]),
        ('permute (N,C,T,V)→(N,T,V,C) + copy', x, lambda x: x.permute(0, 2, 3, 1).contiguous()),
        ('mean over (T,V)', x, lambda x: x.mean(dim=(2, 3))),
    ]
    rows = []
    for name, inp, f in ops:
        fwd = bwd = 0.0
        for r in range(args.reps + 1):
            xi = inp.clone().requires_grad_(True)
            sync()
            t0 = time.perf_counter()
            y = f(xi)
            sync()
            t1 = time.perf_counter()
            y.sum().backward()
            sync()
            if r > 0:
                fwd += t1 - t0
                bwd += time.perf_counter() - t1
        rows.append({'op': name, 'forward_ms': 1e3 * fwd / args.reps,
                     'backward_ms': 1e3 * bwd / args.reps})
    print(json.dumps({'framework': 'pytorch', 'torch': torch.__version__, 'device': args.device,
                      'threads': torch.get_num_threads(), 'ops': rows}))


if __name__ == '__main__':
    main()
