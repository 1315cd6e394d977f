//! The three Kinect v2 sensors of a setup and their projections.
//!
//! NTU RGB+D recorded every performance with three Kinects at the same height, at −45°,
//! 0° and +45° around the performer; each setup changed their height and distance. Each
//! performance was done twice, once facing the left and once facing the right camera, so
//! camera 1 always sees a 45° view while cameras 2 and 3 see front and side views in turn.
//! The rig here reproduces that geometry (C001 at 0°, C002 at −45°, C003 at +45°, per-setup
//! height, distance and small misalignments), so the cross-view split means what it means
//! on real data.
//!
//! Camera space is the Kinect's: origin at the sensor, z along the optical axis (depth),
//! y up, x to the sensor's left, metres. Pixel coordinates come from pinhole models of the
//! 512×424 depth camera and of the 1920×1080 colour camera, which sits 5.2 cm beside it.

use asma_data::rng::Rng;

use super::math::{v3, M3, V3};

/// Depth camera: image size, focal length and principal point (pixels).
pub const DEPTH_SIZE: [f64; 2] = [512.0, 424.0];
const DEPTH_F: f64 = 365.5;
const DEPTH_C: [f64; 2] = [255.5, 211.5];
/// Colour camera (1920×1080): focal length, principal point, and its offset along x from
/// the depth camera (metres).
const COLOR_F: f64 = 1063.0;
const COLOR_C: [f64; 2] = [959.5, 539.5];
const COLOR_BASELINE: f64 = 0.052;

/// One sensor: where it stands and how it is turned (world → camera).
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    /// Sensor position, world frame (y up, floor at y = 0).
    pub pos: V3,
    /// Rows: the camera's x (sensor's left), y (up) and z (optical axis) in world axes.
    pub rot: M3,
}

impl Camera {
    /// A sensor at `pos` aimed at `target`, kept level (no roll), as a tripod-mounted Kinect.
    pub fn looking_at(pos: V3, target: V3) -> Camera {
        let fwd = (target - pos).unit_or(v3(0.0, 0.0, -1.0));
        let left = v3(0.0, 1.0, 0.0).cross(fwd).unit_or(v3(1.0, 0.0, 0.0));
        let up = fwd.cross(left);
        Camera {
            pos,
            rot: M3::from_rows(left, up, fwd),
        }
    }

    /// A world point in camera space.
    pub fn to_camera(&self, p: V3) -> V3 {
        self.rot.apply(p - self.pos)
    }

    /// A world rotation (e.g. a joint orientation) expressed in camera axes.
    pub fn rotate(&self, m: M3) -> M3 {
        self.rot * m
    }
}

/// Depth-image pixel of a camera-space point (x to the sensor's left appears to the right
/// in the stored, mirrored image, as in the NTU files).
pub fn depth_pixel(p: V3) -> [f64; 2] {
    let z = p.z.max(0.1);
    [
        DEPTH_C[0] + DEPTH_F * p.x / z,
        DEPTH_C[1] - DEPTH_F * p.y / z,
    ]
}

/// Colour-image pixel of a camera-space point.
pub fn color_pixel(p: V3) -> [f64; 2] {
    let z = p.z.max(0.1);
    [
        COLOR_C[0] + COLOR_F * (p.x + COLOR_BASELINE) / z,
        COLOR_C[1] - COLOR_F * p.y / z,
    ]
}

/// The Kinect `clippedEdges` bitmask of a depth pixel: 1 right, 2 left, 4 top, 8 bottom.
pub fn clipped_edges(px: [f64; 2]) -> u32 {
    let mut m = 0;
    if px[0] < 0.0 {
        m |= 1;
    }
    if px[0] >= DEPTH_SIZE[0] {
        m |= 2;
    }
    if px[1] < 0.0 {
        m |= 4;
    }
    if px[1] >= DEPTH_SIZE[1] {
        m |= 8;
    }
    m
}

/// The three sensors of one setup, around the stage centre (world origin).
#[derive(Debug, Clone)]
pub struct Rig {
    /// Cameras C001, C002, C003.
    pub cams: [Camera; 3],
    /// Azimuth of each camera around the stage (radians; 0 = C001).
    pub azimuth: [f64; 3],
}

impl Rig {
    /// The rig of `setup`: height and distance are per setup, like NTU's 17 setups.
    pub fn new(seed: u64, setup: u16) -> Rig {
        let mut r = Rng::derive(seed ^ 0xCA3E_4A00_0000_0001, setup as u64);
        let height = r.uniform(0.75, 1.3);
        let distance = r.uniform(2.85, 3.4);
        let aim = r.uniform(0.75, 1.05);
        let deg = std::f64::consts::PI / 180.0;
        let base = [0.0, -45.0 * deg, 45.0 * deg];
        let mut azimuth = [0.0; 3];
        let cams = std::array::from_fn(|i| {
            let a = base[i] + r.uniform(-3.0, 3.0) * deg;
            azimuth[i] = a;
            let d = distance + r.uniform(-0.12, 0.12);
            let h = height + r.uniform(-0.04, 0.04);
            let pos = v3(d * a.sin(), h, d * a.cos());
            Camera::looking_at(pos, v3(0.0, aim, 0.0))
        });
        Rig { cams, azimuth }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_centre_projects_near_the_image_centre_at_kinect_depths() {
        for setup in 1..=17 {
            let rig = Rig::new(11, setup);
            for cam in &rig.cams {
                let p = cam.to_camera(v3(0.0, 0.9, 0.0));
                assert!(p.z > 2.5 && p.z < 3.6, "{p:?}");
                let d = depth_pixel(p);
                assert!(
                    (d[0] - 255.5).abs() < 5.0 && (d[1] - 211.5).abs() < 30.0,
                    "{d:?}"
                );
                // A standing person (feet to head) stays inside the depth image.
                for y in [0.0, 1.9] {
                    let q = depth_pixel(cam.to_camera(v3(0.3, y, 0.3)));
                    assert_eq!(clipped_edges(q), 0, "{q:?}");
                }
            }
        }
    }

    #[test]
    fn pixels_are_pinhole_projections_of_the_same_point() {
        let p = v3(0.2181, 0.1726, 3.7855);
        let d = depth_pixel(p);
        // Back-projecting the depth pixel at the same depth recovers the point.
        let x = (d[0] - DEPTH_C[0]) * p.z / DEPTH_F;
        let y = (DEPTH_C[1] - d[1]) * p.z / DEPTH_F;
        assert!((x - p.x).abs() < 1e-12 && (y - p.y).abs() < 1e-12);
        let c = color_pixel(p);
        assert!((c[0] - (COLOR_C[0] + COLOR_F * (p.x + 0.052) / p.z)).abs() < 1e-9);
        // Same ray direction in both images up to the baseline: colour y / depth y agree.
        let ratio = (COLOR_C[1] - c[1]) / (DEPTH_C[1] - d[1]);
        assert!((ratio - COLOR_F / DEPTH_F).abs() < 1e-9);
    }

    #[test]
    fn camera_axes_are_kinect_axes() {
        // A camera on +z looking at the origin: its left is world −x, its up world +y.
        let cam = Camera::looking_at(v3(0.0, 1.0, 3.0), v3(0.0, 1.0, 0.0));
        let p = cam.to_camera(v3(-1.0, 2.0, 0.0));
        assert!((p.x - 1.0).abs() < 1e-12 && (p.y - 1.0).abs() < 1e-12);
        assert!((p.z - 3.0).abs() < 1e-12);
        assert_eq!(clipped_edges([-1.0, 500.0]), 1 | 8);
    }
}
