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
views' kept joints).
"""
import json
import os
import re
import sys

import numpy as np
import torch
from safetensors.torch import save_file

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


def make(folder, method):
    os.makedirs(folder, exist_ok=True)
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
    save_file(state(model), os.path.join(folder, 'init.safetensors'))
    opt = sgd(model, lr=0.1, momentum=0.9, weight_decay=1e-4)
    expected = {'steps': [], 'extra_keep_joints': [j for _, j in EXTRA]}
    for step in range(3):
        im_q = make_input(rng, T)
        im_k = make_input(rng, T)
        np.save(os.path.join(folder, f'step{step}_q.npy'), im_q)
        np.save(os.path.join(folder, f'step{step}_k.npy'), im_k)
        extra = []
        if step == 1:
            for j, (frames, keep) in enumerate(EXTRA):
                full = make_input(rng, T)
                x = full[:, :, frames]
                np.save(os.path.join(folder, f'step1_extra{j}.npy'), x)
                if method == 'crossclr':
                    # The motion of the clip before its frame mask, at the kept frames.
                    m = motion(torch.from_numpy(full))[:, :, frames].contiguous()
                    np.save(os.path.join(folder, f'step1_extra{j}_motion.npy'), m.numpy())
                    extra.append((torch.from_numpy(x), keep, m))
                else:
                    extra.append((torch.from_numpy(x), keep))
        record = {}
        if method == 'aimclr':
            im_e = (3.0 * make_input(rng, T)).astype(np.float32)
            np.save(os.path.join(folder, f'step{step}_e.npy'), im_e)
            topk = 1 if step == 2 else None
            losses, ddm, accuracy = model(torch.from_numpy(im_e), torch.from_numpy(im_q),
                                          torch.from_numpy(im_k), extra, topk)
            total = sum(losses) + ddm
            record.update(ddm=float(ddm), mining=topk)
        elif method == 'crossclr':
            cross = step == 2
            losses, accuracy = model(torch.from_numpy(im_q), torch.from_numpy(im_k), extra,
                                     cross=cross, topk=1, context=True)
            total = sum(losses)
            record.update(cross=cross)
        else:
            losses, accuracy = model(torch.from_numpy(im_q), torch.from_numpy(im_k), extra)
            total = sum(losses)
        opt.zero_grad()
        total.backward()
        opt.step()
        record.update(losses=[float(l) for l in losses], accuracy=float(accuracy))
        expected['steps'].append(record)
    save_file(state(model), os.path.join(folder, 'final.safetensors'))
    with open(os.path.join(folder, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    print(method, json.dumps(expected['steps']))


def ms2l_state(model):
    """MS²L's state_dict, the decoder's GRU in burn's gate layout (`burn_gru_state`)."""
    return burn_gru_state(state(model), 'motion_head.decoder', 2)


def make_ms2l(folder):
    """MS²L on the small encoder: three Adam steps (lr 1e-3, PyTorch's eps), the gradient
    norms clipped per module at 0.5 (small enough to clip), projectors 32 wide with 16-d
    embeddings; fixed jigsaw labels per step (`step{i}_labels` in expected.json); step 1 adds
    the two plug-in views."""
    os.makedirs(folder, exist_ok=True)
    torch.manual_seed(7)
    rng = np.random.default_rng(7)
    model = MS2L(input_size=150, projector_hidden=32, feature_num=16,
                 hidden_channels=4, hidden_dim=16, dropout=0.0)
    perturb_bn_affine(model)
    model.train()
    save_file(ms2l_state(model), os.path.join(folder, 'init.safetensors'))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    expected = {'steps': [], 'extra_keep_joints': [j for _, j in EXTRA]}
    for step in range(3):
        x = make_input(rng, T)
        np.save(os.path.join(folder, f'step{step}_q.npy'), x)
        labels = [int(v) for v in rng.integers(0, 6, size=x.shape[0])]
        extra = []
        if step == 1:
            for j, (frames, keep) in enumerate(EXTRA):
                xe = make_input(rng, T)[:, :, frames]
                np.save(os.path.join(folder, f'step1_extra{j}.npy'), xe)
                extra.append((torch.from_numpy(xe), keep))
        motion, jig, ctr, acc = model(torch.from_numpy(x), labels, extra)
        opt.zero_grad()
        (motion + jig + ctr).backward()
        clip_grad_norms(model, 0.5)
        opt.step()
        expected['steps'].append({'labels': labels, 'losses': [float(motion), float(jig), float(ctr)],
                                  'accuracy': float(acc)})
    save_file(ms2l_state(model), os.path.join(folder, 'final.safetensors'))
    with open(os.path.join(folder, 'expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    print('ms2l', json.dumps(expected['steps']))


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else 'crates/asma-train/tests/fixtures'
    for method in ('skeletonclr', 'aimclr', 'crossclr'):
        make(os.path.join(root, method), method)
    make_ms2l(os.path.join(root, 'ms2l'))


if __name__ == '__main__':
    main()
