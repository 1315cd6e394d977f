//! Config loading shared by every command: a TOML file (or the `config.json` a run wrote),
//! then `--set key=value` overrides,
//! deserialised into a typed `…Config` whose unknown keys and wrong types are errors that
//! name the key (and the line, for the file).

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::de::DeserializeOwned;

/// Loads `T` from `file` (optional) with `sets` applied on top; `T`'s defaults fill the rest.
pub fn load<T: DeserializeOwned>(file: Option<&Path>, sets: &[String]) -> Result<T> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading config {}", path.display()))?;
            let json = path.extension().is_some_and(|e| e == "json");
            load_text(Some((&text, json)), &path.display().to_string(), sets)
        }
        None => load_text(None, "--set", sets),
    }
}

/// Loads `T` from TOML `text` (a built-in configuration, named `what` in errors).
pub fn load_str<T: DeserializeOwned>(text: &str, what: &str, sets: &[String]) -> Result<T> {
    load_text(Some((text, false)), what, sets)
}

fn load_text<T: DeserializeOwned>(
    text: Option<(&str, bool)>,
    what: &str,
    sets: &[String],
) -> Result<T> {
    let mut table = match text {
        Some((text, true)) => {
            serde_json::from_str::<toml::Table>(text).map_err(|e| anyhow::anyhow!("{what}: {e}"))?
        }
        Some((text, false)) => text
            .parse::<toml::Table>()
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))?,
        None => toml::Table::new(),
    };
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            bail!("--set {set}: expected KEY=VALUE");
        };
        let value: toml::Value = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(value.to_string()));
        insert_dotted(&mut table, key.trim(), value).with_context(|| format!("--set {set}"))?;
    }
    // serde_path_to_error names the key of a wrong type (`optim.epochs: invalid type …`);
    // through serde_json's Value, whose deserializer reports map keys to the tracker.
    let json = serde_json::to_value(&table).context("config values")?;
    serde_path_to_error::deserialize(json).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "" | "." => anyhow::anyhow!("{what}: {}", e.into_inner()),
            _ => anyhow::anyhow!("{what}: {path}: {}", e.into_inner()),
        }
    })
}

/// Sets `a.b.c = value` inside nested tables.
fn insert_dotted(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<()> {
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().filter(|k| !k.is_empty()).context("empty key")?;
    let mut t = table;
    for p in parts {
        t = t
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()))
            .as_table_mut()
            .with_context(|| format!("'{p}' is not a table"))?;
    }
    t.insert(last.to_string(), value);
    Ok(())
}

/// The configuration of a training run: from `--config` (TOML or JSON), or for
/// `--resume RUN_DIR` from the run's `config.json` with `run.dir` set to it; `--set` values,
/// then `--devices` (as `run.devices`), then `extra`, apply on top.
pub fn load_run<T: DeserializeOwned>(args: &crate::RunFileArgs, extra: &[String]) -> Result<T> {
    let mut sets = args.sets.clone();
    if let Some(devices) = &args.devices {
        sets.push(devices_set(devices));
    }
    let file = match (&args.config, &args.resume) {
        (Some(f), _) => f.clone(),
        (None, Some(run)) => run.join("config.json"),
        (None, None) => bail!("give --config FILE (or --resume RUN_DIR)"),
    };
    if let Some(run) = &args.resume {
        sets.push(format!("run.dir={:?}", run.display().to_string()));
    }
    sets.extend_from_slice(extra);
    load(Some(&file), &sets)
}

/// `--devices a,b` as the `--set` it stands for: `run.devices=["a","b"]`.
fn devices_set(devices: &[String]) -> String {
    let quoted: Vec<String> = devices.iter().map(|d| format!("{:?}", d.trim())).collect();
    format!("run.devices=[{}]", quoted.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_flag_becomes_a_run_devices_list() {
        #[derive(serde::Deserialize, Debug, PartialEq, Default)]
        #[serde(default, deny_unknown_fields)]
        struct Run {
            devices: Vec<String>,
        }
        #[derive(serde::Deserialize, Debug, PartialEq, Default)]
        #[serde(default, deny_unknown_fields)]
        struct Cfg {
            run: Run,
        }
        let set = devices_set(&["cpu".into(), " cuda:1".into()]);
        let c: Cfg = load(None, &[set]).unwrap();
        assert_eq!(c.run.devices, ["cpu", "cuda:1"]);
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        seed: u64,
        list: Vec<u16>,
        name: String,
    }

    impl Default for Demo {
        fn default() -> Self {
            Demo {
                seed: 1,
                list: vec![1],
                name: "x".into(),
            }
        }
    }

    #[test]
    fn sets_override_defaults() {
        let d: Demo = load(
            None,
            &["seed=7".into(), "list=[2,3]".into(), "name=abc".into()],
        )
        .unwrap();
        assert_eq!(
            d,
            Demo {
                seed: 7,
                list: vec![2, 3],
                name: "abc".into()
            }
        );
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = load::<Demo>(None, &["sed=7".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `sed`"), "{e}");
    }

    #[test]
    fn a_runs_config_json_loads_like_toml() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(&p, r#"{"seed": 4, "list": [5], "name": "run"}"#).unwrap();
        let d: Demo = load(Some(&p), &["seed=9".into()]).unwrap();
        assert_eq!(
            d,
            Demo {
                seed: 9,
                list: vec![5],
                name: "run".into()
            }
        );
        std::fs::write(&p, r#"{"sed": 4}"#).unwrap();
        assert!(load::<Demo>(Some(&p), &[])
            .unwrap_err()
            .to_string()
            .contains("sed"));
    }

    #[test]
    fn file_errors_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "seed = 3\nlist = [1,\n").unwrap();
        let e = load::<Demo>(Some(&p), &[]).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("line 2"), "{e}");
        std::fs::write(&p, "seed = \"three\"\n").unwrap();
        let e = load::<Demo>(Some(&p), &[]).unwrap_err().to_string();
        assert!(e.contains("c.toml") && e.contains("invalid type"), "{e}");
    }
}
