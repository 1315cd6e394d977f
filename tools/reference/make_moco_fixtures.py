"""Make the SkeletonCLR, AimCLR and CrosSCLR parity fixtures of asma-train from the PyTorch
references (`moco_reference.py`, `crossclr_reference.py`).

    pip install torch safetensors numpy
    python3 tools/reference/make_moco_fixtures.py [crates/asma-train/tests/fixtures]

Writes `skeletonclr/`, `aimclr/`, `crossclr/` and `ms2l/` there. A small SkeletonCLR (hidden_channels 4, hidden_dim 16, feature_dim 8, queue 8, momentum 0.9 so
that the key encoder visibly moves) runs three SGD steps (lr 0.1, momentum 0.9, weight decay
1e-4) on batches of 4 clips; step 1 adds two plug-in query views (fewer frames, fewer joints).
The queue wraps at step 2. BatchNorm in training mode, dropout off (random draws cannot be
compared across frameworks). AimCLR's fixtures add an extreme view per step (`step{i}_e.npy`,
with a larger spread so that the energy-based drop removes entries and joints), its D³M term,
and nearest-neighbour mining (top-1) at step 2. CrosSCLR's (three streams, the reference's
shared head) run steps 0 and 1 in the first phase and step 2 in the cross phase (top-1,
context); their losses are per stream, then the plug-in views' per stream. MS²L's
(`ms2l_reference.py`): see `make_ms2l`.

Each folder holds `init.safetensors` (the state_dict before step 0), `final.safetensors`
(after step 2), the inputs `step{i}_q.npy`, `step{i}_k.npy`, `step1_extra{j}.npy` (CrosSCLR's
also `step1_extra{j}_motion.npy`, the view's motion taken before its frame mask), and
`expected.json` (losses per query view, the D³M term and the accuracy per step, the plug-in
views' kept joints), and `spread.json`: how far the reference itself moves when its weights
move by about float32's rounding (see `spread`), which the tests add to their tolerances.
"""
import json
import os
import re
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import make_input, perturb_bn_affine  # noqa: E402
from crossclr_reference import STREAMS, CrosSCLR, motion  # noqa: E402
from moco_reference import AimCLR, SkeletonCLR, sgd  # noqa: E402
from ms2l_reference import MS2L, burn_gru_state, clip_grad_norms  # noqa: E402

T = 20
EXTRA = [
    # (frames kept, joints kept)
    (list(range(0, T, 2)), [j for j in range(25) if j not in (3, 7, 11, 15, 19, 21, 23)]),
    (list(range(T - 12)), [j for j in range(25) if j not in (0, 1, 2, 20)]),
]


def state(model):
    """The state_dict without the queue pointer, the adjacency buffers and the repeats of the
    joint head under CrosSCLR's later streams (`encoder_q_motion.fc.2.*`)."""
    return {k: v.detach().contiguous().clone().float() for k, v in model.state_dict().items()
            if k != 'queue_ptr' and not k.endswith('.A')
            and not re.match(r'encoder_[qk]_(motion|bone)\.fc\.2\.', k)}


class Writer:
    """Writes a fixture's files into `folder`; a replay (`folder` None) writes nothing."""

    def __init__(self, folder):
        self.folder = folder
        if folder:
            os.makedirs(folder, exist_ok=True)

    def npy(self, name, a):
        if self.folder:
            np.save(os.path.join(self.folder, name), a)

    def tensors(self, name, t):
        if self.folder:
            save_file(t, os.path.join(self.folder, name))

    def json(self, name, value):
        if self.folder:
            with open(os.path.join(self.folder, name), 'w') as f:
                json.dump(value, f, indent=1)


def start_replay(model, replay):
    """A replay `(seed, scale)`: the model in float64, every parameter times
    (1 + scale·N(0, 1)), and float64 as the default dtype (restored by `end_replay`). Returns
    the dtype the inputs take."""
    if replay is None:
        return torch.float32
    seed, scale = replay
    model.double()
    torch.set_default_dtype(torch.float64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return torch.float64


def end_replay():
    torch.set_default_dtype(torch.float32)


def make(folder, method, replay=None):
    """Writes `method`'s fixture into `folder`, or (`replay`, see `start_replay`) runs the same
    three steps in float64 from perturbed weights and returns `(steps, final state)`."""
    out = Writer(folder)
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    cls = {'aimclr': AimCLR, 'skeletonclr': SkeletonCLR, 'crossclr': CrosSCLR}[method]
    model = cls(feature_dim=8, queue_size=8, momentum=0.9, temperature=0.07,
                hidden_channels=4, hidden_dim=16, dropout=0.0)
    streams = STREAMS if method == 'crossclr' else ('',)
    for s in streams:
        perturb_bn_affine(getattr(model, 'encoder_q' + s))
        with torch.no_grad():
            for q, k in zip(getattr(model, 'encoder_q' + s).parameters(),
                            getattr(model, 'encoder_k' + s).parameters()):
                k.copy_(q)
    model.train()
    out.tensors('init.safetensors', state(model))
    dtype = start_replay(model, replay)
    t = lambda a: torch.from_numpy(a).to(dtype)  # noqa: E731
    opt = sgd(model, lr=0.1, momentum=0.9, weight_decay=1e-4)
    expected = {'steps': [], 'extra_keep_joints': [j for _, j in EXTRA]}
    for step in range(3):
        im_q = make_input(rng, T)
        im_k = make_input(rng, T)
        out.npy(f'step{step}_q.npy', im_q)
        out.npy(f'step{step}_k.npy', im_k)
        extra = []
        if step == 1:
            for j, (frames, keep) in enumerate(EXTRA):
                full = make_input(rng, T)
                x = full[:, :, frames]
                out.npy(f'step1_extra{j}.npy', x)
                if method == 'crossclr':
                    # The motion of the clip before its frame mask, at the kept frames.
                    m = motion(torch.from_numpy(full))[:, :, frames].contiguous()
                    out.npy(f'step1_extra{j}_motion.npy', m.numpy())
                    extra.append((t(x), keep, m.to(dtype)))
                else:
                    extra.append((t(x), keep))
        record = {}
        if method == 'aimclr':
            im_e = (3.0 * make_input(rng, T)).astype(np.float32)
            out.npy(f'step{step}_e.npy', im_e)
            topk = 1 if step == 2 else None
            losses, ddm, accuracy = model(t(im_e), t(im_q), t(im_k), extra, topk)
            total = sum(losses) + ddm
            record.update(ddm=float(ddm), mining=topk)
        elif method == 'crossclr':
            cross = step == 2
            losses, accuracy = model(t(im_q), t(im_k), extra, cross=cross, topk=1, context=True)
            total = sum(losses)
            record.update(cross=cross)
        else:
            losses, accuracy = model(t(im_q), t(im_k), extra)
            total = sum(losses)
        opt.zero_grad()
        total.backward()
        opt.step()
        record.update(losses=[float(l) for l in losses], accuracy=float(accuracy))
        expected['steps'].append(record)
    end_replay()
    out.tensors('final.safetensors', state(model))
    out.json('expected.json', expected)
    if folder:
        print(method, json.dumps(expected['steps']))
    return expected['steps'], state(model)


def ms2l_state(model):
    """MS²L's state_dict, the decoder's GRU in burn's gate layout (`burn_gru_state`)."""
    return burn_gru_state(state(model), 'motion_head.decoder', 2)


def make_ms2l(folder, replay=None):
    """MS²L on the small encoder: three Adam steps (lr 1e-3, PyTorch's eps), the gradient
    norms clipped per module at 0.5 (small enough to clip), projectors 32 wide with 16-d
    embeddings; fixed jigsaw labels per step (`step{i}_labels` in expected.json); step 1 adds
    the two plug-in views. `replay`: as `make`'s."""
    out = Writer(folder)
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    model = MS2L(input_size=150, projector_hidden=32, feature_num=16,
                 hidden_channels=4, hidden_dim=16, dropout=0.0)
    perturb_bn_affine(model)
    model.train()
    out.tensors('init.safetensors', ms2l_state(model))
    dtype = start_replay(model, replay)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    expected = {'steps': [], 'extra_keep_joints': [j for _, j in EXTRA]}
    for step in range(3):
        x = make_input(rng, T)
        out.npy(f'step{step}_q.npy', x)
        labels = [int(v) for v in rng.integers(0, 6, size=x.shape[0])]
        extra = []
        if step == 1:
            for j, (frames, keep) in enumerate(EXTRA):
                xe = make_input(rng, T)[:, :, frames]
                out.npy(f'step1_extra{j}.npy', xe)
                extra.append((torch.from_numpy(xe).to(dtype), keep))
        motion, jig, ctr, acc = model(torch.from_numpy(x).to(dtype), labels, extra)
        opt.zero_grad()
        (motion + jig + ctr).backward()
        clip_grad_norms(model, 0.5)
        opt.step()
        expected['steps'].append({'labels': labels, 'losses': [float(motion), float(jig), float(ctr)],
                                  'accuracy': float(acc)})
    end_replay()
    out.tensors('final.safetensors', ms2l_state(model))
    out.json('expected.json', expected)
    if folder:
        print('ms2l', json.dumps(expected['steps']))
    return expected['steps'], ms2l_state(model)


def relative(a, b):
    """The tests' measure: |a − b| / max(|b|, 1), its largest entry."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return float(((a - b).abs() / b.abs().clamp_min(1.0)).max())


def spread(folder, replay_fn, replays, scale):
    """How far the reference itself moves when its weights move by float32's rounding: the
    three steps replayed `replays` times in float64 from weights times (1 + scale·N(0, 1)),
    each tensor's and each logged term's largest deviation (`relative`) from the fixture.
    Some ReLU inputs lie within 1e-8 of zero (relative to their layer's largest; measured), so
    a rounding difference can flip a ReLU's gradient, which three steps amplify: at scale 1e-6
    a few first-layer parameters move by up to 2e-2 (measured), and machines differ in which
    way such ReLUs fall. The tests' tolerances take this spread into account, as no machine-
    independent bound exists. Writes `spread.json`; fails if a replay changes the accuracy
    (a discrete output the tests compare exactly)."""
    with open(os.path.join(folder, 'expected.json')) as f:
        steps = json.load(f)['steps']
    final = load_file(os.path.join(folder, 'final.safetensors'))
    tensors = {k: 0.0 for k in final}
    terms = [{'losses': [0.0] * len(s['losses']), 'ddm': 0.0} for s in steps]
    for seed in range(1, replays + 1):
        got_steps, got_final = replay_fn((seed, scale))
        for k, v in final.items():
            tensors[k] = max(tensors[k], relative(got_final[k], v))
        for want, got, term in zip(steps, got_steps, terms):
            assert got['accuracy'] == want['accuracy'], (folder, seed, 'accuracy flips')
            term['losses'] = [max(d, relative(g, w)) for d, g, w
                              in zip(term['losses'], got['losses'], want['losses'])]
            if want.get('ddm') is not None:
                term['ddm'] = max(term['ddm'], relative(got['ddm'], want['ddm']))
    out = {'replays': replays, 'scale': scale, 'steps': terms, 'tensors': tensors}
    Writer(folder).json('spread.json', out)
    worst = max(tensors.items(), key=lambda kv: kv[1])
    print(os.path.basename(folder), 'spread: worst tensor', worst,
          'worst term', max(max(t['losses'] + [t['ddm']]) for t in terms))


REPLAYS = 16
SCALE = 1e-6


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'crates/asma-train/tests/fixtures'
    for method in ('skeletonclr', 'aimclr', 'crossclr'):
        folder = os.path.join(root, method)
        make(folder, method)
        spread(folder, lambda r, m=method: make(None, m, replay=r), REPLAYS, SCALE)
    folder = os.path.join(root, 'ms2l')
    make_ms2l(folder)
    spread(folder, lambda r: make_ms2l(None, replay=r), REPLAYS, SCALE)


if __name__ == '__main__':
    main()
