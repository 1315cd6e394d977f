//! Weights in and out by PyTorch `state_dict` names, so PSTL/AimCLR checkpoints load as they
//! are and asma's checkpoints load in PyTorch.
//!
//! Reading: `.safetensors` (the `safetensors` crate, which burn reads with too) or a PyTorch
//! `.pt` / `.pth` / `.pth.tar` (burn's pickle-free `pytorch-reader`), the module's prefix found
//! by its anchor key (e.g. `module.encoder_q.` before `data_bn.weight`), buffers PyTorch keeps
//! but burn derives (`A`, `num_batches_tracked`) set aside, then applied through burn-store with
//! PyTorch's BatchNorm/Linear conventions and the `nn.Sequential` index renames. Missing and
//! unexpected keys are errors that list them by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::store::{
    BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::error::ModelError;

/// `(PyTorch pattern, burn path)`: `nn.Sequential` indices ↔ asma's field names.
const TORCH_TO_BURN: [(&str, &str); 21] = [
    // SkeletonCLR (`crate::moco`) and CrosSCLR's streams (`crate::crossclr`): the reference
    // nests the head in the encoder.
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.(data_bn|st_gcn_networks|edge_importance)\.",
        "encoder_${1}.encoder.${2}.",
    ),
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.fc\.0\.",
        "encoder_${1}.fc.lin0.",
    ),
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.fc\.2\.",
        "encoder_${1}.fc.lin2.",
    ),
    // MS²L's projectors (`crate::ms2l`): `classifier = nn.Sequential(Linear, BN, ReLU, Linear)`.
    (r"^(jigsaw_head|contra_head)\.classifier\.0\.", "${1}.lin0."),
    (r"^(jigsaw_head|contra_head)\.classifier\.1\.", "${1}.bn1."),
    (r"^(jigsaw_head|contra_head)\.classifier\.3\.", "${1}.lin3."),
    (r"\.tcn\.0\.", ".tcn.bn_in."),
    (r"\.tcn\.2\.", ".tcn.conv."),
    (r"\.tcn\.3\.", ".tcn.bn_out."),
    (r"\.residual\.0\.", ".residual.conv."),
    (r"\.residual\.1\.", ".residual.bn."),
    (r"(^|\.)projector\.0\.", "${1}projector.lin0."),
    (r"(^|\.)projector\.1\.", "${1}projector.bn1."),
    (r"(^|\.)projector\.3\.", "${1}projector.lin3."),
    (r"(^|\.)projector\.4\.", "${1}projector.bn4."),
    (r"(^|\.)projector\.6\.", "${1}projector.lin6."),
    // A projector loaded on its own (prefix `projector.` stripped).
    (r"^0\.", "lin0."),
    (r"^1\.", "bn1."),
    (r"^3\.", "lin3."),
    (r"^4\.", "bn4."),
    (r"^6\.", "lin6."),
];

const BURN_TO_TORCH: [(&str, &str); 21] = [
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.encoder\.",
        "encoder_${1}.",
    ),
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.fc\.lin0\.",
        "encoder_${1}.fc.0.",
    ),
    (
        r"^encoder_([qk](?:_motion|_bone)?)\.fc\.lin2\.",
        "encoder_${1}.fc.2.",
    ),
    (r"^(jigsaw_head|contra_head)\.lin0\.", "${1}.classifier.0."),
    (r"^(jigsaw_head|contra_head)\.bn1\.", "${1}.classifier.1."),
    (r"^(jigsaw_head|contra_head)\.lin3\.", "${1}.classifier.3."),
    (r"\.tcn\.bn_in\.", ".tcn.0."),
    (r"\.tcn\.conv\.", ".tcn.2."),
    (r"\.tcn\.bn_out\.", ".tcn.3."),
    (r"\.residual\.conv\.", ".residual.0."),
    (r"\.residual\.bn\.", ".residual.1."),
    (r"(^|\.)projector\.lin0\.", "${1}projector.0."),
    (r"(^|\.)projector\.bn1\.", "${1}projector.1."),
    (r"(^|\.)projector\.lin3\.", "${1}projector.3."),
    (r"(^|\.)projector\.bn4\.", "${1}projector.4."),
    (r"(^|\.)projector\.lin6\.", "${1}projector.6."),
    (r"^lin0\.", "0."),
    (r"^bn1\.", "1."),
    (r"^lin3\.", "3."),
    (r"^bn4\.", "4."),
    (r"^lin6\.", "6."),
];

/// A tensor read from a weight file, as f32.
#[derive(Debug, Clone)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// What a load did.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadReport {
    /// The prefix stripped from the file's keys (`""` when none).
    pub prefix: String,
    /// Tensors applied.
    pub loaded: usize,
    /// Keys under the prefix set aside as buffers asma derives itself.
    pub ignored: Vec<String>,
}

fn err(path: &Path, msg: impl Into<String>) -> ModelError {
    ModelError::Weights {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Every floating-point tensor of a `.safetensors` or PyTorch file, by key.
pub fn read_tensors(path: &Path) -> Result<BTreeMap<String, RawTensor>, ModelError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".safetensors") {
        let bytes = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
        read_safetensors(&bytes).map_err(|m| err(path, m))
    } else {
        read_pytorch(path)
    }
}

fn read_pytorch(path: &Path) -> Result<BTreeMap<String, RawTensor>, ModelError> {
    use burn::store::pytorch_reader::{DType, PytorchReader};
    // Nested dictionaries (`{'state_dict': {...}}`) come back flattened with dotted keys;
    // the prefix search then finds `state_dict.module.encoder_q.` like any other prefix.
    let reader = PytorchReader::new(path)
        .map_err(|e| err(path, format!("not a readable PyTorch checkpoint: {e}")))?;
    let mut out = BTreeMap::new();
    for (key, t) in reader.into_tensors() {
        let bytes = t
            .read()
            .map_err(|e| err(path, format!("tensor {key}: {e}")))?;
        let width = match t.dtype() {
            DType::F32 => 4,
            DType::F64 => 8,
            DType::F16 => 2,
            _ => continue, // integer buffers (num_batches_tracked)
        };
        let data = decode_floats(&bytes, width);
        out.insert(
            key,
            RawTensor {
                shape: t.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// Little-endian floats of `width` bytes (2: f16, 4: f32, 8: f64) as f32.
fn decode_floats(bytes: &[u8], width: usize) -> Vec<f32> {
    bytes
        .chunks_exact(width)
        .map(|b| match width {
            2 => burn::tensor::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            4 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
        })
        .collect()
}

/// Every floating-point tensor of safetensors bytes (integer buffers skipped), parsed and
/// checked by the `safetensors` crate (header, offsets, the file's whole length).
pub fn read_safetensors(bytes: &[u8]) -> Result<BTreeMap<String, RawTensor>, String> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|e| format!("truncated or not a safetensors file: {e}"))?;
    let mut out = BTreeMap::new();
    for (key, view) in file.tensors() {
        let width = match view.dtype() {
            Dtype::F32 => 4,
            Dtype::F64 => 8,
            Dtype::F16 => 2,
            _ => continue, // integer buffers
        };
        let data = decode_floats(view.data(), width);
        out.insert(
            key,
            RawTensor {
                shape: view.shape().to_vec(),
                data,
            },
        );
    }
    Ok(out)
}

/// Writes f32 tensors as safetensors bytes (the `safetensors` crate's layout: keys sorted,
/// header padded to 8 bytes).
pub fn write_safetensors(tensors: &BTreeMap<String, RawTensor>) -> Vec<u8> {
    let bytes: Vec<(&String, &[usize], Vec<u8>)> = tensors
        .iter()
        .map(|(k, t)| {
            let b = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (k, t.shape.as_slice(), b)
        })
        .collect();
    let views = bytes.iter().map(|(k, shape, b)| {
        let view = TensorView::new(Dtype::F32, shape.to_vec(), b)
            .expect("a RawTensor's values fill its shape");
        (k.as_str(), view)
    });
    safetensors::serialize(views, None).expect("f32 tensors serialise")
}

/// True for PyTorch buffers asma derives itself rather than loads: the graph `A`, the
/// BatchNorm step counters, and the statistics of PSTL's affine-free loss BatchNorm (`bn.*`,
/// which the loss never reads: it standardises with batch statistics).
fn is_derived_buffer(key: &str) -> bool {
    key == "A"
        || key.ends_with(".A")
        || key.ends_with("num_batches_tracked")
        || key.starts_with("bn.running_")
        || key == "queue_ptr"
}

/// The prefix in front of `anchor` (e.g. `module.encoder_q.` in front of `data_bn.weight`).
/// With several candidates, `prefix` must choose.
pub fn find_prefix(
    keys: &[&str],
    anchor: &str,
    prefix: Option<&str>,
    path: &Path,
) -> Result<String, ModelError> {
    let candidates: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.strip_suffix(anchor))
        .filter(|p| p.is_empty() || p.ends_with('.'))
        .collect();
    if let Some(p) = prefix {
        let p = if p.is_empty() || p.ends_with('.') {
            p.to_string()
        } else {
            format!("{p}.")
        };
        return if candidates.contains(&p.as_str()) {
            Ok(p)
        } else {
            Err(err(
                path,
                format!("no '{p}{anchor}' in the file (prefixes found: {candidates:?})"),
            ))
        };
    }
    match candidates.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(err(
            path,
            format!(
                "no '{anchor}' key: not a checkpoint of this model (keys: {})",
                preview(keys)
            ),
        )),
        many => Err(err(
            path,
            format!("several modules in the file (prefixes {many:?}); choose one with --prefix"),
        )),
    }
}

fn preview(keys: &[&str]) -> String {
    let mut s: Vec<&str> = keys.iter().take(6).copied().collect();
    if keys.len() > 6 {
        s.push("...");
    }
    s.join(", ")
}

/// Loads `module` from `path`; `anchor` is a key every checkpoint of this module has.
pub fn load_module<M: Module + ModuleSnapshot>(
    module: &mut M,
    path: &Path,
    anchor: &str,
    prefix: Option<&str>,
) -> Result<LoadReport, ModelError> {
    let tensors = read_tensors(path)?;
    let keys: Vec<&str> = tensors.keys().map(String::as_str).collect();
    let prefix = find_prefix(&keys, anchor, prefix, path)?;
    let mut kept = BTreeMap::new();
    let mut ignored = Vec::new();
    for (k, t) in &tensors {
        let Some(rest) = k.strip_prefix(prefix.as_str()) else {
            continue;
        };
        if is_derived_buffer(rest) {
            ignored.push(rest.to_string());
        } else {
            kept.insert(rest.to_string(), t.clone());
        }
    }
    let loaded = kept.len();
    let mut store = SafetensorsStore::from_bytes(Some(write_safetensors(&kept)))
        .with_from_adapter(PyTorchToBurnAdapter)
        .allow_partial(true)
        .validate(true);
    for (from, to) in TORCH_TO_BURN {
        store = store.with_key_remapping(from, to);
    }
    let result = module.load_from(&mut store).map_err(|e| {
        err(
            path,
            format!(
                "does not fit the model (prefix '{prefix}'): {}",
                shorten(&e.to_string())
            ),
        )
    })?;
    let mut problems = Vec::new();
    if !result.errors.is_empty() {
        problems.push(format!(
            "{} tensors do not fit: {}",
            result.errors.len(),
            result
                .errors
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !result.missing.is_empty() {
        let names: Vec<String> = result
            .missing
            .iter()
            .map(|(p, _)| to_torch_name(p))
            .collect();
        problems.push(format!("missing keys: {}", names.join(", ")));
    }
    if !result.unused.is_empty() {
        problems.push(format!(
            "unexpected keys: {}",
            result
                .unused
                .iter()
                .map(|p| to_torch_name(p))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !problems.is_empty() {
        return Err(err(
            path,
            format!(
                "does not fit the model (prefix '{prefix}'): {}",
                problems.join("; ")
            ),
        ));
    }
    Ok(LoadReport {
        prefix,
        loaded,
        ignored,
    })
}

/// The first 600 characters of a long message (burn lists every mismatching tensor).
fn shorten(msg: &str) -> String {
    match msg.char_indices().nth(600) {
        Some((i, _)) => format!("{} …", &msg[..i]),
        None => msg.to_string(),
    }
}

/// A burn path in PyTorch's naming (for messages), through the same rules that saving uses.
fn to_torch_name(path: &str) -> String {
    let rules =
        KeyRemapper::from_patterns(BURN_TO_TORCH.to_vec()).expect("the rules are valid regexes");
    let mut s = path.to_string();
    for (from, to) in rules.to_regex_pairs() {
        s = from.replace_all(&s, to.as_str()).into_owned();
    }
    s.replace(".gamma", ".weight").replace(".beta", ".bias")
}

/// Saves `module` as safetensors with PyTorch names and conventions, atomically.
pub fn save_module<M: Module + ModuleSnapshot>(module: &M, path: &Path) -> Result<(), ModelError> {
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    let _ = std::fs::remove_file(&tmp);
    let mut store = SafetensorsStore::from_file(&tmp).with_to_adapter(BurnToPyTorchAdapter);
    for (from, to) in BURN_TO_TORCH {
        store = store.with_key_remapping(from, to);
    }
    module
        .save_into(&mut store)
        .map_err(|e| err(path, e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| err(path, e.to_string()))
}
