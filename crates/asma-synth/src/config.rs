//! What to generate: the sample grid (setups × cameras × performers × replications ×
//! classes), clip lengths, the seed and the noise doses.
//!
//! The default is sized for the quickstart: a dataset the whole pipeline (preparation,
//! pre-training, linear probe) gets through in minutes on two cores, yet with both halves of
//! both NTU-60 benchmarks: four cross-subject training performers and four test
//! performers, and all three cameras (cross-view trains on C002/C003, tests on C001).

use serde::{Deserialize, Serialize};

use asma_data::error::DataError;

use super::actions::{catalogue, DEFAULT_CLASSES};

/// Kinect-like noise doses. Setting every field to 0 gives clean tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NoiseConfig {
    /// Standard deviation (metres) of the frame-to-frame joint jitter of an average joint;
    /// trunk joints get half, hands ×1.5, hand tips and thumbs ×2.2, depth ×1.5.
    pub jitter_m: f64,
    /// Per-frame probability that a hand tip or thumb jumps away for a few frames (hands
    /// and feet: a quarter of it); also scales how often a limb is inferred for a while.
    pub glitch_rate: f64,
    /// Probability that a file has a few frames with no body.
    pub empty_frames_prob: f64,
    /// Probability that a file has a spurious, almost static extra body.
    pub extra_body_prob: f64,
}

impl Default for NoiseConfig {
    fn default() -> Self {
        NoiseConfig {
            jitter_m: 0.006,
            glitch_rate: 0.02,
            empty_frames_prob: 0.1,
            extra_body_prob: 0.08,
        }
    }
}

impl NoiseConfig {
    /// No noise at all.
    pub fn none() -> Self {
        NoiseConfig {
            jitter_m: 0.0,
            glitch_rate: 0.0,
            empty_frames_prob: 0.0,
            extra_body_prob: 0.0,
        }
    }
}

/// Configuration of [`generate`](super::generate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Everything random derives from it: same config, byte-identical files.
    pub seed: u64,
    /// Setup ids (1–17, the NTU-60 range; each setup has its own camera heights and
    /// distances).
    pub setups: Vec<u16>,
    /// Performer ids (1–40); each id is one body, the same in every file.
    pub performers: Vec<u16>,
    /// Camera ids (1–3).
    pub cameras: Vec<u16>,
    /// Replication ids (1–2): R001 faces camera 2, R002 camera 3.
    pub replications: Vec<u16>,
    /// NTU action ids, each in the synthetic [`catalogue`].
    pub classes: Vec<u16>,
    /// Shortest and longest clip, in frames (at most 300, as in NTU).
    pub min_frames: usize,
    pub max_frames: usize,
    pub noise: NoiseConfig,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 1,
            setups: vec![1],
            // NTU-60 xsub training performers 1, 2, 4, 5 and test performers 3, 6, 7, 10.
            performers: vec![1, 2, 3, 4, 5, 6, 7, 10],
            cameras: vec![1, 2, 3],
            replications: vec![1, 2],
            classes: DEFAULT_CLASSES.to_vec(),
            min_frames: 40,
            max_frames: 120,
            noise: NoiseConfig::default(),
        }
    }
}

/// Longest clip any NTU pipeline accepts.
pub const MAX_FRAMES: usize = 300;
/// Shortest clip the motion programs can play meaningfully.
pub const MIN_FRAMES: usize = 10;

fn config_err(msg: impl Into<String>) -> DataError {
    DataError::Config(format!("synth: {}", msg.into()))
}

/// Checks that `ids` is non-empty, duplicate-free and inside `lo..=hi`.
fn check_ids(what: &str, letter: char, ids: &[u16], lo: u16, hi: u16) -> Result<(), DataError> {
    if ids.is_empty() {
        return Err(config_err(format!("{what} is empty")));
    }
    for (i, &id) in ids.iter().enumerate() {
        if !(lo..=hi).contains(&id) {
            return Err(config_err(format!(
                "{what}: {letter}{id:03} is outside {letter}{lo:03}–{letter}{hi:03}"
            )));
        }
        if ids[..i].contains(&id) {
            return Err(config_err(format!(
                "{what}: {letter}{id:03} is listed twice"
            )));
        }
    }
    Ok(())
}

impl SynthConfig {
    /// Number of files the config asks for.
    pub fn num_samples(&self) -> usize {
        self.setups.len()
            * self.performers.len()
            * self.cameras.len()
            * self.replications.len()
            * self.classes.len()
    }

    /// Rejects anything that would not give a valid NTU-60-style dataset.
    pub fn validate(&self) -> Result<(), DataError> {
        check_ids("setups", 'S', &self.setups, 1, 17)?;
        check_ids("performers", 'P', &self.performers, 1, 40)?;
        check_ids("cameras", 'C', &self.cameras, 1, 3)?;
        check_ids("replications", 'R', &self.replications, 1, 2)?;
        if self.classes.is_empty() {
            return Err(config_err("classes is empty"));
        }
        for (i, &id) in self.classes.iter().enumerate() {
            if !catalogue().iter().any(|a| a.id == id) {
                let known: Vec<String> = catalogue()
                    .iter()
                    .map(|a| format!("A{:03}", a.id))
                    .collect();
                return Err(config_err(format!(
                    "unknown action class A{id:03} (id {id}); the synthetic catalogue has {}",
                    known.join(", ")
                )));
            }
            if self.classes[..i].contains(&id) {
                return Err(config_err(format!("classes: A{id:03} is listed twice")));
            }
        }
        if self.min_frames < MIN_FRAMES
            || self.min_frames > self.max_frames
            || self.max_frames > MAX_FRAMES
        {
            return Err(config_err(format!(
                "frame range {}–{} is invalid (need {MIN_FRAMES} ≤ min_frames ≤ max_frames ≤ {MAX_FRAMES})",
                self.min_frames, self.max_frames
            )));
        }
        let n = &self.noise;
        if !(n.jitter_m.is_finite() && (0.0..=0.1).contains(&n.jitter_m)) {
            return Err(config_err(format!(
                "noise.jitter_m {} is not in [0, 0.1] metres",
                n.jitter_m
            )));
        }
        for (what, p) in [
            ("glitch_rate", n.glitch_rate),
            ("empty_frames_prob", n.empty_frames_prob),
            ("extra_body_prob", n.extra_body_prob),
        ] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(config_err(format!(
                    "noise.{what} {p} is not a probability in [0, 1]"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(c: &SynthConfig) -> String {
        c.validate().unwrap_err().to_string()
    }

    #[test]
    fn default_is_valid_and_768_files() {
        let c = SynthConfig::default();
        c.validate().unwrap();
        assert_eq!(c.num_samples(), 768);
        assert_eq!(c.classes.len(), 16);
    }

    #[test]
    fn unknown_class_is_a_config_error_naming_it() {
        let c = SynthConfig {
            classes: vec![1, 13],
            ..Default::default()
        };
        let e = c.validate().unwrap_err();
        assert!(matches!(e, DataError::Config(_)));
        assert!(e.to_string().contains("unknown action class A013"), "{e}");
    }

    #[test]
    fn bad_ranges_are_rejected() {
        let d = SynthConfig::default();
        assert!(err(&SynthConfig {
            cameras: vec![4],
            ..d.clone()
        })
        .contains("C004"));
        assert!(err(&SynthConfig {
            setups: vec![18],
            ..d.clone()
        })
        .contains("S018"));
        assert!(err(&SynthConfig {
            performers: vec![],
            ..d.clone()
        })
        .contains("empty"));
        assert!(err(&SynthConfig {
            replications: vec![1, 1],
            ..d.clone()
        })
        .contains("twice"));
        assert!(err(&SynthConfig {
            max_frames: 301,
            ..d.clone()
        })
        .contains("frame range"));
        assert!(err(&SynthConfig {
            min_frames: 130,
            ..d.clone()
        })
        .contains("frame range"));
        let mut n = d.clone();
        n.noise.extra_body_prob = 1.5;
        assert!(err(&n).contains("extra_body_prob"));
        n.noise = NoiseConfig {
            jitter_m: f64::NAN,
            ..Default::default()
        };
        assert!(err(&n).contains("jitter_m"));
    }

    #[test]
    fn serde_fills_defaults_and_rejects_unknown_fields() {
        let c: SynthConfig =
            serde_json::from_str(r#"{"seed": 9, "noise": {"jitter_m": 0.01}}"#).unwrap();
        assert_eq!(c.seed, 9);
        assert_eq!(c.noise.jitter_m, 0.01);
        assert_eq!(c.noise.glitch_rate, NoiseConfig::default().glitch_rate);
        assert_eq!(c.classes, DEFAULT_CLASSES.to_vec());
        assert!(serde_json::from_str::<SynthConfig>(r#"{"sead": 9}"#).is_err());
        assert!(serde_json::from_str::<SynthConfig>(r#"{"noise": {"jiter": 1}}"#).is_err());
    }
}
