//! Builders for the ONNX messages the export writes (field numbers from onnx/onnx.proto,
//! IR version 8): ModelProto, GraphProto, NodeProto, AttributeProto (INT, INTS),
//! TensorProto (f32 / int64 as little-endian `raw_data`) and ValueInfoProto with a tensor
//! type and shape. Only the fields asma needs are written.

use super::proto::Msg;

/// IR version 8 (ONNX 1.10+) is read by every onnxruntime since 1.10.
pub const IR_VERSION: i64 = 8;
/// Opset 17: ReduceMean still takes `axes` as an attribute (an input from 18 on) and Softmax
/// has the per-axis semantics of 13+.
pub const OPSET: i64 = 17;

/// `TensorProto.DataType`.
const FLOAT: i64 = 1;
const INT64: i64 = 7;

/// `AttributeProto.AttributeType` (no FLOAT: every float the graph needs is a tensor).
const ATTR_INT: i64 = 2;
const ATTR_INTS: i64 = 7;

/// A node attribute.
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
}

/// A dimension of a graph input or output.
pub enum Dim {
    Fixed(usize),
    /// Symbolic (`dim_param`), e.g. the batch size.
    Param(&'static str),
}

fn attribute(name: &str, value: &Attr) -> Msg {
    let mut a = Msg::new();
    a.string(1, name);
    match value {
        Attr::Int(i) => a.int(3, *i).int(20, ATTR_INT),
        Attr::Ints(v) => a.packed_ints(8, v).int(20, ATTR_INTS),
    };
    a
}

/// NodeProto: `op_type` in the default domain.
pub fn node(
    op: &str,
    name: &str,
    inputs: &[&str],
    outputs: &[&str],
    attrs: &[(&str, Attr)],
) -> Msg {
    let mut n = Msg::new();
    for i in inputs {
        n.string(1, i);
    }
    for o in outputs {
        n.string(2, o);
    }
    n.string(3, name).string(4, op);
    for (key, value) in attrs {
        n.message(5, &attribute(key, value));
    }
    n
}

fn tensor(name: &str, dims: &[usize], data_type: i64, raw: &[u8]) -> Msg {
    let dims: Vec<i64> = dims.iter().map(|&d| d as i64).collect();
    let mut t = Msg::new();
    t.packed_ints(1, &dims)
        .int(2, data_type)
        .string(8, name)
        .raw(9, raw);
    t
}

/// TensorProto of f32 (an initializer).
pub fn tensor_f32(name: &str, dims: &[usize], data: &[f32]) -> Msg {
    debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, dims, FLOAT, &raw)
}

/// TensorProto of int64 (shapes for Reshape).
pub fn tensor_i64(name: &str, dims: &[usize], data: &[i64]) -> Msg {
    debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
    let raw: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensor(name, dims, INT64, &raw)
}

/// ValueInfoProto of an f32 tensor of the given shape.
pub fn value_info(name: &str, dims: &[Dim]) -> Msg {
    let mut shape = Msg::new();
    for d in dims {
        let mut dim = Msg::new();
        match d {
            Dim::Fixed(v) => dim.int(1, *v as i64),
            Dim::Param(p) => dim.string(2, p),
        };
        shape.message(1, &dim);
    }
    let mut tensor_type = Msg::new();
    tensor_type.int(1, FLOAT).message(2, &shape);
    let mut ty = Msg::new();
    ty.message(1, &tensor_type);
    let mut v = Msg::new();
    v.string(1, name).message(2, &ty);
    v
}

/// GraphProto.
pub fn graph(
    name: &str,
    nodes: &[Msg],
    initializers: &[Msg],
    inputs: &[Msg],
    outputs: &[Msg],
) -> Msg {
    let mut g = Msg::new();
    for n in nodes {
        g.message(1, n);
    }
    g.string(2, name);
    for t in initializers {
        g.message(5, t);
    }
    for i in inputs {
        g.message(11, i);
    }
    for o in outputs {
        g.message(12, o);
    }
    g
}

/// ModelProto around `graph`, serialized.
pub fn model(graph: &Msg) -> Vec<u8> {
    let mut opset = Msg::new();
    opset.string(1, "").int(2, OPSET);
    let mut m = Msg::new();
    m.int(1, IR_VERSION)
        .string(2, "asma")
        .string(3, env!("CARGO_PKG_VERSION"))
        .message(7, graph)
        .message(8, &opset);
    m.into_bytes()
}
