//! The batch loader: a memory-mapped `(N, 3, T, 25, 2)` split → batches of one stream, each
//! with one or more augmented and masked *views* (PSTL/ASMa pre-training needs an anchor, a
//! temporal-masked and a spatial-masked view of the same samples).
//!
//! Deterministic for a seed: the epoch's order comes from `Rng::derive(seed, epoch)` and every
//! batch's draws from `Rng::derive(seed, epoch·2³² + batch)`, so batches are the same whether
//! built in the background (prefetch) or on demand, on any number of threads.

use std::borrow::Cow;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use asma_skeleton::NTU25;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::formats::labels::{read_labels, write_labels, Labels};
use crate::formats::npy::{write_npy_f32, MmapNpy};
use crate::pipeline::augment::{self, Transform};
use crate::pipeline::mask::{gather_frames, FrameMask, JointMask, JointSelection, MaskConfig};
use crate::pipeline::stream::{apply_stream, first_bodies, BatchShape, Stream};
use crate::prepare::splits::Part;
use crate::rng::Rng;

/// A split on disk: the memory-mapped positions and their labels.
pub struct SkeletonDataset {
    data: MmapNpy,
    names: Vec<String>,
    labels: Vec<usize>,
    /// Persons read per sample: the file's M, or fewer ([`Self::keep_bodies`]).
    bodies: usize,
}

impl SkeletonDataset {
    /// Opens a positions `.npy` and its `(names, labels)` pickle; their sample counts must agree.
    pub fn open(data_path: &Path, label_path: &Path) -> Result<Self> {
        let data = MmapNpy::open_skeleton(data_path)?;
        let labels = read_labels(label_path)?;
        if labels.labels.len() != data.len() {
            return Err(DataError::invalid(
                label_path,
                format!(
                    "has {} labels but {} holds {} samples",
                    labels.labels.len(),
                    data_path.display(),
                    data.len()
                ),
            ));
        }
        let bodies = data.shape()[4];
        Ok(SkeletonDataset {
            data,
            names: labels.names,
            labels: labels.labels,
            bodies,
        })
    }

    /// Reads only the first `bodies` persons of every sample (the single-body mode,
    /// `data.bodies = 1`, for data without a second person: every training step costs half).
    /// Errors when the file holds fewer persons, or for 0.
    pub fn keep_bodies(mut self, bodies: usize) -> Result<Self> {
        let in_file = self.data.shape()[4];
        if bodies == 0 || bodies > in_file {
            return Err(DataError::invalid(
                self.path(),
                format!("data.bodies = {bodies}, but its samples hold {in_file} persons: give 1 to {in_file}"),
            ));
        }
        self.bodies = bodies;
        Ok(self)
    }

    /// Opens `<dir>/<part>_position.npy` (frame50) or `<dir>/<part>_data.npy` (300 frames)
    /// with `<dir>/<part>_label.pkl`.
    pub fn open_split(dir: &Path, part: Part) -> Result<Self> {
        let p = part.prefix();
        let data = [format!("{p}_position.npy"), format!("{p}_data.npy")]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|f| f.exists())
            .ok_or_else(|| {
                DataError::invalid(
                    dir,
                    format!("no {p}_position.npy or {p}_data.npy in this folder"),
                )
            })?;
        Self::open(&data, &dir.join(format!("{p}_label.pkl")))
    }

    /// Writes the `(N, 3, T, 25, 2)` array `data` and `labels` as `<dir>/<part>_position.npy`
    /// and `<dir>/<part>_label.pkl`, the files [`Self::open_split`] reads.
    pub fn write_split(
        dir: &Path,
        part: Part,
        shape: &[usize],
        data: &[f32],
        labels: &Labels,
    ) -> Result<()> {
        let p = part.prefix();
        write_npy_f32(dir.join(format!("{p}_position.npy")), shape, data)?;
        write_labels(&dir.join(format!("{p}_label.pkl")), labels)
    }

    /// Samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True without samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The per-sample shape `(3, T, 25, M)`, M the persons read.
    pub fn sample_shape(&self) -> [usize; 4] {
        let s = self.data.shape();
        [s[1], s[2], s[3], self.bodies]
    }

    /// One sample's values, `(3, T, 25, M)` C-order.
    pub fn sample(&self, i: usize) -> Result<Cow<'_, [f32]>> {
        let row = self.data.row_to_f32(i)?;
        let in_file = self.data.shape()[4];
        Ok(match self.bodies == in_file {
            true => row,
            false => Cow::Owned(first_bodies(&row, in_file, self.bodies)),
        })
    }

    /// 0-based labels.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }

    /// Sample names as stored in the label file.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The data file.
    pub fn path(&self) -> &Path {
        self.data.path()
    }

    /// Errors when a label does not fit a head of `num_classes` outputs.
    pub fn check_num_classes(&self, num_classes: usize) -> Result<()> {
        match self.labels.iter().position(|&l| l >= num_classes) {
            Some(i) => Err(DataError::invalid(
                self.path(),
                format!(
                    "sample {} ({}) has label {}, beyond the {num_classes} classes of the model",
                    i, self.names[i], self.labels[i]
                ),
            )),
            None => Ok(()),
        }
    }
}

/// One view of every batch: augmentations, then a frame mask, then a joint mask.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewConfig {
    /// Applied in order, one draw per batch each (per sample with `per_sample`).
    pub transforms: Vec<Transform>,
    /// Draw the transforms' parameters per sample (SkeletonCLR's and AimCLR's feeders)
    /// instead of once per batch (PSTL).
    pub per_sample: bool,
    /// Which frames to keep (the output has fewer frames when not `none`).
    pub frame_mask: FrameMaskSetting,
    /// Which joints to remove (reported in [`View::joints`]; the data keeps all joints, the
    /// encoder removes them from its graph).
    pub joint_mask: JointMaskSetting,
    /// Also deliver the view's motion stream ([`View::motion`]), computed from the augmented
    /// clip *before* its frame mask and then gathered at the kept frames. For a model that
    /// derives motion from the joint clips it is given (CrosSCLR): the motion of a clip whose
    /// frames were removed would jump across the gaps, a signal unlike its keys' motion.
    pub with_motion: bool,
}

/// `FrameMask` with a serde default of `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FrameMaskSetting(pub FrameMask);
impl Default for FrameMaskSetting {
    fn default() -> Self {
        FrameMaskSetting(FrameMask::None)
    }
}

/// `JointMask` with a serde default of `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JointMaskSetting(pub JointMask);
impl Default for JointMaskSetting {
    fn default() -> Self {
        JointMaskSetting(JointMask::None)
    }
}

/// Loader settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub shuffle: bool,
    /// Drop the last partial batch (PSTL keeps it).
    pub drop_last: bool,
    pub seed: u64,
    pub stream: Stream,
    /// Batches built ahead in a background thread.
    pub prefetch: usize,
    /// Sizes of the masking operators.
    pub mask: MaskConfig,
    /// The views of every batch (default: one plain view).
    pub views: Vec<ViewConfig>,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 128,
            shuffle: true,
            drop_last: false,
            seed: 1,
            stream: Stream::Joint,
            prefetch: 2,
            mask: MaskConfig::default(),
            views: vec![ViewConfig::default()],
        }
    }
}

/// One view of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// `(N, 3, T', 25, M)`.
    pub shape: BatchShape,
    pub data: Vec<f32>,
    /// Joints removed and kept (sorted); nothing removed without a joint mask.
    pub joints: JointSelection,
    /// With [`ViewConfig::with_motion`]: the motion stream of the clip before its frame mask,
    /// at the kept frames, shaped as `data`.
    pub motion: Option<Vec<f32>>,
}

/// A batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Position of the batch in its epoch.
    pub index: usize,
    /// Dataset indices of the samples.
    pub samples: Vec<usize>,
    pub labels: Vec<usize>,
    pub views: Vec<View>,
}

/// Builds batches of a dataset.
#[derive(Clone)]
pub struct Loader {
    dataset: Arc<SkeletonDataset>,
    cfg: LoaderConfig,
    /// Dataset indices an epoch visits (all when `None`); see [`Loader::with_subset`].
    subset: Option<Arc<Vec<usize>>>,
}

impl Loader {
    /// Checks the configuration against the dataset.
    pub fn new(dataset: Arc<SkeletonDataset>, cfg: LoaderConfig) -> Result<Self> {
        if cfg.batch_size == 0 {
            return Err(DataError::Config("batch_size must be at least 1".into()));
        }
        if cfg.views.is_empty() {
            return Err(DataError::Config("a loader needs at least one view".into()));
        }
        let [c, t, v, m] = dataset.sample_shape();
        let shape = BatchShape::new(cfg.batch_size, c, t, v, m);
        for view in &cfg.views {
            for tr in &view.transforms {
                tr.validate(&shape)?;
            }
        }
        Ok(Loader {
            dataset,
            cfg,
            subset: None,
        })
    }

    /// Restricts every epoch to the dataset indices `indices` (e.g. a labelled fraction).
    pub fn with_subset(mut self, indices: Vec<usize>) -> Result<Self> {
        let n = self.dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(DataError::Config(format!(
                "subset index {bad} is past the end of {} ({n} samples)",
                self.dataset.path().display()
            )));
        }
        if indices.is_empty() {
            return Err(DataError::Config("the subset is empty".into()));
        }
        self.subset = Some(Arc::new(indices));
        Ok(self)
    }

    /// Samples in one epoch.
    pub fn num_samples(&self) -> usize {
        self.subset.as_ref().map_or(self.dataset.len(), |s| s.len())
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.cfg
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<SkeletonDataset> {
        &self.dataset
    }

    /// Batches in one epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.num_samples(), self.cfg.batch_size);
        if self.cfg.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The sample order of `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = match &self.subset {
            Some(s) => s.to_vec(),
            None => (0..self.dataset.len()).collect(),
        };
        if self.cfg.shuffle {
            Rng::derive(self.cfg.seed, epoch).shuffle(&mut order);
        }
        order
    }

    /// Builds batch `index` of `epoch` from `order` (see [`Loader::order`]).
    pub fn batch(&self, epoch: u64, order: &[usize], index: usize) -> Result<Batch> {
        let bs = self.cfg.batch_size;
        let samples: Vec<usize> = order.iter().skip(index * bs).take(bs).copied().collect();
        if samples.is_empty() {
            return Err(DataError::Config(format!(
                "batch {index} is past the end of the epoch"
            )));
        }
        let [c, t, v, m] = self.dataset.sample_shape();
        let shape = BatchShape::new(samples.len(), c, t, v, m);
        let mut raw = vec![0f32; shape.len()];
        raw.par_chunks_mut(shape.sample_len())
            .zip(&samples)
            .try_for_each(|(dst, &i)| -> Result<()> {
                dst.copy_from_slice(&self.dataset.sample(i)?);
                Ok(())
            })?;
        let streamed = apply_stream(self.cfg.stream, &shape, &raw);
        let mut rng = Rng::derive(self.cfg.seed, (epoch << 32) | index as u64);
        let degrees = NTU25.degrees();
        let mut views = Vec::with_capacity(self.cfg.views.len());
        for view in &self.cfg.views {
            let mut data = streamed.clone();
            if view.per_sample {
                // One stream per sample, from one draw of the batch's: the same bits for any
                // thread count.
                let base = rng.next_u64();
                let one = BatchShape::new(1, c, t, v, m);
                data.par_chunks_mut(shape.sample_len())
                    .enumerate()
                    .try_for_each(|(i, sample)| {
                        augment::apply(
                            &view.transforms,
                            &one,
                            sample,
                            &mut Rng::derive(base, i as u64),
                        )
                    })?;
            } else {
                augment::apply(&view.transforms, &shape, &mut data, &mut rng)?;
            }
            let motion = view
                .with_motion
                .then(|| apply_stream(Stream::Motion, &shape, &data));
            let (vshape, data, motion) = if view.frame_mask.0 == FrameMask::None {
                (shape, data, motion)
            } else {
                let frames = view
                    .frame_mask
                    .0
                    .select(&shape, &data, &self.cfg.mask, &mut rng)?;
                let motion = match motion {
                    Some(m) => Some(gather_frames(&shape, &m, &frames)?.1),
                    None => None,
                };
                let (vshape, data) = gather_frames(&shape, &data, &frames)?;
                (vshape, data, motion)
            };
            let joints = view
                .joint_mask
                .0
                .select(&degrees, &self.cfg.mask, &mut rng)?;
            views.push(View {
                shape: vshape,
                data,
                joints,
                motion,
            });
        }
        let labels = samples.iter().map(|&i| self.dataset.labels()[i]).collect();
        Ok(Batch {
            index,
            samples,
            labels,
            views,
        })
    }

    /// The batches of `epoch`, built ahead in a background thread (`prefetch` deep).
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        let (tx, rx) = mpsc::sync_channel(self.cfg.prefetch.max(1));
        let loader = self.clone();
        let total = self.batches_per_epoch();
        let handle = std::thread::spawn(move || {
            let order = loader.order(epoch);
            for b in 0..total {
                let batch = loader.batch(epoch, &order, b);
                let failed = batch.is_err();
                if tx.send(batch).is_err() || failed {
                    break; // the consumer went away, or the error was handed over
                }
            }
        });
        EpochIter {
            rx,
            handle: Some(handle),
            remaining: total,
        }
    }
}

/// Iterator over the batches of one epoch.
pub struct EpochIter {
    rx: mpsc::Receiver<Result<Batch>>,
    handle: Option<std::thread::JoinHandle<()>>,
    remaining: usize,
}

impl Iterator for EpochIter {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        match self.rx.recv() {
            Ok(b) => {
                self.remaining = if b.is_err() { 0 } else { self.remaining - 1 };
                Some(b)
            }
            Err(_) => {
                self.remaining = 0;
                let panicked = self
                    .handle
                    .take()
                    .map(|h| h.join().is_err())
                    .unwrap_or(false);
                panicked.then(|| Err(DataError::Config("the loader thread panicked".into())))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Unblock the producer (its next send fails), then wait for it.
        let (_, dummy) = mpsc::sync_channel(1);
        drop(std::mem::replace(&mut self.rx, dummy));
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(n: usize) -> (tempfile::TempDir, Arc<SkeletonDataset>) {
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * 50 * 25 * 2;
        let data: Vec<f32> = (0..n * len)
            .map(|i| ((i % 977) as f32 * 0.013).sin())
            .collect();
        let labels = Labels {
            names: (0..n)
                .map(|i| format!("S001C001P001R001A{:03}.skeleton", i % 5 + 1))
                .collect(),
            labels: (0..n).map(|i| i % 5).collect(),
        };
        let shape = [n, 3, 50, 25, 2];
        SkeletonDataset::write_split(dir.path(), Part::Train, &shape, &data, &labels).unwrap();
        let ds = Arc::new(SkeletonDataset::open_split(dir.path(), Part::Train).unwrap());
        (dir, ds)
    }

    fn asma_views() -> Vec<ViewConfig> {
        vec![
            ViewConfig {
                transforms: augment::pstl_pretrain(),
                ..Default::default()
            },
            ViewConfig {
                transforms: augment::pstl_pretrain(),
                frame_mask: FrameMaskSetting(FrameMask::High),
                ..Default::default()
            },
            ViewConfig {
                transforms: augment::pstl_pretrain(),
                joint_mask: JointMaskSetting(JointMask::Low),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn single_body_mode_reads_the_first_person_only() {
        let (dir, _) = dataset(3);
        let open = || SkeletonDataset::open_split(dir.path(), Part::Train).unwrap();
        let (both, one) = (open(), open().keep_bodies(1).unwrap());
        assert_eq!(one.sample_shape(), [3, 50, 25, 1]);
        let full = both.sample(2).unwrap();
        let first: Vec<f32> = full.iter().step_by(2).copied().collect();
        assert_eq!(*one.sample(2).unwrap(), first[..]);
        // Batches follow: persons are the innermost axis of every view.
        let loader = Loader::new(
            Arc::new(one),
            LoaderConfig {
                batch_size: 2,
                ..Default::default()
            },
        )
        .unwrap();
        let batch = loader.batch(0, &loader.order(0), 0).unwrap();
        assert_eq!(batch.views[0].shape, BatchShape::new(2, 3, 50, 25, 1));
        for bad in [0, 3] {
            let err = open().keep_bodies(bad).err().unwrap().to_string();
            assert!(
                err.contains("train_position.npy") && err.contains("data.bodies"),
                "{err}"
            );
        }
    }

    #[test]
    fn per_sample_draws_differ_between_samples_and_repeat_exactly() {
        // Four copies of one clip: a batch draw augments them alike, per-sample draws do not.
        let dir = tempfile::tempdir().unwrap();
        let len = 3 * 50 * 25 * 2;
        let clip: Vec<f32> = (0..len).map(|i| ((i % 97) as f32 * 0.05).cos()).collect();
        let data: Vec<f32> = clip.iter().cycle().take(4 * len).copied().collect();
        let labels = Labels {
            names: (0..4).map(|i| format!("s{i}")).collect(),
            labels: vec![0; 4],
        };
        SkeletonDataset::write_split(dir.path(), Part::Train, &[4, 3, 50, 25, 2], &data, &labels)
            .unwrap();
        let ds = Arc::new(SkeletonDataset::open_split(dir.path(), Part::Train).unwrap());
        let view = |per_sample| ViewConfig {
            transforms: vec![
                augment::Transform::Crop { padding_ratio: 6 },
                augment::Transform::Shear { amplitude: 0.5 },
            ],
            per_sample,
            ..Default::default()
        };
        let first = |per_sample| {
            let l = Loader::new(
                ds.clone(),
                LoaderConfig {
                    batch_size: 4,
                    views: vec![view(per_sample)],
                    ..Default::default()
                },
            )
            .unwrap();
            l.batch(0, &l.order(0), 0).unwrap().views.remove(0).data
        };
        let distinct = |v: &[f32]| {
            let mut samples: Vec<&[f32]> = v.chunks(len).collect();
            samples.dedup();
            samples.len()
        };
        assert_eq!(distinct(&first(false)), 1);
        let a = first(true);
        assert_eq!(distinct(&a), 4);
        assert_eq!(
            a,
            first(true),
            "the draws are a function of (seed, epoch, batch)"
        );
    }

    #[test]
    fn every_sample_once_per_epoch_with_partial_last_batch() {
        let (_d, ds) = dataset(10);
        let l = Loader::new(
            ds,
            LoaderConfig {
                batch_size: 4,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(l.batches_per_epoch(), 3);
        let batches: Vec<Batch> = l.epoch(0).map(|b| b.unwrap()).collect();
        assert_eq!(
            batches.iter().map(|b| b.samples.len()).collect::<Vec<_>>(),
            vec![4, 4, 2]
        );
        let mut all: Vec<usize> = batches.iter().flat_map(|b| b.samples.clone()).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_ne!(l.order(0), l.order(1), "epochs are shuffled differently");
        let dl = Loader::new(
            l.dataset().clone(),
            LoaderConfig {
                batch_size: 4,
                drop_last: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(dl.epoch(0).count(), 2);
    }

    #[test]
    fn a_subset_restricts_every_epoch() {
        let (_d, ds) = dataset(10);
        let cfg = LoaderConfig {
            batch_size: 2,
            ..Default::default()
        };
        let l = Loader::new(ds.clone(), cfg.clone())
            .unwrap()
            .with_subset(vec![1, 4, 7])
            .unwrap();
        assert_eq!((l.num_samples(), l.batches_per_epoch()), (3, 2));
        let mut seen: Vec<usize> = l.epoch(2).flat_map(|b| b.unwrap().samples).collect();
        seen.sort();
        assert_eq!(seen, vec![1, 4, 7]);
        let err = Loader::new(ds.clone(), cfg.clone())
            .unwrap()
            .with_subset(vec![3, 10])
            .err()
            .unwrap();
        assert!(err.to_string().contains("subset index 10"), "{err}");
        assert!(Loader::new(ds, cfg).unwrap().with_subset(vec![]).is_err());
    }

    #[test]
    fn a_views_motion_is_taken_before_its_frame_mask() {
        let (_d, ds) = dataset(4);
        let cfg = LoaderConfig {
            batch_size: 4,
            views: vec![ViewConfig {
                frame_mask: FrameMaskSetting(FrameMask::High),
                with_motion: true,
                ..Default::default()
            }],
            ..Default::default()
        };
        let b = Loader::new(ds.clone(), cfg)
            .unwrap()
            .batch(0, &[0, 1, 2, 3], 0)
            .unwrap();
        let v = &b.views[0];
        let motion = v.motion.as_ref().expect("asked for");
        assert_eq!(motion.len(), v.data.len());
        let (c, t, vm) = (3, 50, 25 * 2);
        let kept = v.shape.t;
        assert!(kept < t);
        let mut jumped = false;
        for (k, &i) in b.samples.iter().enumerate() {
            let raw = ds.sample(i).unwrap();
            for ch in 0..c {
                let at = |buf: &[f32], frames: usize, f: usize| {
                    let o = ((k * c + ch) * frames + f) * vm;
                    buf[o..o + vm].to_vec()
                };
                let raw_frame = |f: usize| raw[(ch * t + f) * vm..(ch * t + f + 1) * vm].to_vec();
                for f in 0..kept {
                    // Which frame of the clip this kept frame is (no augmentation here).
                    let frame = at(&v.data, kept, f);
                    let src = (0..t)
                        .find(|&s| raw_frame(s) == frame)
                        .expect("a clip frame");
                    let want: Vec<f32> = if src + 1 < t {
                        raw_frame(src + 1)
                            .iter()
                            .zip(&frame)
                            .map(|(a, b)| a - b)
                            .collect()
                    } else {
                        vec![0.0; vm]
                    };
                    assert_eq!(
                        at(motion, kept, f),
                        want,
                        "sample {i} channel {ch} frame {f}"
                    );
                    // The motion of the masked clip itself differs where a frame was skipped.
                    if f + 1 < kept {
                        let next = at(&v.data, kept, f + 1);
                        jumped |= next != raw_frame(src + 1);
                    }
                }
            }
        }
        assert!(jumped, "the mask removed no frame between two kept ones");
    }

    #[test]
    fn views_have_the_masked_shapes_and_labels_follow_samples() {
        let (_d, ds) = dataset(6);
        let cfg = LoaderConfig {
            batch_size: 6,
            views: asma_views(),
            ..Default::default()
        };
        let l = Loader::new(ds.clone(), cfg).unwrap();
        let b = l.epoch(3).next().unwrap().unwrap();
        assert_eq!(b.views[0].shape, BatchShape::new(6, 3, 50, 25, 2));
        assert_eq!(b.views[1].shape, BatchShape::new(6, 3, 30, 25, 2));
        assert_eq!(b.views[1].data.len(), 6 * 3 * 30 * 25 * 2);
        assert!(b.views[0].joints.removed.is_empty());
        let removed = &b.views[2].joints.removed;
        assert!(
            !removed.is_empty() && removed.len() <= 8 && removed.windows(2).all(|w| w[0] < w[1])
        );
        for (s, l) in b.samples.iter().zip(&b.labels) {
            assert_eq!(ds.labels()[*s], *l);
        }
    }

    #[test]
    fn deterministic_for_a_seed_prefetched_or_not() {
        let (_d, ds) = dataset(9);
        let cfg = LoaderConfig {
            batch_size: 4,
            views: asma_views(),
            stream: Stream::Motion,
            ..Default::default()
        };
        let l = Loader::new(ds.clone(), cfg.clone()).unwrap();
        let a: Vec<Batch> = l.epoch(2).map(|b| b.unwrap()).collect();
        let order = l.order(2);
        let b: Vec<Batch> = (0..3).map(|i| l.batch(2, &order, i).unwrap()).collect();
        assert_eq!(a, b);
        let other = Loader::new(ds, LoaderConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(other.epoch(2).next().unwrap().unwrap(), a[0]);
    }

    #[test]
    fn label_count_mismatch_and_oversized_labels_are_errors() {
        let (d, ds) = dataset(4);
        assert!(ds.check_num_classes(5).is_ok());
        let e = ds.check_num_classes(3).unwrap_err().to_string();
        assert!(e.contains("label 3, beyond the 3 classes"), "{e}");
        let labels = Labels {
            names: vec!["a".into()],
            labels: vec![0],
        };
        write_labels(&d.path().join("train_label.pkl"), &labels).unwrap();
        let e = SkeletonDataset::open_split(d.path(), Part::Train)
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("train_label.pkl: has 1 labels but") && e.contains("holds 4 samples"),
            "{e}"
        );
    }

    #[test]
    fn dropping_an_epoch_early_stops_the_producer() {
        let (_d, ds) = dataset(20);
        let l = Loader::new(
            ds,
            LoaderConfig {
                batch_size: 2,
                prefetch: 1,
                ..Default::default()
            },
        )
        .unwrap();
        let mut it = l.epoch(0);
        assert!(it.next().unwrap().is_ok());
        drop(it); // must not hang
    }
}
