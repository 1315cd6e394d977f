"""PyTorch reference of MS²L's multi-task pre-training on asma's ST-GCN encoder, with ASMa's plug-in.

Written from reading `LanglandsLin/MS2L` (`model.py`: `TemporalMask`, `TemporalJigsaw`,
`Decoder`, `Projector`; `procedure.py`: `MS2LProcessor.contrastive_loss`, `motion_batch`,
`jigsaw_batch`, `contra_batch`, `train_epoch`; `config.py`). The tasks, heads, losses,
optimiser and gradient clipping are MS²L's; the encoder is `asma_reference.StgcnEncoder`
instead of MS²L's bidirectional GRU ([CHOICE] of asma, `crates/asma-model/src/ms2l.rs`): the
decoder reads per-frame features (the block-10 map averaged over joints and persons, step
floor(t·T'/T) for frame t), the heads the pooled clip feature. Every frame counts as valid.

The plug-in (asma's [CHOICE], docs/METHOD.md §6.5): ASMa's masked views join the contrastive
task as further views.
"""
from itertools import permutations

import torch
import torch.nn as nn
import torch.nn.functional as F

from asma_reference import StgcnEncoder


def temporal_mask(x, ratio):
    """`TemporalMask` with every frame valid: frames t >= T·(1 − ratio) zeroed."""
    t = x.shape[2]
    keep = (torch.arange(t).float() < t * (1 - ratio)).float().view(1, 1, t, 1, 1)
    return x * keep


def temporal_jigsaw(x, labels, seg_num):
    """`TemporalJigsaw` with every frame valid and the permutation labels given."""
    perms = list(permutations(range(seg_num)))
    t = x.shape[2]
    out = torch.zeros_like(x)
    for i, label in enumerate(labels):
        length = t // seg_num
        segments = [list(range(t))[b:b + length] for b in range(0, t, length)]
        order = []
        for p in perms[label]:
            order.extend(segments[p])
        frames = list(range(t))
        frames[:len(order)] = order
        out[i] = x[i][:, frames]
    return out


class Projector(nn.Module):
    def __init__(self, hidden_size, feature_num, width=2048):
        super().__init__()
        self.classifier = nn.Sequential(nn.Linear(hidden_size, width), nn.BatchNorm1d(width),
                                        nn.ReLU(inplace=True), nn.Linear(width, feature_num))

    def forward(self, x):
        return self.classifier(x)


class Decoder(nn.Module):
    def __init__(self, input_size, hidden_size, layers=2):
        super().__init__()
        self.decoder = nn.GRU(input_size=hidden_size, hidden_size=hidden_size, num_layers=layers,
                              batch_first=True)
        self.reconstruction = nn.Linear(hidden_size, input_size)

    def forward(self, x):
        x, _ = self.decoder(x)
        return self.reconstruction(x)


def contrastive_loss(x, y, temp):
    """`MS2LProcessor.contrastive_loss`."""
    n = x.shape[0]
    x, y = F.normalize(x, dim=1), F.normalize(y, dim=1)
    s12 = x.mm(y.t())
    s21 = s12.t()
    s11 = x.mm(x.t())
    s22 = y.mm(y.t())
    s11[range(n), range(n)] = -1.
    s22[range(n), range(n)] = -1.
    s = torch.cat([torch.cat([s12, s11], dim=1), torch.cat([s22, s21], dim=1)], dim=0) / temp
    target = torch.arange(2 * n)
    return F.cross_entropy(s, target), (s.argmax(dim=1) == target).float().mean()


class MS2L(nn.Module):
    def __init__(self, input_size=150, projector_hidden=2048, feature_num=1024, seg_num=3,
                 mask_ratio=0.3, temp=0.9, **encoder_args):
        super().__init__()
        self.encoder = StgcnEncoder(**encoder_args)
        d = self.encoder.hidden_dim
        self.motion_head = Decoder(input_size, d)
        self.jigsaw_head = Projector(d, len(list(permutations(range(seg_num)))), projector_hidden)
        self.contra_head = Projector(d, feature_num, projector_hidden)
        self.seg_num, self.mask_ratio, self.temp = seg_num, mask_ratio, temp

    def forward(self, x, labels, extra=()):
        """Returns (motion MSE, jigsaw CE, contrastive loss, contrastive accuracy)."""
        n, _, t, _, m = x.shape
        masked = temporal_mask(x, self.mask_ratio)
        jigsaw = temporal_jigsaw(x, labels, self.seg_num)
        maps = [self.encoder.forward_map(v) for v in (x, masked, jigsaw)]
        pool = lambda z: z.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # noqa: E731
        clips = [pool(z) for z in maps] + [self.encoder(v, keep) for v, keep in extra]
        # Per-frame features of the masked clip.
        z = maps[1].mean(dim=3).view(n, m, -1, maps[1].shape[2]).mean(dim=1).transpose(1, 2)
        steps = z.shape[1]
        z = z[:, [i * steps // t for i in range(t)]]
        predicted = self.motion_head(z)
        motion = F.mse_loss(predicted, x.permute(0, 2, 1, 3, 4).reshape(n, t, -1))
        jig = F.cross_entropy(self.jigsaw_head(clips[2]), torch.as_tensor(labels))
        embedded = [self.contra_head(c) for c in clips]
        mean = sum(embedded) / len(embedded)
        losses, accs = zip(*[contrastive_loss(e, mean, self.temp) for e in embedded])
        return motion, jig, sum(losses) / len(losses), sum(accs) / len(accs)


def clip_grad_norms(model, max_norm):
    """`train_epoch`'s `clip_grad_norm_` of the encoder and of each head, each on its own."""
    for part in (model.encoder, model.motion_head, model.jigsaw_head, model.contra_head):
        torch.nn.utils.clip_grad_norm_(part.parameters(), max_norm)


def burn_gru_state(state, prefix, layers):
    """PyTorch's GRU weights (`weight_ih_l{l}` rows r, z, n) as burn's gate modules, PyTorch's
    Linear orientation: `{prefix}.{l}.{reset,update,new}_gate.{input,hidden}_transform.*`."""
    out = {}
    for l in range(layers):
        for kind, part in (('ih', 'input'), ('hh', 'hidden')):
            w, b = state.pop(f'{prefix}.weight_{kind}_l{l}'), state.pop(f'{prefix}.bias_{kind}_l{l}')
            h = w.shape[0] // 3
            for i, gate in enumerate(('reset', 'update', 'new')):
                out[f'{prefix}.{l}.{gate}_gate.{part}_transform.weight'] = w[i * h:(i + 1) * h].contiguous()
                out[f'{prefix}.{l}.{gate}_gate.{part}_transform.bias'] = b[i * h:(i + 1) * h].contiguous()
    state.update(out)
    return state
