//! The k-NN monitor: each validation sample takes the similarity-weighted vote of its `k`
//! most cosine-similar training samples; the score is top-1 accuracy. It needs no training,
//! so it shows during pre-training whether the features separate the classes.

use rayon::prelude::*;

/// L2-normalises every row in place (zero rows stay zero).
pub fn normalise(rows: &mut [Vec<f32>]) {
    for r in rows.iter_mut() {
        let n = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        if n > 0.0 {
            r.iter_mut().for_each(|x| *x /= n);
        }
    }
}

/// Top-1 accuracy (0–1) of the weighted k-NN vote, cosine similarity.
pub fn knn_top1(
    train: &[Vec<f32>],
    train_labels: &[usize],
    test: &[Vec<f32>],
    test_labels: &[usize],
    k: usize,
) -> f64 {
    assert_eq!(train.len(), train_labels.len());
    assert_eq!(test.len(), test_labels.len());
    if test.is_empty() || train.is_empty() {
        return 0.0;
    }
    let mut train = train.to_vec();
    let mut test = test.to_vec();
    normalise(&mut train);
    normalise(&mut test);
    let classes = train_labels.iter().chain(test_labels).max().unwrap() + 1;
    let k = k.clamp(1, train.len());
    let correct: usize = test
        .par_iter()
        .zip(test_labels)
        .map(|(q, &label)| {
            let mut sims: Vec<(f32, usize)> = train
                .iter()
                .zip(train_labels)
                .map(|(t, &l)| (t.iter().zip(q).map(|(a, b)| a * b).sum::<f32>(), l))
                .collect();
            sims.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
            let mut votes = vec![0f32; classes];
            for &(s, l) in &sims[..k] {
                // Shifted so that every neighbour's vote is positive.
                votes[l] += 1.0 + s;
            }
            let best = (0..classes)
                .max_by(|&a, &b| votes[a].total_cmp(&votes[b]).then(b.cmp(&a)))
                .unwrap();
            (best == label) as usize
        })
        .sum();
    correct as f64 / test.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_clusters_are_classified_and_noise_is_not() {
        let mut rng = asma_data::rng::Rng::new(3);
        let centre =
            |c: usize| -> Vec<f32> { (0..8).map(|d| if d == c { 1.0 } else { 0.0 }).collect() };
        let sample = |c: usize, rng: &mut asma_data::rng::Rng, noise: f64| -> Vec<f32> {
            centre(c)
                .iter()
                .map(|x| x + (rng.normal() * noise) as f32)
                .collect()
        };
        let (mut tr, mut trl, mut te, mut tel) = (vec![], vec![], vec![], vec![]);
        for i in 0..200 {
            tr.push(sample(i % 4, &mut rng, 0.1));
            trl.push(i % 4);
            te.push(sample(i % 4, &mut rng, 0.1));
            tel.push(i % 4);
        }
        assert!(knn_top1(&tr, &trl, &te, &tel, 20) > 0.99);
        let shuffled: Vec<usize> = (0..200).map(|_| rng.below(4)).collect();
        let acc = knn_top1(&tr, &shuffled, &te, &tel, 20);
        assert!(acc < 0.45, "{acc}");
    }
}
