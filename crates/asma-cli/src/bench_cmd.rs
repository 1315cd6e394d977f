//! `asma bench data | pretrain | ops | loader`: the measurements are `asma_bench`'s; this
//! prints them as Markdown or, with `--json`, as JSON.

use anyhow::Result;
use serde::Serialize;

use crate::{BenchDataArgs, BenchLoaderArgs, BenchOpsArgs, BenchPretrainArgs};

fn print<T: Serialize>(json: bool, figures: &T, markdown: impl FnOnce(&T) -> String) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(figures)?);
    } else {
        print!("{}", markdown(figures));
    }
    Ok(())
}

fn note(what: &str) {
    eprintln!("bench: {what}");
}

pub fn data(a: BenchDataArgs) -> Result<()> {
    let r = asma_bench::data::data(&a.options, &note)?;
    print(a.json, &r, asma_bench::data::DataBench::markdown)
}

pub fn pretrain(a: BenchPretrainArgs) -> Result<()> {
    let r = asma_bench::pretrain_step::pretrain_step(&a.options)?;
    print(
        a.json,
        &r,
        asma_bench::pretrain_step::PretrainStepBench::markdown,
    )
}

pub fn ops(a: BenchOpsArgs) -> Result<()> {
    let r = asma_bench::ops::ops(&a.options)?;
    print(a.json, &r, asma_bench::ops::OpsBench::markdown)
}

pub fn loader(a: BenchLoaderArgs) -> Result<()> {
    let cfg: asma_train::PretrainConfig = crate::config::load(a.config.as_deref(), &a.sets)?;
    let r = asma_bench::loader::loader(&cfg, &a.options, &note)?;
    print(a.json, &r, asma_bench::loader::LoaderBench::markdown)
}
