//! `asma tsne`: the figure is `asma_train::tsne_figure`'s; this prints what it wrote.

use anyhow::Result;
use asma_train::tsne_figure::{tsne_figure, TsneFigureOptions};

use crate::TsneArgs;

pub fn run(a: TsneArgs) -> Result<()> {
    let fig = tsne_figure(&TsneFigureOptions {
        models: a.models,
        data: a.data,
        split: a.split,
        max_samples: a.max_samples,
        perplexity: a.perplexity,
        threads: a.threads,
        out: a.out,
    })?;
    for p in &fig.panels {
        println!(
            "{}: {} features of {}, same-class nearest neighbour in the map {:.1}%",
            p.model.display(),
            p.samples,
            p.feature_dim,
            100.0 * p.same_class_neighbours
        );
    }
    let names: Vec<String> = fig
        .panels
        .iter()
        .map(|p| p.model.display().to_string())
        .collect();
    println!(
        "{} and {} ({} panels, left to right: {}), {}",
        fig.png.display(),
        fig.svg.display(),
        fig.panels.len(),
        names.join(", "),
        fig.csv.display()
    );
    Ok(())
}
