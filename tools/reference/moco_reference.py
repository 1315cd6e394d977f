"""PyTorch reference of SkeletonCLR (MoCo v2 on skeletons) and AimCLR, with ASMa's plug-in views.

Written from reading `LinguoLi/CrosSCLR` (`net/skeletonclr.py`, `processor/pretrain_skeletonclr.py`,
`processor/pretrain.py`); the encoder is `asma_reference.StgcnEncoder` (PSTL's ST-GCN, the same
network as CrosSCLR's `net/st_gcn.py` without its `fc`). `MocoStgcn` puts SkeletonCLR's MLP head
in `fc`, so `SkeletonCLR().state_dict()` has the reference's keys: `encoder_q.data_bn.*`,
`encoder_q.st_gcn_networks.*`, `encoder_q.edge_importance.*`, `encoder_q.fc.{0,2}.*`, the same
for `encoder_k`, `queue` and `queue_ptr`.

The plug-in (docs/METHOD.md §6.5, a [CHOICE] of asma): extra query views, shortened by ASMa's masks,
each scored by InfoNCE against the same keys and queue; the loss is the sum over query views.
With no extra view this is SkeletonCLR's step exactly.

AimCLR: written from reading `Levigty/AimCLR` (`net/aimclr.py`, `net/att_drop.py`,
`net/st_gcn.py`, `processor/pretrain_aimclr.py`): the extremely augmented query passes the
query encoder once; its block-10 map and the map after the energy-based drop (`Simam_Drop`,
keep_prob 0.7) give two embeddings whose distributions over [key, queue] learn from the normal
query's (D³M); after `mining_epoch` the top-k queue entries of the three queries join the
positives. Plug-in views, when given, are plain InfoNCE terms (asma's [CHOICE]).

Used by `make_moco_fixtures.py` (the parity fixtures of `asma-train`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from asma_reference import StgcnEncoder


class SimamDrop(nn.Module):
    """AimCLR's energy-based attention-guided drop (`Simam_Drop`), (NM, C, T, V) in and out.
    The reference overwrites the attention maps in place with 0/1, so the masks are constants."""

    def __init__(self, keep_prob=0.7, e_lambda=1e-4):
        super().__init__()
        self.keep_prob, self.e_lambda = keep_prob, e_lambda

    def forward(self, x):
        nm, c, t, v = x.shape
        num = v * t - 1
        d = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = d / (4 * (d.sum(dim=[2, 3], keepdim=True) / num + self.e_lambda)) + 0.5
        att = torch.sigmoid(y).detach()
        mask_s = (att.mean(dim=[1, 2]) < self.keep_prob).float().view(nm, 1, 1, v)
        x = x * mask_s * mask_s.numel() / mask_s.sum()
        mask_t = (att < self.keep_prob).float()
        return x * mask_t * mask_t.numel() / mask_t.sum()


class MocoStgcn(StgcnEncoder):
    """The encoder followed by SkeletonCLR's head in `fc`: Linear(d, d) → ReLU → Linear(d, f)
    (`mlp=True`) or Linear(d, f)."""

    def __init__(self, feature_dim=128, mlp=True, **kwargs):
        super().__init__(**kwargs)
        d = self.hidden_dim
        if mlp:
            self.fc = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, feature_dim))
        else:
            self.fc = nn.Linear(d, feature_dim)

    def forward(self, x, keep_joints=None):
        return self.fc(super().forward(x, keep_joints))

    def forward_drop(self, x, drop):
        """AimCLR's `forward(x, drop=True)`: the embedding of x and of its dropped map."""
        n, m = x.shape[0], x.shape[4]
        y = self.forward_map(x)
        pool = lambda z: z.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # noqa: E731
        return self.fc(pool(y)), self.fc(pool(drop(y)))


class SkeletonCLR(nn.Module):
    def __init__(self, feature_dim=128, queue_size=32768, momentum=0.999, temperature=0.07,
                 mlp=True, **encoder_args):
        super().__init__()
        self.K, self.m, self.T = queue_size, momentum, temperature
        self.encoder_q = MocoStgcn(feature_dim, mlp, **encoder_args)
        self.encoder_k = MocoStgcn(feature_dim, mlp, **encoder_args)
        for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            k.data.copy_(q.data)
            k.requires_grad = False
        self.register_buffer('queue', F.normalize(torch.randn(feature_dim, queue_size), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    @torch.no_grad()
    def _momentum_update_key_encoder(self):
        for q, k in zip(self.encoder_q.parameters(), self.encoder_k.parameters()):
            k.data = k.data * self.m + q.data * (1.0 - self.m)

    def forward(self, im_q, im_k, extra=()):
        """Returns the loss per query view (MoCo's own first) and the positive-is-top share of
        the first. `extra`: `(x, keep_joints)` pairs of plug-in query views."""
        views = [(im_q, None)] + list(extra)
        qs = [F.normalize(self.encoder_q(x, keep), dim=1) for x, keep in views]
        with torch.no_grad():
            self._momentum_update_key_encoder()
            k = F.normalize(self.encoder_k(im_k), dim=1)
        queue = self.queue.clone().detach()
        losses, accuracy = [], None
        for i, q in enumerate(qs):
            l_pos = torch.einsum('nc,nc->n', [q, k]).unsqueeze(-1)
            l_neg = torch.einsum('nc,ck->nk', [q, queue])
            logits = torch.cat([l_pos, l_neg], dim=1) / self.T
            labels = torch.zeros(logits.shape[0], dtype=torch.long)
            losses.append(F.cross_entropy(logits, labels))
            if i == 0:
                accuracy = (logits.argmax(dim=1) == 0).float().mean()
        # Dequeue and enqueue, then advance the pointer (`update_ptr`).
        n = k.shape[0]
        ptr = int(self.queue_ptr)
        assert self.K % n == 0
        self.queue[:, ptr:ptr + n] = k.T
        self.queue_ptr[0] = (ptr + n) % self.K
        return losses, accuracy


class AimCLR(SkeletonCLR):
    def __init__(self, keep_prob=0.7, e_lambda=1e-4, **kwargs):
        super().__init__(**kwargs)
        self.drop = SimamDrop(keep_prob, e_lambda)

    def forward(self, im_q_extreme, im_q, im_k, extra=(), topk=None):
        """Returns (losses per query view, D³M term, accuracy); `topk`: mining on."""
        q = F.normalize(self.encoder_q(im_q), dim=1)
        q_e, q_ed = self.encoder_q.forward_drop(im_q_extreme, self.drop)
        q_e, q_ed = F.normalize(q_e, dim=1), F.normalize(q_ed, dim=1)
        q_extra = [F.normalize(self.encoder_q(x, keep), dim=1) for x, keep in extra]
        with torch.no_grad():
            self._momentum_update_key_encoder()
            k = F.normalize(self.encoder_k(im_k), dim=1)
        queue = self.queue.clone().detach()

        def logits_of(z):
            l_pos = torch.einsum('nc,nc->n', [z, k]).unsqueeze(-1)
            l_neg = torch.einsum('nc,ck->nk', [z, queue])
            return torch.cat([l_pos, l_neg], dim=1) / self.T, l_neg

        logits, l_neg = logits_of(q)
        logits_e, l_neg_e = logits_of(q_e)
        logits_ed, l_neg_ed = logits_of(q_ed)
        p_e, p_ed = torch.softmax(logits_e, dim=1), torch.softmax(logits_ed, dim=1)
        target = torch.softmax(logits.clone().detach(), dim=1)
        labels = torch.zeros(logits.shape[0], dtype=torch.long)
        if topk is None:
            loss1 = F.cross_entropy(logits, labels)
        else:
            hits = torch.zeros_like(l_neg)
            for l in (l_neg, l_neg_e, l_neg_ed):
                hits.scatter_(1, torch.topk(l, topk, dim=1)[1], 1)
            mask = torch.cat([torch.ones(hits.size(0), 1), hits], dim=1)
            loss1 = (-(F.log_softmax(logits, dim=1) * mask).sum(1) / mask.sum(1)).mean()
        loss2 = -torch.mean(torch.sum(torch.log(p_e) * target, dim=1))
        loss3 = -torch.mean(torch.sum(torch.log(p_ed) * target, dim=1))
        losses = [loss1] + [F.cross_entropy(logits_of(z)[0], labels) for z in q_extra]
        accuracy = (logits.argmax(dim=1) == 0).float().mean()
        n, ptr = k.shape[0], int(self.queue_ptr)
        self.queue[:, ptr:ptr + n] = k.T
        self.queue_ptr[0] = (ptr + n) % self.K
        return losses, (loss2 + loss3) / 2, accuracy


def sgd(model, lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=False):
    """`processor/pretrain.py`'s optimiser (SkeletonCLR's configs: nesterov off)."""
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=nesterov,
                           weight_decay=weight_decay)
