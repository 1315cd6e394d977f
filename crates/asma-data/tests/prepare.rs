//! `prepare` on small datasets the test writes itself: NTU (frame50 and 300 frames, the
//! missing list, the split rule, sorted order) and PKU-MMD (clip cutting, split file).

use std::path::Path;

use asma_data::formats::labels::read_labels;
use asma_data::formats::npy::MmapNpy;
use asma_data::formats::ntu::{write_skeleton, Body, BodyInfo, Frame, Joint, SkeletonFile};
use asma_data::prepare::splits::{Benchmark, Dataset};
use asma_data::prepare::{prepare, PrepareOptions};

fn file(frames: usize, phase: f32) -> SkeletonFile {
    let body = |t: usize| Body {
        info: BodyInfo {
            id: 7,
            tracking_state: 2,
            ..Default::default()
        },
        joints: (0..25)
            .map(|j| Joint {
                xyz: [
                    0.1 * j as f32 + (t as f32 * 0.1 + phase).sin() * 0.05,
                    0.5 - 0.04 * j as f32,
                    3.0 + 0.01 * j as f32,
                ],
                ..Default::default()
            })
            .collect(),
    };
    SkeletonFile {
        frames: (0..frames)
            .map(|t| Frame {
                bodies: vec![body(t)],
            })
            .collect(),
    }
}

fn write(dir: &Path, name: &str, f: &SkeletonFile) {
    let mut out = std::fs::File::create(dir.join(format!("{name}.skeleton"))).unwrap();
    write_skeleton(f, &mut out).unwrap();
}

#[test]
fn ntu60_xsub_frame50_and_frame300() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    // P001 trains, P003 tests; S018 is NTU-120 only; the first missing-list name is skipped.
    write(&raw, "S001C001P003R001A002", &file(40, 0.0));
    write(&raw, "S001C001P001R001A001", &file(70, 1.0));
    write(&raw, "S001C002P001R002A010", &file(300, 2.0));
    write(&raw, "S018C001P001R001A061", &file(30, 0.0));
    let missing =
        asma_data::formats::ntu::missing_list(asma_data::formats::ntu::MissingList::Ntu60)[0];
    write(
        &raw,
        missing,
        &SkeletonFile {
            frames: vec![Frame::default(); 10],
        },
    );
    std::fs::write(raw.join("README.txt"), "not a sample").unwrap();

    let out = tmp.path().join("xsub");
    let r = prepare(
        &PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &out),
        &|_| {},
    )
    .unwrap();
    assert_eq!(r.manifest.counts["train"], 2);
    assert_eq!(r.manifest.counts["val"], 1);
    assert_eq!(r.manifest.excluded["missing_list"], 1);
    assert_eq!(r.manifest.excluded["other_dataset"], 1);
    assert_eq!(r.manifest.excluded["not_a_sample"], 1);
    let train = MmapNpy::open_skeleton(out.join("train_position.npy")).unwrap();
    assert_eq!(train.shape(), &[2, 3, 50, 25, 2]);
    let labels = read_labels(&out.join("train_label.pkl")).unwrap();
    assert_eq!(
        labels.names,
        vec![
            "S001C001P001R001A001.skeleton",
            "S001C002P001R002A010.skeleton"
        ]
    );
    assert_eq!(labels.labels, vec![0, 9]);
    // Centred on J21 in every frame.
    let s = train.sequence(1).unwrap();
    assert!((0..50).all(|t| s.joint(t, 20, 0) == [0.0; 3]));
    assert!(r.manifest.outputs.iter().all(|o| o.sha256.len() == 64));

    let out300 = tmp.path().join("xsub300");
    let mut o = PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &out300);
    o.frames = 300;
    prepare(&o, &|_| {}).unwrap();
    let val = MmapNpy::open_skeleton(out300.join("val_data.npy")).unwrap();
    assert_eq!(val.shape(), &[1, 3, 300, 25, 2]);
    let v = val.sequence(0).unwrap();
    assert_eq!(
        v.joint(39, 0, 0),
        file(40, 0.0).frames[39].bodies[0].joints[0].xyz
    );
    assert_eq!(
        v.joint(40, 0, 0),
        [0.0; 3],
        "zero-padded after the sequence's end"
    );
}

#[test]
fn a_failed_run_keeps_the_previous_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    std::fs::create_dir(&raw).unwrap();
    write(&raw, "S001C001P001R001A001", &file(40, 0.0));
    write(&raw, "S001C001P003R001A001", &file(40, 0.5));
    let out = tmp.path().join("out");
    prepare(
        &PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &out),
        &|_| {},
    )
    .unwrap();
    let before = std::fs::read(out.join("train_position.npy")).unwrap();
    std::fs::write(raw.join("S001C001P001R001A002.skeleton"), "3\n1\n").unwrap();
    let e = prepare(
        &PrepareOptions::new(Dataset::Ntu60, Benchmark::Xsub, &raw, &out),
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("S001C001P001R001A002.skeleton: line 3: file is truncated"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(out.join("train_position.npy")).unwrap(),
        before
    );
    assert!(!out.join("train_position.npy.tmp").exists());
}

#[test]
fn pku_part1_clips_by_split_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (skel, labels) = (tmp.path().join("skeleton"), tmp.path().join("label"));
    std::fs::create_dir_all(&skel).unwrap();
    std::fs::create_dir_all(&labels).unwrap();
    for (video, rows) in [
        ("0002-L", "3,1,40,1\n7,41,90,2\n"),
        ("0003-M", "51,5,60,1\n"),
    ] {
        let text: String = (0..100)
            .map(|t| {
                (0..150)
                    .map(|k| {
                        if k < 75 {
                            format!("{:.4}", (t as f32 * 0.05 + k as f32 * 0.01).sin())
                        } else {
                            "0".into()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
                    + "\n"
            })
            .collect();
        std::fs::write(skel.join(format!("{video}.txt")), text).unwrap();
        std::fs::write(labels.join(format!("{video}.txt")), rows).unwrap();
    }
    let split = tmp.path().join("cross-subject.txt");
    std::fs::write(
        &split,
        "Training videos:\n0002-L, 0002-M\nValidation videos:\n0003-M\n",
    )
    .unwrap();
    let out = tmp.path().join("pku");
    let mut o = PrepareOptions::new(Dataset::Pku1, Benchmark::Xsub, &skel, &out);
    o.pku_labels = Some(labels);
    o.pku_split = Some(split);
    let r = prepare(&o, &|_| {}).unwrap();
    assert_eq!(
        (r.manifest.counts["train"], r.manifest.counts["val"]),
        (2, 1)
    );
    assert_eq!(r.manifest.num_classes, 51);
    let l = read_labels(&out.join("train_label.pkl")).unwrap();
    assert_eq!(
        l.names,
        vec!["F002V001C003L001.skeleton", "F002V001C007L002.skeleton"]
    );
    assert_eq!(l.labels, vec![2, 6]);
    let v = read_labels(&out.join("val_label.pkl")).unwrap();
    assert_eq!(
        (v.names[0].as_str(), v.labels[0]),
        ("F003V002C051L001.skeleton", 50)
    );
    assert_eq!(
        MmapNpy::open_skeleton(out.join("val_position.npy"))
            .unwrap()
            .shape(),
        &[1, 3, 50, 25, 2]
    );
}
