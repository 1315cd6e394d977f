//! A graph under construction: nodes in topological order (each is appended after its
//! inputs exist), initializers, and fresh value names. Int64 shape/axes constants are shared
//! by value, so the many identical Reshape targets of a deep encoder cost one initializer.

use std::collections::HashMap;

use super::messages::{node, tensor_f32, tensor_i64, Attr};
use super::proto::Msg;

#[derive(Default)]
pub struct Builder {
    pub nodes: Vec<Msg>,
    pub initializers: Vec<Msg>,
    next: usize,
    shapes: HashMap<Vec<i64>, String>,
}

impl Builder {
    fn fresh(&mut self, hint: &str) -> String {
        self.next += 1;
        format!("{hint}_{}", self.next)
    }

    /// An f32 initializer; returns its name.
    pub fn weight(&mut self, hint: &str, dims: &[usize], data: &[f32]) -> String {
        let name = self.fresh(hint);
        self.initializers.push(tensor_f32(&name, dims, data));
        name
    }

    /// A 1-D int64 initializer (a Reshape target), shared between equal values.
    fn ints(&mut self, values: &[i64]) -> String {
        if let Some(name) = self.shapes.get(values) {
            return name.clone();
        }
        let name = self.fresh("shape");
        self.initializers
            .push(tensor_i64(&name, &[values.len()], values));
        self.shapes.insert(values.to_vec(), name.clone());
        name
    }

    /// Appends `op` writing the value `out`.
    pub fn op_into(&mut self, op: &str, out: &str, inputs: &[&str], attrs: &[(&str, Attr)]) {
        let name = format!("{op}_{}", self.nodes.len());
        self.nodes.push(node(op, &name, inputs, &[out], attrs));
    }

    /// Appends `op`; returns the name of its (single) output.
    pub fn op(&mut self, op: &str, hint: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(hint);
        self.op_into(op, &out, inputs, attrs);
        out
    }

    pub fn reshape(&mut self, x: &str, shape: &[i64]) -> String {
        let target = self.ints(shape);
        self.op("Reshape", "reshape", &[x, &target], &[])
    }

    pub fn transpose(&mut self, x: &str, perm: &[i64]) -> String {
        self.op(
            "Transpose",
            "transpose",
            &[x],
            &[("perm", Attr::Ints(perm.to_vec()))],
        )
    }

    /// ReduceMean with `axes` as an attribute (opset ≤ 17).
    pub fn mean(&mut self, x: &str, axes: &[i64], keepdims: bool) -> String {
        let attrs = [
            ("axes", Attr::Ints(axes.to_vec())),
            ("keepdims", Attr::Int(i64::from(keepdims))),
        ];
        self.op("ReduceMean", "mean", &[x], &attrs)
    }

    pub fn binary(&mut self, op: &str, a: &str, b: &str) -> String {
        self.op(op, &op.to_lowercase(), &[a, b], &[])
    }

    pub fn relu(&mut self, x: &str) -> String {
        self.op("Relu", "relu", &[x], &[])
    }
}
