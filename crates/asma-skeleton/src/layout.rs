//! Joint layouts. Today: the 25-joint Kinect v2 layout used by NTU RGB+D 60/120 and
//! PKU-MMD (docs/DATA.md §1.3, docs/METHOD.md §3.1). Other layouts (COCO-17, OpenPose, MediaPipe)
//! fit the same [`Layout`] type.

use serde::Serialize;

/// A skeleton layout: joint names, the undirected bone graph, its centre joint, the
/// directed bone pairs of the bone stream and the left/right mirror permutation.
#[derive(Debug, Clone, Serialize)]
pub struct Layout {
    /// Short identifier, e.g. `"ntu-rgb+d"`.
    pub name: &'static str,
    /// Joint names in index order.
    pub joint_names: &'static [&'static str],
    /// Undirected edges, 0-based, no self loops.
    pub edges: &'static [(usize, usize)],
    /// Index of the centre joint of the spatial partition.
    pub center: usize,
    /// `(child, parent)` pairs, 0-based: `bone[child] = joint[child] − joint[parent]`; the
    /// centre joint has no pair and its bone is zero.
    pub bone_pairs: &'static [(usize, usize)],
    /// Position `i` of a flipped skeleton takes joint `flip_perm[i]`.
    pub flip_perm: &'static [usize],
}

/// NTU RGB+D / Kinect v2, 25 joints, centre J21 (index 20, "spine shoulder").
pub const NTU25: Layout = Layout {
    name: "ntu-rgb+d",
    joint_names: &[
        "base of spine",
        "middle of spine",
        "neck",
        "head",
        "left shoulder",
        "left elbow",
        "left wrist",
        "left hand",
        "right shoulder",
        "right elbow",
        "right wrist",
        "right hand",
        "left hip",
        "left knee",
        "left ankle",
        "left foot",
        "right hip",
        "right knee",
        "right ankle",
        "right foot",
        "spine shoulder",
        "left hand tip",
        "left thumb",
        "right hand tip",
        "right thumb",
    ],
    // The ST-GCN "ntu-rgb+d" edges, 1-based (1,2) (2,21) (3,21) (4,3) (5,21) (6,5) (7,6)
    // (8,7) (9,21) (10,9) (11,10) (12,11) (13,1) (14,13) (15,14) (16,15) (17,1) (18,17)
    // (19,18) (20,19) (22,23) (23,8) (24,25) (25,12).
    edges: &[
        (0, 1),
        (1, 20),
        (2, 20),
        (3, 2),
        (4, 20),
        (5, 4),
        (6, 5),
        (7, 6),
        (8, 20),
        (9, 8),
        (10, 9),
        (11, 10),
        (12, 0),
        (13, 12),
        (14, 13),
        (15, 14),
        (16, 0),
        (17, 16),
        (18, 17),
        (19, 18),
        (21, 22),
        (22, 7),
        (23, 24),
        (24, 11),
    ],
    center: 20,
    // Same 24 pairs, read as (child, parent) (docs/DATA.md §4.1).
    bone_pairs: &[
        (0, 1),
        (1, 20),
        (2, 20),
        (3, 2),
        (4, 20),
        (5, 4),
        (6, 5),
        (7, 6),
        (8, 20),
        (9, 8),
        (10, 9),
        (11, 10),
        (12, 0),
        (13, 12),
        (14, 13),
        (15, 14),
        (16, 0),
        (17, 16),
        (18, 17),
        (19, 18),
        (21, 22),
        (22, 7),
        (23, 24),
        (24, 11),
    ],
    flip_perm: &[
        0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22,
    ],
};

impl Layout {
    /// Number of joints.
    pub fn num_joints(&self) -> usize {
        self.joint_names.len()
    }

    /// Bones touching each joint (self loops not counted).
    pub fn degrees(&self) -> Vec<usize> {
        let mut deg = vec![0; self.num_joints()];
        for &(a, b) in self.edges {
            deg[a] += 1;
            deg[b] += 1;
        }
        deg
    }

    /// Hop distance (0, 1, or `None` for "further than one hop"), as ST-GCN computes it
    /// with `max_hop = 1`.
    pub fn hop1(&self, a: usize, b: usize) -> Option<usize> {
        if a == b {
            Some(0)
        } else if self
            .edges
            .iter()
            .any(|&(x, y)| (x, y) == (a, b) || (x, y) == (b, a))
        {
            Some(1)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntu25_degrees_match_the_spec() {
        let deg = NTU25.degrees();
        assert_eq!(
            deg,
            vec![3, 2, 2, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 1, 4, 1, 2, 1, 2]
        );
        assert_eq!(deg.iter().sum::<usize>(), 48);
        assert_eq!(NTU25.edges.len(), 24);
        assert_eq!(NTU25.num_joints(), 25);
        assert_eq!(NTU25.center, 20);
    }

    #[test]
    fn bone_pairs_cover_every_joint_but_the_centre_once() {
        let mut children: Vec<usize> = NTU25.bone_pairs.iter().map(|p| p.0).collect();
        children.sort();
        let expected: Vec<usize> = (0..25).filter(|&j| j != 20).collect();
        assert_eq!(children, expected);
    }

    #[test]
    fn flip_is_an_involution_that_swaps_sides() {
        let p = NTU25.flip_perm;
        for i in 0..25 {
            assert_eq!(p[p[i]], i);
        }
        assert_eq!(p[4], 8); // left shoulder <- right shoulder
        assert_eq!(p[21], 23); // left hand tip <- right hand tip
        assert_eq!(p[20], 20);
    }
}
