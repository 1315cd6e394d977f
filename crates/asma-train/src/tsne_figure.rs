//! The paper's distillation figure: t-SNE maps of the features of trained classifiers (e.g.
//! teacher vs student) on a prepared split, side by side in one PNG and in one SVG that names
//! the panels and the classes, with the 2-D coordinates in a CSV beside them (`asma tsne`).

use std::fmt::Write as _;
use std::path::PathBuf;

use asma_data::formats::labels::read_labels;
use asma_data::formats::npy::MmapNpy;
use asma_data::prepare::splits::Part;
use asma_infer::input::to_stream;
use asma_infer::Classifier;
use serde::Serialize;

use crate::error::TrainError;
use crate::plot::scatter_png;
use crate::svg::write_scatter_svg;
use crate::tsne::{tsne, TsneConfig};

/// What to map.
#[derive(Debug, Clone)]
pub struct TsneFigureOptions {
    /// Run directories of trained classifiers, one panel each (left to right).
    pub models: Vec<PathBuf>,
    /// A prepared split folder (`val_position.npy`, `val_label.pkl`).
    pub data: PathBuf,
    pub split: Part,
    /// At most this many samples, evenly spaced over the split.
    pub max_samples: usize,
    pub perplexity: f64,
    pub threads: usize,
    /// Output PNG; the SVG and the coordinates' CSV go to the same name.
    pub out: PathBuf,
}

/// One panel of the figure.
#[derive(Debug, Clone, Serialize)]
pub struct Panel {
    pub model: PathBuf,
    pub samples: usize,
    pub feature_dim: usize,
    /// The share of points whose nearest neighbour in the map has their class: how compact
    /// and separated the clusters are, as one number to compare panels by.
    pub same_class_neighbours: f64,
}

/// The files written and the panels, left to right.
#[derive(Debug, Clone, Serialize)]
pub struct TsneFigure {
    pub png: PathBuf,
    pub svg: PathBuf,
    pub csv: PathBuf,
    pub panels: Vec<Panel>,
}

/// Maps every model's features and writes the figure.
pub fn tsne_figure(o: &TsneFigureOptions) -> Result<TsneFigure, TrainError> {
    let p = o.split.prefix();
    let data = o.data.join(format!("{p}_position.npy"));
    let label_file = o.data.join(format!("{p}_label.pkl"));
    let npy = MmapNpy::open_skeleton(&data)?;
    let labels = read_labels(&label_file)?;
    if labels.len() != npy.len() {
        return Err(TrainError::Config(format!(
            "{}: {} labels for {} samples in {}",
            label_file.display(),
            labels.len(),
            npy.len(),
            data.display()
        )));
    }
    // An evenly spaced subset keeps every class represented and the O(n²) map quick.
    let n = npy.len().min(o.max_samples);
    let picked: Vec<usize> = (0..n).map(|i| i * npy.len() / n).collect();
    let picked_labels: Vec<usize> = picked.iter().map(|&i| labels.labels[i]).collect();
    let classes = labels.labels.iter().max().map_or(1, |&c| c + 1);
    let mut maps = Vec::new();
    let mut panels = Vec::new();
    let mut csv = String::from("model,sample,label,x,y\n");
    let mut first_names = None;
    for dir in &o.models {
        let model = Classifier::load(dir).and_then(|m| m.with_threads(o.threads))?;
        if first_names.is_none() {
            first_names = model.classes.clone();
        }
        let mut feats = Vec::new();
        let mut dim = 0;
        for &i in &picked {
            let seq = npy.sequence(i)?;
            let f = model.features(&to_stream(&seq, model.stream), seq.frames, seq.bodies)?;
            dim = f.len();
            feats.extend(f);
        }
        let cfg = TsneConfig {
            perplexity: o.perplexity.min((n as f64 - 1.0) / 3.0),
            ..Default::default()
        };
        let points = tsne(&feats, n, dim, &cfg)?;
        for (&i, p) in picked.iter().zip(&points) {
            let _ = writeln!(
                csv,
                "{},{},{},{},{}",
                dir.display(),
                labels.names[i],
                labels.labels[i],
                p[0],
                p[1]
            );
        }
        panels.push(Panel {
            model: dir.clone(),
            samples: n,
            feature_dim: dim,
            same_class_neighbours: same_class_neighbours(&points, &picked_labels),
        });
        maps.push((dir.display().to_string(), points));
    }
    let drawn: Vec<_> = maps
        .iter()
        .map(|(name, p)| (name.as_str(), p.as_slice(), picked_labels.as_slice()))
        .collect();
    scatter_png(&drawn, classes, &o.out)?;
    // The same figure with the panels' and the classes' names (the first model's list).
    let svg = o.out.with_extension("svg");
    write_scatter_svg(&drawn, classes, first_names.as_ref(), &svg)?;
    let csv_path = o.out.with_extension("csv");
    asma_data::write_atomic(&csv_path, csv.as_bytes())?;
    Ok(TsneFigure {
        png: o.out.clone(),
        svg,
        csv: csv_path,
        panels,
    })
}

/// The share of points whose nearest neighbour in the 2-D map has their class: how compact
/// and separated the clusters are, as one number to compare panels by.
fn same_class_neighbours(points: &[[f32; 2]], labels: &[usize]) -> f64 {
    let hits = points
        .iter()
        .enumerate()
        .filter(|&(i, p)| {
            let nearest = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .min_by(|a, b| dist(p, a.1).total_cmp(&dist(p, b.1)))
                .map(|(j, _)| j);
            nearest.is_some_and(|j| labels[j] == labels[i])
        })
        .count();
    hits as f64 / points.len().max(1) as f64
}

fn dist(a: &[f32; 2], b: &[f32; 2]) -> f32 {
    (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)
}
