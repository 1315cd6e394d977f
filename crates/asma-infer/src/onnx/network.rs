//! The folded classifier as ONNX nodes: the same maths as `encoder.rs`, `head.rs` and
//! `model.rs`, on the whole batch at once with PyTorch's layouts (`(N·M, C, T, V)` maps, as
//! the burn and AimCLR encoders reshape them).

use asma_skeleton::NTU25;

use super::graph::Builder;
use super::messages::Attr;
use crate::encoder::{BlockWeights, Encoder, Residual};
use crate::head::{CrossAttention, Linear};
use crate::model::{Body, Classifier};

pub const INPUT: &str = "skeleton";
pub const OUTPUT: &str = "logits";

/// `(N·M, C, T, V)` → block-last map `(N·M, D, T', V)` and `T'`. No person is skipped: the
/// CPU path's cache of an absent body is an optimisation with the same result.
fn encoder(b: &mut Builder, e: &Encoder, tag: &str, x: &str, frames: usize) -> (String, usize) {
    let v = NTU25.num_joints();
    let (c, scale, shift) = e.data_bn();
    // Data-BN is indexed `v·C + c`; the maps are `(C, V)` per frame.
    let per_channel =
        |p: &[f32]| -> Vec<f32> { (0..c * v).map(|i| p[(i % v) * c + i / v]).collect() };
    let s = b.weight(
        &format!("{tag}.data_bn.scale"),
        &[1, c, 1, v],
        &per_channel(scale),
    );
    let t = b.weight(
        &format!("{tag}.data_bn.shift"),
        &[1, c, 1, v],
        &per_channel(shift),
    );
    let h = b.binary("Mul", x, &s);
    let mut h = b.binary("Add", &h, &t);
    let mut frames = frames;
    for (i, w) in e.block_weights().iter().enumerate() {
        h = block(b, w, &format!("{tag}.block{i}"), &h, frames);
        frames = (frames - 1) / w.stride + 1;
    }
    (h, frames)
}

/// One ST-GCN block, `(N·M, C_in, T, V)` → `(N·M, C_out, T', V)`.
fn block(b: &mut Builder, w: &BlockWeights, tag: &str, x: &str, t: usize) -> String {
    let v = NTU25.num_joints();
    let k = w.a.len() / (v * v);
    let (ci, co) = (w.c_in, w.c_out);
    let (kv, t_i, v_i, co_i) = ((k * v) as i64, t as i64, v as i64, co as i64);
    // Graph convolution: 1×1 conv to K·C_out channels, then Σ_k z_k Ã_k as one fixed MatMul
    // over the (k, v) pairs: the (K, V, V) adjacency flattened is the (K·V, V) right factor.
    let gw = b.weight(&format!("{tag}.gcn.weight"), &[k * co, ci, 1, 1], &w.gcn_w);
    let z = b.op(
        "Conv",
        &format!("{tag}.gcn.conv"),
        &[x, &gw],
        &[("kernel_shape", Attr::Ints(vec![1, 1]))],
    );
    let z = b.reshape(&z, &[-1, k as i64, co_i, t_i, v_i]);
    let z = b.transpose(&z, &[0, 2, 3, 1, 4]);
    let z = b.reshape(&z, &[-1, co_i, t_i, kv]);
    let a = b.weight(&format!("{tag}.gcn.adjacency"), &[k * v, v], w.a);
    let y = b.binary("MatMul", &z, &a);
    let bias = b.weight(&format!("{tag}.gcn.bias"), &[1, co, 1, v], w.gcn_bias);
    let y = b.binary("Add", &y, &bias);
    let y = b.relu(&y);

    let s = w.stride as i64;
    let pad = ((w.kernel - 1) / 2) as i64;
    let tw = b.weight(
        &format!("{tag}.tcn.weight"),
        &[co, co, w.kernel, 1],
        &w.tcn_w,
    );
    let tb = b.weight(&format!("{tag}.tcn.bias"), &[co], w.out_bias);
    let attrs = [
        ("kernel_shape", Attr::Ints(vec![w.kernel as i64, 1])),
        ("pads", Attr::Ints(vec![pad, 0, pad, 0])),
        ("strides", Attr::Ints(vec![s, 1])),
    ];
    let out = b.op("Conv", &format!("{tag}.tcn"), &[&y, &tw, &tb], &attrs);
    let out = match w.residual {
        Residual::None => out,
        Residual::Identity => b.binary("Add", &out, x),
        Residual::Conv(rw) => {
            // Its bias and BatchNorm shift are already in the temporal bias.
            let r = b.weight(&format!("{tag}.residual.weight"), &[co, ci, 1, 1], rw);
            let attrs = [
                ("kernel_shape", Attr::Ints(vec![1, 1])),
                ("strides", Attr::Ints(vec![s, 1])),
            ];
            let res = b.op("Conv", &format!("{tag}.residual"), &[x, &r], &attrs);
            b.binary("Add", &out, &res)
        }
    };
    b.relu(&out)
}

/// Map `(N·M, D, T', V)` → `(N, D)`: the mean over (T', V), then over the persons.
fn pooled(b: &mut Builder, map: &str, persons: usize, d: usize) -> String {
    let p = b.mean(map, &[2, 3], false);
    let p = b.reshape(&p, &[-1, persons as i64, d as i64]);
    b.mean(&p, &[1], false)
}

/// Map `(N·M, D, T', V)` → tokens `(N, T'·V, D)` averaged over the persons.
fn tokens(b: &mut Builder, map: &str, persons: usize, d: usize, frames: usize) -> String {
    let l = frames * NTU25.num_joints();
    let x = b.reshape(map, &[-1, persons as i64, d as i64, l as i64]);
    let x = b.mean(&x, &[1], false);
    b.transpose(&x, &[0, 2, 1])
}

/// `x (…, d_in)` → `x Wᵀ + b`: Wᵀ is stored transposed so that one MatMul serves any rank.
fn linear(b: &mut Builder, lin: &Linear, tag: &str, x: &str) -> String {
    let (i, o) = (lin.d_in, lin.d_out);
    let wt: Vec<f32> = (0..i * o)
        .map(|n| lin.weight[(n % o) * i + n / o])
        .collect();
    let w = b.weight(&format!("{tag}.weight_t"), &[i, o], &wt);
    let bias = b.weight(&format!("{tag}.bias"), &[o], &lin.bias);
    let y = b.binary("MatMul", x, &w);
    b.binary("Add", &y, &bias)
}

/// One direction of the alignment: `query (N, L, d)`, `context (N, L', d)` → the mean over
/// L of `query + softmax(QKᵀ/√d)·V`, `(N, d)`.
fn attend(
    b: &mut Builder,
    ca: &CrossAttention,
    tag: &str,
    query: &str,
    context: &str,
    d: usize,
) -> String {
    let q = linear(b, &ca.q, &format!("{tag}.q"), query);
    let k = linear(b, &ca.k, &format!("{tag}.k"), context);
    let v = linear(b, &ca.v, &format!("{tag}.v"), context);
    let kt = b.transpose(&k, &[0, 2, 1]);
    let scores = b.binary("MatMul", &q, &kt);
    let scale = b.weight(&format!("{tag}.scale"), &[], &[1.0 / (d as f32).sqrt()]);
    let scores = b.binary("Mul", &scores, &scale);
    let p = b.op(
        "Softmax",
        &format!("{tag}.softmax"),
        &[&scores],
        &[("axis", Attr::Int(-1))],
    );
    let h = b.binary("MatMul", &p, &v);
    let h = b.binary("Add", &h, query);
    b.mean(&h, &[1], false)
}

/// The whole classifier: `skeleton (N, C, T, V, M)` → `logits (N, classes)`.
pub fn classifier(
    b: &mut Builder,
    model: &Classifier,
    in_channels: usize,
    frames: usize,
    persons: usize,
) {
    let v = NTU25.num_joints() as i64;
    let x = b.transpose(INPUT, &[0, 4, 1, 2, 3]);
    let x = b.reshape(&x, &[-1, in_channels as i64, frames as i64, v]);
    let features = match &model.body {
        Body::Student(e) => {
            let (map, _) = encoder(b, e, "encoder", &x, frames);
            pooled(b, &map, persons, e.dim)
        }
        Body::Teacher {
            theta,
            phi,
            align: None,
        } => {
            let (a, _) = encoder(b, theta, "theta", &x, frames);
            let (c, _) = encoder(b, phi, "phi", &x, frames);
            let a = pooled(b, &a, persons, theta.dim);
            let c = pooled(b, &c, persons, phi.dim);
            let sum = b.binary("Add", &a, &c);
            let half = b.weight("half", &[], &[0.5]);
            b.binary("Mul", &sum, &half)
        }
        Body::Teacher {
            theta,
            phi,
            align: Some(align),
        } => {
            let (a, fa) = encoder(b, theta, "theta", &x, frames);
            let (c, fc) = encoder(b, phi, "phi", &x, frames);
            let a = tokens(b, &a, persons, theta.dim, fa);
            let c = tokens(b, &c, persons, phi.dim, fc);
            let ha = attend(b, &align.theta, "align.theta", &a, &c, align.dim);
            let hc = attend(b, &align.phi, "align.phi", &c, &a, align.dim);
            b.op("Concat", "features", &[&ha, &hc], &[("axis", Attr::Int(1))])
        }
    };
    let fc = &model.fc;
    let w = b.weight("fc.weight", &[fc.d_out, fc.d_in], &fc.weight);
    let bias = b.weight("fc.bias", &[fc.d_out], &fc.bias);
    b.op_into(
        "Gemm",
        OUTPUT,
        &[&features, &w, &bias],
        &[("transB", Attr::Int(1))],
    );
}
