"""Make the parity fixtures of asma-model from the PyTorch reference (`asma_reference.py`).

    pip install torch safetensors numpy
    python3 tools/reference/make_model_fixtures.py [crates/asma-model/tests/fixtures]

Writes `encoder/` and `barlow/` under the given folder (see the README.md it writes there).

"Train mode" in these fixtures means: every BatchNorm layer uses the statistics of the current
batch (biased variance, eps 1e-5) and dropout is DISABLED, i.e. `model.eval()` followed by
`.train()` on each BatchNorm module only. Dropout is random, so it cannot be compared across
frameworks; BN batch statistics can.
"""
import copy
import json
import os
import platform
import sys

import numpy as np
import safetensors
import torch
import torch.nn as nn
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from asma_reference import (AsmaClassifier, BarlowTwinsHead, StgcnEncoder,  # noqa: E402
                            barlow_twins_loss, count_params, keep_from_removed, ENCODER_PARAMS)

MASKED_JOINTS = [3, 7, 11]
LAMBDA = 2e-4


def bn_train_only(model):
    """Fixture "train mode": BN uses batch statistics, dropout off."""
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.train()
    return model


def perturb_bn_affine(model, gen_scale=0.1):
    """BN weight 1 + 0.1·randn, bias 0.1·randn, so a loader that ignores them is caught."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                m.weight.add_(gen_scale * torch.randn_like(m.weight))
                m.bias.add_(gen_scale * torch.randn_like(m.bias))


def make_input(rng, T, n=4, zero_second=(1, 3)):
    """(n, 3, T, 25, 2) float32 of skeleton-like magnitude (std ≈ 0.3): a per-sample base pose
    ~ N(0, 0.28) plus a smooth per-joint motion (amplitude 0.1) plus noise N(0, 0.03), so that
    the pooled features differ clearly between samples. Person 2 is all zeros in `zero_second`."""
    t = np.arange(T)[None, None, :, None, None]
    base = rng.normal(0.0, 0.28, size=(n, 3, 1, 25, 2))
    freq = rng.uniform(0.05, 0.3, size=(n, 3, 1, 25, 2))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 3, 1, 25, 2))
    x = base + 0.1 * np.sin(freq * t + phase) + rng.normal(0.0, 0.03, size=(n, 3, T, 25, 2))
    for i in zero_second:
        x[i, :, :, :, 1] = 0
    return x.astype(np.float32)


def contiguous_state(sd):
    return {k: v.detach().contiguous().clone() for k, v in sd.items()}


def block_lengths(enc, x):
    """Temporal length after each of the 10 blocks (eval mode)."""
    lengths = []
    hooks = [b.register_forward_hook(lambda m, i, o: lengths.append(int(o.shape[2])))
             for b in enc.st_gcn_networks]
    with torch.no_grad():
        enc(x)
    for h in hooks:
        h.remove()
    return lengths


def save_npy(folder, name, arr, report):
    arr = np.asarray(arr, dtype=np.float32)
    np.save(os.path.join(folder, name), arr)
    spread = float(arr.std(axis=0).mean()) if arr.ndim >= 2 else 0.0  # variation across samples
    report.append((name, arr.shape, float(np.abs(arr).max()), spread))


def make_encoder_fixtures(folder, rng, report):
    os.makedirs(folder, exist_ok=True)
    enc = StgcnEncoder()
    assert count_params(enc) == ENCODER_PARAMS
    # Non-trivial state: edge importance 1 + 0.1·randn, BN affine perturbed, then three train-mode
    # forward passes (dropout on, as in pre-training) so the BN running statistics move.
    with torch.no_grad():
        for p in enc.edge_importance:
            p.copy_(1 + 0.1 * torch.randn_like(p))
    perturb_bn_affine(enc)
    # The warm-up uses a cumulative average (momentum None) so that the running statistics are
    # those of the data; with momentum 0.1 three passes leave them near 0/1 and eval-mode BN then
    # shrinks the signal layer after layer until every sample gives nearly the same output.
    bns = [m for m in enc.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.momentum = None
    enc.train()
    with torch.no_grad():
        for T in (50, 30, 50):
            enc(torch.from_numpy(make_input(rng, T, n=8, zero_second=(2, 5))))
    for m in bns:
        m.momentum = 0.1
    enc.eval()

    sd = contiguous_state(enc.state_dict())
    save_file(sd, os.path.join(folder, 'weights.safetensors'))
    torch.save({'epoch': 3, 'state_dict': {'module.encoder_q.' + k: v for k, v in sd.items()}},
               os.path.join(folder, 'checkpoint.pth.tar'))

    x50 = make_input(rng, 50)
    x30 = make_input(rng, 30)
    save_npy(folder, 'input50.npy', x50, report)
    save_npy(folder, 'input30.npy', x30, report)
    t50, t30 = torch.from_numpy(x50), torch.from_numpy(x30)

    with torch.no_grad():
        save_npy(folder, 'out_full.npy', enc(t50), report)
        save_npy(folder, 'out_masked.npy', enc(t50, keep_from_removed(MASKED_JOINTS)), report)
        save_npy(folder, 'out_30.npy', enc(t30), report)
        save_npy(folder, 'map_full.npy', enc.forward_map(t50), report)
        # Train mode on a copy: BN batch statistics update the running statistics.
        train_enc = bn_train_only(copy.deepcopy(enc))
        save_npy(folder, 'out_train.npy', train_enc(t50), report)
    with open(os.path.join(folder, 'masked_joints.json'), 'w') as f:
        json.dump(MASKED_JOINTS, f)
        f.write('\n')
    lengths = {'50': block_lengths(enc, t50), '30': block_lengths(enc, t30)}
    assert lengths['50'][-1] == 13 and lengths['30'][-1] == 8, lengths
    with open(os.path.join(folder, 'lengths.json'), 'w') as f:
        json.dump(lengths, f)
        f.write('\n')
    return list(sd.keys())


def make_barlow_fixtures(folder, rng, report):
    os.makedirs(folder, exist_ok=True)
    z1 = rng.normal(0.0, 1.0, size=(8, 32)).astype(np.float32)
    z2 = (0.6 * z1 + 0.8 * rng.normal(0.0, 1.0, size=(8, 32))).astype(np.float32)
    save_npy(folder, 'z1.npy', z1, report)
    save_npy(folder, 'z2.npy', z2, report)
    loss = barlow_twins_loss(torch.from_numpy(z1), torch.from_numpy(z2), LAMBDA)
    loss64 = barlow_twins_loss(torch.from_numpy(z1).double(), torch.from_numpy(z2).double(),
                               LAMBDA)
    save_npy(folder, 'loss.npy', loss.numpy(), report)

    head = BarlowTwinsHead(256, (64, 64, 64), lam=LAMBDA)
    perturb_bn_affine(head)
    sd = contiguous_state(head.state_dict())
    save_file(sd, os.path.join(folder, 'proj_weights.safetensors'))
    proj_in = rng.normal(0.0, 1.0, size=(8, 256)).astype(np.float32)
    save_npy(folder, 'proj_in.npy', proj_in, report)
    bn_train_only(head)
    with torch.no_grad():
        save_npy(folder, 'proj_out.npy', head.projector(torch.from_numpy(proj_in)), report)
    return list(sd.keys()), float(loss), float(loss64)


def make_classifier_fixtures(folder, rng, report):
    """Small classifiers (encoders with hidden_channels 4, hidden_dim 32, 5 classes) for each
    fusion: the same code paths as the paper's size, in files of a few hundred KB."""
    os.makedirs(folder, exist_ok=True)
    x = make_input(rng, 50, n=3, zero_second=(1,))
    save_npy(folder, 'input.npy', x, report)
    t = torch.from_numpy(x)
    keys = {}
    for fusion in ('cross_attention', 'average'):
        model = AsmaClassifier(5, fusion=fusion, hidden_channels=4, hidden_dim=32)
        with torch.no_grad():
            for enc in (model.encoder_theta, model.encoder_phi):
                for p in enc.edge_importance:
                    p.copy_(1 + 0.1 * torch.randn_like(p))
            nn.init.normal_(model.head.fc.bias, 0.0, 0.1)
        perturb_bn_affine(model)
        bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        for m in bns:
            m.momentum = None
        model.train()
        with torch.no_grad():
            for T in (50, 30):
                model(torch.from_numpy(make_input(rng, T, n=6, zero_second=(2,))))
        for m in bns:
            m.momentum = 0.1
        model.eval()
        sd = contiguous_state(model.state_dict())
        save_file(sd, os.path.join(folder, f'{fusion}.safetensors'))
        with torch.no_grad():
            save_npy(folder, f'{fusion}_logits.npy', model(t), report)
            save_npy(folder, f'{fusion}_features.npy', model.features(t), report)
            train = bn_train_only(copy.deepcopy(model))
            save_npy(folder, f'{fusion}_logits_train.npy', train(t), report)
        keys[fusion] = [k for k in sd.keys() if k.startswith('head.')]
    return keys


README = """# asma-model parity fixtures

Made by the PyTorch reference `tools/reference/asma_reference.py` (docs/METHOD.md §3, §6.1) with

    pip install torch safetensors numpy
    python3 tools/reference/make_model_fixtures.py crates/asma-model/tests/fixtures

Deterministic: `torch.manual_seed(0)`, `numpy.random.default_rng(0)` (inputs), CPU, float32.
Made with: torch {torch}, numpy {numpy}, safetensors {safetensors}, Python {python}.

## "Train mode" in these fixtures

`out_train.npy` and `barlow/proj_out.npy` are computed with **every BatchNorm layer using the
statistics of the current batch (biased variance, eps 1e-5) and dropout disabled**: `model.eval()`
then `.train()` on each BatchNorm module only. Dropout is random and cannot be compared across
frameworks. Eval mode = BN running statistics, dropout off.

## encoder/

The encoder is `StgcnEncoder(in_channels=3, hidden_channels=16, hidden_dim=256,
edge_importance=True, dropout=0.5)`, {params} trainable parameters. Its state is made
non-trivial before saving: `edge_importance.*` = 1 + 0.1·randn, every BN weight = 1 + 0.1·randn
and bias = 0.1·randn, then three train-mode forward passes (dropout on; inputs (8,3,T,25,2) made like `input50.npy`,
T = 50, 30, 50) set the BN running statistics (cumulative average over the three batches,
BN momentum None during these passes, back to 0.1 after); then `eval()`.

| file | meaning |
|---|---|
| `weights.safetensors` | the full `state_dict()` (float32, `num_batches_tracked` int64 = 3), keys below |
| `checkpoint.pth.tar` | `torch.save({{'epoch': 3, 'state_dict': {{'module.encoder_q.' + k: v}}}})`, default zip format; same tensors as `weights.safetensors` |
| `input50.npy` | (4,3,50,25,2) float32, std ≈ 0.3: per-sample base pose N(0,0.28) + smooth motion 0.1·sin(ωt+φ) + noise N(0,0.03); person 2 all zeros in samples 1 and 3 |
| `input30.npy` | (4,3,30,25,2) float32, same recipe |
| `out_full.npy` | (4,256) eval mode, input50 |
| `out_masked.npy` | (4,256) eval mode, input50, joints in `masked_joints.json` removed (§3.4 step 2) |
| `masked_joints.json` | `[3, 7, 11]`: 0-based joints removed for `out_masked.npy` |
| `out_30.npy` | (4,256) eval mode, input30 |
| `out_train.npy` | (4,256) train mode (BN batch statistics, dropout off; see above), input50 |
| `map_full.npy` | (8,256,13,25) block-10 map before pooling, eval mode, input50; row = n·2 + m |
| `lengths.json` | temporal length after each of the 10 blocks, keyed by the input length ("50", "30") |

Notes for loaders: `A` is the (3,25,25) adjacency buffer of §3.1 (float32); each
`num_batches_tracked` is an int64 scalar (shape ()); blocks 1–4, 6, 7 and 9 (0-based 1, 2, 3, 5,
6, 8) have an identity residual and block 0 none, so only `st_gcn_networks.{{4,7,9}}` have
`residual.*` keys. PSTL itself saves the bare encoder `state_dict()` (no prefix) to a `.pt` file;
the `module.encoder_q.` prefix of `checkpoint.pth.tar` is the MoCo/AimCLR convention.

Parity of this reference with PSTL's own module code (its `Model` loaded from
`checkpoint.pth.tar`, same inputs): max |difference| ≤ 6e-7 on every output, so an absolute
tolerance near 1e-5 is a fair target for a float32 re-implementation.

state_dict keys ({nkeys}, in order):

```
{keys}
```

## barlow/

| file | meaning |
|---|---|
| `z1.npy`, `z2.npy` | (8,32) float32 projector outputs (z2 correlated with z1) |
| `loss.npy` | scalar float32 `barlow_twins_loss(z1, z2, λ=2e-4)`: BN1d(affine=False) in training mode on each batch separately (biased variance, eps 1e-5), C = ẑ1ᵀẑ2/N, Σ(C_ii−1)² + λΣ_{{i≠j}}C_ij². Value {loss:.9g} (float64: {loss64:.12g}) |
| `proj_weights.safetensors` | state_dict of `BarlowTwinsHead(256, (64,64,64))`, PSTL `BTwins` key names (below); BN weights 1 + 0.1·randn, biases 0.1·randn, running stats at init |
| `proj_in.npy` | (8,256) float32 ~ N(0,1) |
| `proj_out.npy` | (8,64) `projector(proj_in)` in train mode (BN batch statistics) |

Projector keys: `projector.0.weight` (Linear 256→64, no bias), `projector.1.*` (BN1d:
weight, bias, running_mean, running_var, num_batches_tracked), `projector.3.weight`
(Linear 64→64), `projector.4.*` (BN1d), `projector.6.weight` (Linear 64→64);
indices 2 and 5 are the ReLUs. `bn.{{running_mean,running_var,num_batches_tracked}}` is the
affine-free BN1d that the loss applies in training mode; its running statistics are never used.

```
{pkeys}
```

## classifier/

`AsmaClassifier(5, fusion, hidden_channels=4, hidden_dim=32)` of `asma_reference.py` (docs/METHOD.md
§7.1) for `fusion` = `cross_attention` and `average`: small encoders so the files stay small
(the encoder itself is checked at full size above). Edge importance and BN affine perturbed as
above, fc bias N(0, 0.1), BN running statistics from two train-mode passes; eval mode.

| file | meaning |
|---|---|
| `input.npy` | (3,3,50,25,2) float32, same recipe as `encoder/input50.npy`; person 2 zero in sample 1 |
| `{{fusion}}.safetensors` | the classifier's `state_dict()`: `encoder_theta.*`, `encoder_phi.*`, head keys below |
| `{{fusion}}_logits.npy` | (3,5) eval-mode logits |
| `{{fusion}}_features.npy` | (3,64) cross-attention / (3,32) average: the feature the linear layer reads |
| `{{fusion}}_logits_train.npy` | (3,5) logits in fixture train mode (BN batch statistics, dropout off) |

Head keys: cross_attention: {ckeys}; average: {akeys}.
"""


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else 'crates/asma-model/tests/fixtures'
    torch.manual_seed(0)
    np.random.seed(0)
    rng = np.random.default_rng(0)
    torch.set_num_threads(1)  # reproducible reductions
    report = []
    keys = make_encoder_fixtures(os.path.join(out, 'encoder'), rng, report)
    pkeys, loss, loss64 = make_barlow_fixtures(os.path.join(out, 'barlow'), rng, report)
    ckeys = make_classifier_fixtures(os.path.join(out, 'classifier'), rng, report)
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write(README.format(
            torch=torch.__version__, numpy=np.__version__, safetensors=safetensors.__version__,
            python=platform.python_version(), params=ENCODER_PARAMS, nkeys=len(keys),
            keys='\n'.join(keys), pkeys='\n'.join(pkeys), loss=loss, loss64=loss64,
            ckeys=', '.join(ckeys['cross_attention']), akeys=', '.join(ckeys['average'])))
    for name, shape, mx, spread in report:
        print(f'{name:18s} {str(tuple(shape)):20s} max|x| = {mx:<10.6g} '
              f'mean std over axis 0 = {spread:.4g}')
    total = 0
    for root, _, files in os.walk(out):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    print(f'BT loss {loss:.9g} (float64 {loss64:.12g}); fixtures total {total / 1e6:.2f} MB')


if __name__ == '__main__':
    main()
