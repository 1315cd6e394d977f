//! `asma tsne`: t-SNE maps of the features of trained classifiers (e.g. teacher vs student,
//! the paper's distillation figure) on a prepared split, side by side in one PNG and in one
//! SVG that names the panels and the classes, with the 2-D coordinates in a CSV beside them.

use std::fmt::Write as _;

use anyhow::{bail, Context, Result};
use asma_data::formats::labels::read_labels;
use asma_data::formats::npy::MmapNpy;
use asma_infer::input::to_stream;
use asma_infer::Classifier;
use asma_train::plot::scatter_png;
use asma_train::svg::write_scatter_svg;
use asma_train::tsne::{tsne, TsneConfig};

use crate::TsneArgs;

pub fn run(a: TsneArgs) -> Result<()> {
    let data = a.data.join(format!("{}_position.npy", a.split));
    let label_file = a.data.join(format!("{}_label.pkl", a.split));
    let npy = MmapNpy::open_skeleton(&data)?;
    let labels = read_labels(&label_file)?;
    if labels.len() != npy.len() {
        bail!(
            "{}: {} labels for {} samples in {}",
            label_file.display(),
            labels.len(),
            npy.len(),
            data.display()
        );
    }
    // An evenly spaced subset keeps every class represented and the O(n²) map quick.
    let n = npy.len().min(a.max_samples);
    let picked: Vec<usize> = (0..n).map(|i| i * npy.len() / n).collect();
    let classes = labels.labels.iter().max().map_or(1, |&c| c + 1);
    let mut maps = Vec::new();
    let mut csv = String::from("model,sample,label,x,y\n");
    let mut first_names = None;
    for dir in &a.models {
        let model = Classifier::load(dir)
            .and_then(|m| m.with_threads(a.threads))
            .with_context(|| format!("loading {}", dir.display()))?;
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
        eprintln!("tsne: {} — {n} features of {dim}", dir.display());
        let cfg = TsneConfig {
            perplexity: a.perplexity.min((n as f64 - 1.0) / 3.0),
            ..Default::default()
        };
        let points = tsne(&feats, n, dim, &cfg)?;
        let picked_labels: Vec<usize> = picked.iter().map(|&i| labels.labels[i]).collect();
        println!(
            "{}: same-class nearest neighbour in the map {:.1}%",
            dir.display(),
            100.0 * same_class_neighbours(&points, &picked_labels)
        );
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
        maps.push((dir.display().to_string(), points));
    }
    let picked_labels: Vec<usize> = picked.iter().map(|&i| labels.labels[i]).collect();
    let panels: Vec<_> = maps
        .iter()
        .map(|(name, p)| (name.as_str(), p.as_slice(), picked_labels.as_slice()))
        .collect();
    scatter_png(&panels, classes, &a.out)?;
    // The same figure with the panels' and the classes' names (the first model's list).
    let svg_path = a.out.with_extension("svg");
    write_scatter_svg(&panels, classes, first_names.as_ref(), &svg_path)?;
    let csv_path = a.out.with_extension("csv");
    std::fs::write(&csv_path, csv).with_context(|| format!("writing {}", csv_path.display()))?;
    println!(
        "{} and {} ({} panels, left to right: {}), {}",
        a.out.display(),
        svg_path.display(),
        maps.len(),
        maps.iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        csv_path.display()
    );
    Ok(())
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
