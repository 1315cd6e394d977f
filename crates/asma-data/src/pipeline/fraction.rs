//! Labelled fractions for semi-supervised evaluation (1% / 10% of the training labels, as in
//! the skeleton SSL literature): a stratified, seeded subset of a split.

use crate::error::{DataError, Result};
use crate::rng::Rng;

/// Indices (ascending) of a subset holding `round(fraction · n_c)` samples of every class `c`
/// with `n_c` samples, at least one per present class, chosen by `seed`.
pub fn stratified_subset(labels: &[usize], fraction: f64, seed: u64) -> Result<Vec<usize>> {
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(DataError::Config(format!(
            "label fraction {fraction} is not in (0, 1]"
        )));
    }
    let classes = labels.iter().max().map_or(0, |&m| m + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l].push(i);
    }
    let mut out = Vec::new();
    for (c, members) in by_class.iter_mut().enumerate() {
        if members.is_empty() {
            continue;
        }
        // One stream per class, so a class's choice does not depend on the other classes.
        Rng::derive(seed, c as u64).shuffle(members);
        let k = ((fraction * members.len() as f64).round() as usize).clamp(1, members.len());
        out.extend_from_slice(&members[..k]);
    }
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_fraction_of_every_class_and_is_seeded() {
        // 3 classes of 100, 50 and 3 samples, interleaved.
        let labels: Vec<usize> = (0..100)
            .map(|_| 0)
            .chain((0..50).map(|_| 1))
            .chain((0..3).map(|_| 2))
            .collect();
        let s = stratified_subset(&labels, 0.1, 7).unwrap();
        let count = |c| s.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!((count(0), count(1), count(2)), (10, 5, 1));
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, stratified_subset(&labels, 0.1, 7).unwrap());
        assert_ne!(s, stratified_subset(&labels, 0.1, 8).unwrap());
        assert_eq!(stratified_subset(&labels, 1.0, 7).unwrap().len(), 153);
        assert!(stratified_subset(&labels, 0.0, 7).is_err());
        assert!(stratified_subset(&labels, 1.5, 7).is_err());
    }
}
