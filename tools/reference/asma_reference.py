"""PyTorch reference of asma's ST-GCN encoder and Barlow Twins head (docs/METHOD.md §3, §6.1).

Written from docs/METHOD.md and from reading the structure of PSTL/AimCLR (`module/gcn/st_gcn.py`,
`utils/graph.py`, `utils/tgcn.py`, `model.py` of YujieOuO/PSTL). Module names are chosen so that
`StgcnEncoder().state_dict()` has exactly PSTL's keys (`A`, `data_bn.*`,
`st_gcn_networks.{i}.gcn.conv.*`, `.tcn.{0,2,3}.*`, `.residual.{0,1}.*`, `edge_importance.{i}`)
and `BarlowTwinsHead().state_dict()` exactly PSTL's `BTwins` keys (`projector.{0,1,3,4,6}.*`,
`bn.*`).

It is used only to make the parity fixtures (`make_model_fixtures.py`) and to time PyTorch
(`bench_pretrain.py`):

    pip install torch safetensors numpy
    python3 tools/reference/asma_reference.py      # self-checks (graph, parameter count, shapes)
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NUM_JOINTS = 25
CENTER = 20  # J21 spine shoulder, 0-based (§3.1)
# §3.1: the 24 undirected edges of layout `ntu-rgb+d`, 1-based.
NTU_EDGES_1BASED = [
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
    (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
    (20, 19), (22, 23), (23, 8), (24, 25), (25, 12),
]
ENCODER_PARAMS = 821_380  # §3.5


class Graph:
    """`ntu-rgb+d` layout, `spatial` strategy, max_hop = 1, dilation = 1 (§3.1).

    `A` is (3, 25, 25) float32 indexed [k, source v, target w]; y[w] = Σ_v x[v]·A[k, v, w].
    """

    def __init__(self):
        V = NUM_JOINTS
        adj = np.zeros((V, V))
        for i, j in NTU_EDGES_1BASED:
            adj[i - 1, j - 1] = adj[j - 1, i - 1] = 1
        # §3.1 step 1: hop ∈ {0, 1, ∞}; with max_hop = 1 every longer distance is ∞.
        hop = np.full((V, V), np.inf)
        hop[adj > 0] = 1
        np.fill_diagonal(hop, 0)
        self.hop = hop
        self.degree = adj.sum(axis=0).astype(int)
        # Step 2: Â = 1 where hop ≤ 1, column-normalised: Â_n[v, w] = Â[v, w] / (deg(w) + 1).
        a_hat = (hop <= 1).astype(np.float64)
        a_norm = a_hat / a_hat.sum(axis=0, keepdims=True)
        # Step 3: spatial partition on d(·) = hop(·, centre); ∞ == ∞ counts as equal.
        d = hop[:, CENTER]
        A = np.zeros((3, V, V))
        for v in range(V):  # source
            for w in range(V):  # target
                if hop[v, w] == 0:
                    A[0, v, w] = a_norm[v, w]
                elif hop[v, w] == 1:
                    # root (d(v) = d(w)) and "close" (d(v) > d(w)) go to A1, "further" to A2
                    A[1 if d[v] >= d[w] else 2, v, w] = a_norm[v, w]
        self.A = A.astype(np.float32)


class GraphConv(nn.Module):
    """1×1 conv in → K·out (with bias), then y[n,c,t,w] = Σ_k Σ_v z[n,k,c,t,v]·Ã_k[v,w] (§3.2).

    The bias is added before the graph product, as PSTL's ConvTemporalGraphical does.
    """

    def __init__(self, in_channels, out_channels, k=3):
        super().__init__()
        self.k = k
        self.conv = nn.Conv2d(in_channels, out_channels * k, kernel_size=1)

    def forward(self, x, A):
        z = self.conv(x)
        n, kc, t, v = z.shape
        z = z.view(n, self.k, kc // self.k, t, v)
        return torch.einsum('nkctv,kvw->nctw', z, A).contiguous()


class StgcnBlock(nn.Module):
    """One ST-GCN block (§3.2). `residual` ∈ {'none', 'identity', 'conv'} is derived as in §3.2."""

    def __init__(self, in_channels, out_channels, stride=1, dropout=0.0, residual=True):
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels)
        # Temporal unit: BN2d → ReLU → Conv(9×1, stride (s,1), pad (4,0)) → BN2d → Dropout.
        # Indices 0..4 give the PSTL keys tcn.0.* (BN), tcn.2.* (conv), tcn.3.* (BN).
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout),
        )
        if not residual:
            self.residual_kind = 'none'
        elif in_channels == out_channels and stride == 1:
            self.residual_kind = 'identity'
        else:
            self.residual_kind = 'conv'
            # keys residual.0.* (1×1 conv, stride (s,1), bias) and residual.1.* (BN2d)
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x, A):
        if self.residual_kind == 'none':
            res = 0
        elif self.residual_kind == 'identity':
            res = x
        else:
            res = self.residual(x)
        return F.relu(self.tcn(self.gcn(x, A)) + res)


class StgcnEncoder(nn.Module):
    """PSTL's ST-GCN encoder (§3.3 layer table, §3.4 forward). Output (N, hidden_dim)."""

    def __init__(self, in_channels=3, hidden_channels=16, hidden_dim=256,
                 edge_importance=True, dropout=0.5, layout=None):
        super().__init__()
        self.register_buffer('A', torch.tensor(Graph().A))
        V = self.A.shape[1]
        self.data_bn = nn.BatchNorm1d(in_channels * V)  # 75 channels, index v·3 + c
        h = hidden_channels
        # (in, out, stride); block 1 has no residual and no dropout (§3.3).
        table = [(in_channels, h, 1), (h, h, 1), (h, h, 1), (h, h, 1), (h, 2 * h, 2),
                 (2 * h, 2 * h, 1), (2 * h, 2 * h, 1), (2 * h, 4 * h, 2), (4 * h, 4 * h, 1),
                 (4 * h, hidden_dim, 1)]
        if layout:
            # `[out, stride]` per block (the distillation student, §8), as StgcnEncoderConfig.layout.
            widths = [in_channels] + [o for o, _ in layout]
            table = [(widths[b], o, s) for b, (o, s) in enumerate(layout)]
        self.hidden_dim = table[-1][1]
        self.st_gcn_networks = nn.ModuleList(
            StgcnBlock(i, o, s, dropout=0.0 if b == 0 else dropout, residual=b > 0)
            for b, (i, o, s) in enumerate(table))
        if edge_importance:
            self.edge_importance = nn.ParameterList(
                nn.Parameter(torch.ones(self.A.shape)) for _ in self.st_gcn_networks)
        else:
            self.edge_importance = None

    def forward_map(self, x, keep_joints=None):
        """Block-10 map (N·M, hidden_dim, T', V') before pooling (§3.4 steps 1–3)."""
        N, C, T, V, M = x.shape
        # Step 1: data BN over (N·M, V·C = 75, T); persons folded into the batch.
        x = x.permute(0, 4, 3, 1, 2).reshape(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N * M, V, C, T).permute(0, 2, 3, 1).contiguous()  # (N·M, C, T, V)
        # Step 2: joint removal, on the data after data BN and on every layer's Ã.
        if keep_joints is not None:
            keep = torch.as_tensor(list(keep_joints), dtype=torch.long)
            assert bool((keep[1:] > keep[:-1]).all()), 'keep_joints must be ascending'
            x = x[:, :, :, keep]
        for b, block in enumerate(self.st_gcn_networks):
            # Edge importance on the full 25×25 first, then restrict rows and columns;
            # no re-normalisation.
            A = self.A if self.edge_importance is None else self.A * self.edge_importance[b]
            if keep_joints is not None:
                A = A[:, keep][:, :, keep]
            x = block(x, A)
        return x

    def forward(self, x, keep_joints=None):
        """x (N, 3, T, 25, M) → (N, hidden_dim): pool over (T', V'), then mean over M (§3.4 step 4)."""
        N, M = x.shape[0], x.shape[4]
        y = self.forward_map(x, keep_joints)
        return y.mean(dim=(2, 3)).view(N, M, -1).mean(dim=1)


def keep_from_removed(removed, num_joints=NUM_JOINTS):
    """Ascending 0-based indices of the joints that remain after removing `removed`."""
    removed = set(int(j) for j in removed)
    return [j for j in range(num_joints) if j not in removed]


def barlow_twins_loss(z1, z2, lam=2e-4, eps=1e-5):
    """§6.1: BN1d(affine=False) in training mode on each batch separately (biased variance,
    eps 1e-5), C = ẑ1ᵀẑ2 / N, loss = Σ_i (C_ii − 1)² + λ Σ_{i≠j} C_ij²."""
    n = z1.shape[0]
    z1 = F.batch_norm(z1, None, None, training=True, eps=eps)
    z2 = F.batch_norm(z2, None, None, training=True, eps=eps)
    c = z1.T @ z2 / n
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on_diag + lam * off_diag


class BarlowTwinsHead(nn.Module):
    """PSTL's `BTwins` (§6.1): Linear(no bias) → BN1d → ReLU → Linear(no bias) → BN1d → ReLU →
    Linear(no bias). Keys: projector.0.weight, projector.1.*, projector.3.weight, projector.4.*,
    projector.6.weight, and bn.{running_mean,running_var,num_batches_tracked} (the affine-free
    BN of the loss; PSTL keeps it as a module, its running statistics are never used)."""

    def __init__(self, in_dim=256, dims=(6144, 6144, 6144), lam=2e-4):
        super().__init__()
        d1, d2, d3 = dims
        self.projector = nn.Sequential(
            nn.Linear(in_dim, d1, bias=False), nn.BatchNorm1d(d1), nn.ReLU(),
            nn.Linear(d1, d2, bias=False), nn.BatchNorm1d(d2), nn.ReLU(),
            nn.Linear(d2, d3, bias=False),
        )
        self.bn = nn.BatchNorm1d(d3, affine=False)
        self.lam = lam

    def forward(self, feat1, feat2):
        """BT loss between the projections of two feature batches (PSTL `BTwins.forward`)."""
        return barlow_twins_loss(self.projector(feat1), self.projector(feat2), self.lam)


class CrossAttention(nn.Module):
    """One direction of the alignment (§7.1): queries from one encoder's tokens, keys and
    values from the other's; single head, residual, no output projection."""

    def __init__(self, dim=256):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, query, context):
        d = query.shape[-1]
        att = torch.softmax(self.q(query) @ self.k(context).transpose(1, 2) / d ** 0.5, dim=2)
        return query + att @ self.v(context)


class FeatureAlignment(nn.Module):
    """§7.1: θ←φ and φ←θ cross-attention, mean over tokens, concatenation → (N, 2·dim)."""

    def __init__(self, dim=256):
        super().__init__()
        self.theta = CrossAttention(dim)
        self.phi = CrossAttention(dim)

    def forward(self, x_theta, x_phi):
        h_theta = self.theta(x_theta, x_phi)
        h_phi = self.phi(x_phi, x_theta)
        return torch.cat([h_theta.mean(dim=1), h_phi.mean(dim=1)], dim=1)


def tokens(feature_map, persons):
    """Block-10 map (N·M, d, T', V) → (N, T'·V, d), averaged over the M persons."""
    nm, d, t, v = feature_map.shape
    return feature_map.view(nm // persons, persons, d, t * v).mean(dim=1).transpose(1, 2)


class ClassifierHead(nn.Module):
    """Alignment (or, with fusion='average', the mean of the pooled features) + Linear."""

    def __init__(self, num_classes, dim=256, fusion='cross_attention'):
        super().__init__()
        self.align = FeatureAlignment(dim) if fusion == 'cross_attention' else None
        self.fc = nn.Linear(2 * dim if self.align is not None else dim, num_classes)
        nn.init.xavier_normal_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)


class AsmaClassifier(nn.Module):
    """§7: f_θ, f_φ, the head. Keys: encoder_theta.*, encoder_phi.*, head.align.*, head.fc.*"""

    def __init__(self, num_classes, fusion='cross_attention', **encoder_kwargs):
        super().__init__()
        self.encoder_theta = StgcnEncoder(**encoder_kwargs)
        self.encoder_phi = StgcnEncoder(**encoder_kwargs)
        self.head = ClassifierHead(num_classes, self.encoder_theta.hidden_dim, fusion)

    def features(self, x):
        m = x.shape[4]
        if self.head.align is not None:
            return self.head.align(tokens(self.encoder_theta.forward_map(x), m),
                                   tokens(self.encoder_phi.forward_map(x), m))
        return (self.encoder_theta(x) + self.encoder_phi(x)) / 2

    def forward(self, x):
        return self.head.fc(self.features(x))


def student_layout(depth=5):
    """`StgcnEncoderConfig::student(depth)`: 32, 32, 64, 64, … at stride 1, then 64 at stride 2."""
    widths = [32, 32, 64, 64, 64, 64, 64, 64, 64]
    return [(w, 1) for w in widths[:depth - 1]] + [(64, 2)]


class StudentClassifier(nn.Module):
    """§8: the S5 student (or another depth) and its head. Keys: encoder.*, fc.*"""

    def __init__(self, num_classes, depth=5):
        super().__init__()
        self.encoder = StgcnEncoder(layout=student_layout(depth))
        self.fc = nn.Linear(self.encoder.hidden_dim, num_classes)

    def forward(self, x):
        return self.fc(self.encoder(x))


def count_params(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _self_check():
    g = Graph()
    A = g.A
    assert [int((A[k] != 0).sum()) for k in range(3)] == [25, 40, 8]
    assert np.allclose(A.sum(axis=(0, 1)), 1.0)
    assert g.degree.tolist() == [3, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 1,
                                 4, 1, 2, 1, 2]
    assert abs(A[0, 20, 20] - 0.2) < 1e-7 and abs(A[0, 3, 3] - 0.5) < 1e-7
    a2 = sorted((v + 1, w + 1) for v, w in zip(*np.nonzero(A[2])))
    assert a2 == [(2, 1), (3, 4), (5, 6), (9, 10), (21, 2), (21, 3), (21, 5), (21, 9)], a2
    enc = StgcnEncoder()
    assert count_params(enc) == ENCODER_PARAMS, count_params(enc)
    assert count_params(BarlowTwinsHead()) == 77_094_912
    enc.eval()
    with torch.no_grad():
        x = torch.randn(2, 3, 50, 25, 2)
        assert enc(x).shape == (2, 256)
        assert enc.forward_map(x).shape == (4, 256, 13, 25)
        assert enc.forward_map(x[:, :, :30]).shape == (4, 256, 8, 25)
        assert enc(x, keep_from_removed([3, 7, 11])).shape == (2, 256)
    print('asma_reference self-check OK:', ENCODER_PARAMS, 'encoder parameters')


if __name__ == '__main__':
    _self_check()
