//! Learning-rate schedules, set once per epoch (docs/METHOD.md §6.3, §7.2).

use serde::{Deserialize, Serialize};

/// Linear warm-up from 0, then cosine decay to 0 over the remaining epochs: PSTL's
/// pre-training schedule, `lr·e/w` for `e < w`, else `lr·½(1 + cos(π(e − w)/(E − w)))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WarmupCosine {
    pub base_lr: f64,
    pub warmup_epochs: usize,
    pub epochs: usize,
}

impl WarmupCosine {
    /// The learning rate of 0-based epoch `e`.
    pub fn lr(&self, e: usize) -> f64 {
        if e < self.warmup_epochs {
            return self.base_lr * e as f64 / self.warmup_epochs as f64;
        }
        let span = self.epochs.saturating_sub(self.warmup_epochs).max(1) as f64;
        self.base_lr
            * 0.5
            * (1.0 + (std::f64::consts::PI * (e - self.warmup_epochs) as f64 / span).cos())
    }
}

/// Step decay: `lr · γ^(number of milestones m with e > m)`, as the MoCo methods'
/// `adjust_lr` (`0.1 ** sum(epoch > step)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDecay {
    pub base_lr: f64,
    pub milestones: Vec<usize>,
    pub gamma: f64,
}

impl StepDecay {
    /// The learning rate of 0-based epoch `e`.
    pub fn lr(&self, e: usize) -> f64 {
        let passed = self.milestones.iter().filter(|&&m| e > m).count();
        self.base_lr * self.gamma.powi(passed as i32)
    }
}

/// A pre-training schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    WarmupCosine(WarmupCosine),
    Step(StepDecay),
}

impl Schedule {
    /// The learning rate of 0-based epoch `e`.
    pub fn lr(&self, e: usize) -> f64 {
        match self {
            Schedule::WarmupCosine(s) => s.lr(e),
            Schedule::Step(s) => s.lr(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_decay_follows_the_reference_strict_comparison() {
        let s = StepDecay {
            base_lr: 0.1,
            milestones: vec![250],
            gamma: 0.1,
        };
        assert_eq!(s.lr(0), 0.1);
        assert_eq!(s.lr(250), 0.1);
        assert!((s.lr(251) - 0.01).abs() < 1e-15);
    }

    #[test]
    fn pstl_schedule_values_from_method_10() {
        let s = WarmupCosine {
            base_lr: 5e-3,
            warmup_epochs: 10,
            epochs: 150,
        };
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 2.5e-3).abs() < 1e-12);
        assert!((s.lr(10) - 5e-3).abs() < 1e-12);
        assert!((s.lr(149) - 6.29e-7).abs() < 1e-9, "{}", s.lr(149));
    }

    #[test]
    fn no_warmup_is_plain_cosine() {
        let s = WarmupCosine {
            base_lr: 0.01,
            warmup_epochs: 0,
            epochs: 150,
        };
        assert_eq!(s.lr(0), 0.01);
        assert!((s.lr(75) - 0.005).abs() < 1e-12);
    }
}
