"""Time one ASMa encoder pre-training step (docs/METHOD.md §4.3, §6.1–6.3) in PyTorch on CPU.

    pip install torch numpy
    python3 tools/reference/bench_pretrain.py --batch 32 --threads 2 --proj-dim 6144
    python3 tools/reference/bench_pretrain.py --forward-only --threads 2

One step, for ONE encoder (ASMa has two per stream, with disjoint parameters, §6.2):
three views of a (B, 3, 50, 25, 2) batch in train mode (BN batch statistics, dropout 0.5):
anchor (50 frames), temporal (30 of the 50 frames, sorted), spatial (8 joints removed);
loss = BT(anchor, temporal) + BT(anchor, spatial) through one shared projector; backward;
Adam (lr 5e-3, weight decay 1e-5, classic L2). Augmentation and mask sampling are not timed
(random tensors stand in for the augmented views). The anchor is projected once and reused
in both BT terms; PSTL's `BTwins.forward` projects it once per term (a 4th projector pass).

Prints one JSON object.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asma_reference import BarlowTwinsHead, StgcnEncoder, barlow_twins_loss, keep_from_removed  # noqa: E402


def sync(args):
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()


def time_train(args):
    dev = torch.device(args.device)
    enc = StgcnEncoder(hidden_channels=args.hidden).to(dev)
    head = BarlowTwinsHead(256, (args.proj_dim,) * 3).to(dev)
    enc.train()
    head.train()
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()),
                           lr=5e-3, weight_decay=1e-5)
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(args.batch, 3, 50, 25, args.bodies, generator=g) * 0.3).to(dev)
    frames = torch.sort(torch.randperm(50, generator=g)[:30]).values.to(dev)
    removed = torch.randperm(25, generator=g)[:8].tolist()
    keep = keep_from_removed(removed)

    def step():
        za = head.projector(enc(x))
        zt = head.projector(enc(x[:, :, frames]))
        zs = head.projector(enc(x, keep))
        loss = barlow_twins_loss(za, zt) + barlow_twins_loss(za, zs)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach().item()

    for _ in range(args.warmup):
        step()
    sync(args)
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        sync(args)
        times.append(time.perf_counter() - t0)
    sec = sum(times) / len(times)
    return {'mode': 'pretrain_step', 'batch': args.batch, 'proj_dim': args.proj_dim,
            'hidden': args.hidden, 'steps': args.steps, 'step_seconds': times,
            'seconds_per_step': sec, 'samples_per_s': args.batch / sec}


def time_forward(args):
    enc = StgcnEncoder(hidden_channels=args.hidden).eval()
    res = {'mode': 'forward_only', 'hidden': args.hidden, 'steps': args.steps, 'forward': []}
    for b in (1, 64):
        x = torch.randn(b, 3, 50, 25, 2) * 0.3
        with torch.no_grad():
            for _ in range(args.warmup):
                enc(x)
            t0 = time.perf_counter()
            for _ in range(args.steps):
                enc(x)
            sec = (time.perf_counter() - t0) / args.steps
        res['forward'].append({'batch': b, 'seconds_per_forward': sec,
                               'samples_per_s': b / sec})
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--threads', type=int, default=None, help='torch.set_num_threads')
    ap.add_argument('--proj-dim', type=int, default=6144)
    ap.add_argument('--hidden', type=int, default=16)
    ap.add_argument('--bodies', type=int, default=2, help='persons M per clip (asma data.bodies)')
    ap.add_argument('--steps', type=int, default=3, help='timed steps (after warm-up)')
    ap.add_argument('--warmup', type=int, default=1)
    ap.add_argument('--device', default='cpu', help='cpu or cuda (the GPU comparison)')
    ap.add_argument('--forward-only', action='store_true',
                    help='time the eval-mode encoder forward at batch 1 and 64 instead')
    ap.add_argument('--json', action='store_true', help='print compact one-line JSON')
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    res = time_forward(args) if args.forward_only else time_train(args)
    res = {'framework': 'pytorch', 'torch': torch.__version__,
           'threads': torch.get_num_threads(), 'device': args.device, **res}
    print(json.dumps(res) if args.json else json.dumps(res, indent=2))


if __name__ == '__main__':
    main()
