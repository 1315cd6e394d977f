"""PyTorch reference of CrosSCLR (3 views: joint, motion, bone), with ASMa's plug-in views.

Written from reading `LinguoLi/CrosSCLR` (`net/crossclr_3views.py`, `net/crossclr.py`,
`processor/pretrain_crossclr_3views.py`); the encoders are `moco_reference.MocoStgcn`. Kept as
the reference has them:
- the `mlp` "hack": the motion and bone heads are their own Linear + ReLU followed by the joint
  head itself (`encoder_q_motion.fc[2] is encoder_q.fc`), so the joint head is trained by every
  stream and momentum-updated once per stream update;
- the cross phase momentum-updates the motion key encoder only;
- motion and bone are computed from the (augmented) joint clips inside the model.

The plug-in (asma's [CHOICE], docs/METHOD.md §6.5): each extra query view (joint clips shortened
by ASMa's masks) adds, per stream, an InfoNCE term against that stream's keys and queue. A view
shortened by a frame mask brings its motion stream taken before the mask (the motion of the
shortened clip itself would jump across the removed frames, unlike the keys' motion).

`state_dict()` has the reference's keys; the later streams' `fc.2.*` entries repeat the joint
head's (`make_moco_fixtures.py` leaves them out).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from moco_reference import MocoStgcn

# `net/crossclr_3views.py`'s 1-based (child, parent) pairs.
BONE = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
        (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
        (18, 17), (19, 18), (20, 19), (21, 21), (22, 23), (23, 8), (24, 25), (25, 12)]
STREAMS = ('', '_motion', '_bone')


def motion(x):
    m = torch.zeros_like(x)
    m[:, :, :-1] = x[:, :, 1:] - x[:, :, :-1]
    return m


def bone(x):
    b = torch.zeros_like(x)
    for v1, v2 in BONE:
        b[:, :, :, v1 - 1] = x[:, :, :, v1 - 1] - x[:, :, :, v2 - 1]
    return b


class CrosSCLR(nn.Module):
    def __init__(self, feature_dim=128, queue_size=32768, momentum=0.999, temperature=0.07,
                 **encoder_args):
        super().__init__()
        self.K, self.m, self.T = queue_size, momentum, temperature
        self.encoder_q = MocoStgcn(feature_dim, True, **encoder_args)
        self.encoder_k = MocoStgcn(feature_dim, True, **encoder_args)
        for s in STREAMS[1:]:
            q = MocoStgcn(feature_dim, False, **encoder_args)
            k = MocoStgcn(feature_dim, False, **encoder_args)
            d = q.hidden_dim
            q.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), self.encoder_q.fc)
            k.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), self.encoder_k.fc)
            setattr(self, 'encoder_q' + s, q)
            setattr(self, 'encoder_k' + s, k)
        for s in STREAMS:
            for q, k in zip(self.enc('q', s).parameters(), self.enc('k', s).parameters()):
                k.data.copy_(q.data)
                k.requires_grad = False
            self.register_buffer('queue' + s, F.normalize(torch.randn(feature_dim, queue_size), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    def enc(self, which, s):
        return getattr(self, f'encoder_{which}{s}')

    @torch.no_grad()
    def _momentum_update(self, s):
        for q, k in zip(self.enc('q', s).parameters(), self.enc('k', s).parameters()):
            k.data = k.data * self.m + q.data * (1.0 - self.m)

    @staticmethod
    def inputs(x, m=None):
        """The three streams of joint clips `x`; `m`: their motion when the view brings it."""
        return [x, motion(x) if m is None else m, bone(x)]

    def forward(self, im_q, im_k, extra=(), cross=False, topk=1, context=True):
        """Returns the loss per stream (joint, motion, bone), then the plug-in views' per stream,
        and the positive-is-top share of the joint stream. `extra`: `(x, keep_joints)` pairs, or
        `(x, keep_joints, motion)` with the motion taken before the frame mask."""
        qs = [F.normalize(self.enc('q', s)(x), dim=1) for s, x in zip(STREAMS, self.inputs(im_q))]
        q_extra = [[F.normalize(self.enc('q', s)(x, e[1]), dim=1)
                    for s, x in zip(STREAMS, self.inputs(e[0], *e[2:]))] for e in extra]
        with torch.no_grad():
            for s in (STREAMS[1:2] if cross else STREAMS):
                self._momentum_update(s)
            ks = [F.normalize(self.enc('k', s)(x), dim=1) for s, x in zip(STREAMS, self.inputs(im_k))]
        queues = [getattr(self, 'queue' + s).clone().detach() for s in STREAMS]

        def scores(i, q):
            l_pos = torch.einsum('nc,nc->n', [q, ks[i]]).unsqueeze(-1)
            l_neg = torch.einsum('nc,ck->nk', [q, queues[i]])
            return l_pos, l_neg

        labels = torch.zeros(im_q.shape[0], dtype=torch.long)
        main = [scores(i, q) for i, q in enumerate(qs)]
        if not cross:
            losses = [F.cross_entropy(torch.cat(sc, dim=1) / self.T, labels) for sc in main]
        else:
            onehot = []
            for _, l_neg in main:
                o = torch.zeros_like(l_neg)
                o.scatter_(1, torch.topk(l_neg, topk, dim=1)[1], 1)
                onehot.append(o)
            losses = []
            for a, (l_pos, l_neg) in enumerate(main):
                terms = []
                for b in range(len(main)):
                    if b == a:
                        continue
                    logits = [l_pos, l_neg]
                    mask = [torch.ones(l_pos.shape[0], 1), onehot[b]]
                    if context:
                        logits.append(torch.einsum('nk,nk->nk', [l_neg, main[b][1]]))
                        mask.append(onehot[b])
                    logits, mask = torch.cat(logits, dim=1) / self.T, torch.cat(mask, dim=1)
                    terms.append(-(F.log_softmax(logits, dim=1) * mask).sum(1) / mask.sum(1))
                losses.append((sum(terms) / len(terms)).mean())
        for views in q_extra:
            for i, q in enumerate(views):
                losses.append(F.cross_entropy(torch.cat(scores(i, q), dim=1) / self.T, labels))
        accuracy = (torch.cat(main[0], dim=1).argmax(dim=1) == 0).float().mean()
        n, ptr = ks[0].shape[0], int(self.queue_ptr)
        assert self.K % n == 0
        for s, k in zip(STREAMS, ks):
            getattr(self, 'queue' + s)[:, ptr:ptr + n] = k.T
        self.queue_ptr[0] = (ptr + n) % self.K
        return losses, accuracy
