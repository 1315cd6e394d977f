//! Images of results: the confusion matrix as a PNG heat map (row-normalised: each true
//! class's row shows where its samples went; white = 0, dark blue = all of them), with a
//! green diagonal tint so correct predictions stand out; and 2-D scatter plots (t-SNE of
//! teacher vs student features) side by side, one colour per class.

use std::path::Path;

use crate::error::TrainError;

/// The full colour of a diagonal (correct) cell and of any other cell.
pub(crate) const CORRECT: [u8; 3] = [0, 110, 40];
pub(crate) const CONFUSED: [u8; 3] = [8, 48, 107];

/// Writes `confusion[true][predicted]` as a PNG, one square cell per class pair.
pub fn write_confusion_png(confusion: &[Vec<u64>], path: &Path) -> Result<(), TrainError> {
    let c = confusion.len().max(1);
    let cell = (640 / c).clamp(2, 32);
    let side = c * cell;
    let mut rgb = vec![255u8; side * side * 3];
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &v) in row.iter().enumerate() {
            let f = if total > 0 {
                v as f64 / total as f64
            } else {
                0.0
            };
            let colour = shade(f, if i == j { CORRECT } else { CONFUSED });
            for y in i * cell..(i + 1) * cell {
                for x in j * cell..(j + 1) * cell {
                    rgb[(y * side + x) * 3..][..3].copy_from_slice(&colour);
                }
            }
        }
    }
    write_rgb_png(&rgb, side, side, path)
}

/// Writes an 8-bit RGB image (row-major, `width × height × 3` bytes) as a PNG, atomically.
fn write_rgb_png(rgb: &[u8], width: usize, height: usize, path: &Path) -> Result<(), TrainError> {
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, width as u32, height as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let png_err = |e: png::EncodingError| TrainError::Config(format!("encoding a PNG: {e}"));
        let mut w = enc.write_header().map_err(png_err)?;
        w.write_image_data(rgb).map_err(png_err)?;
    }
    Ok(asma_data::write_atomic(path, &bytes)?)
}

/// Side of one scatter panel in pixels.
pub(crate) const PANEL: usize = 480;
/// Distance of the grey frame from the panel's edge, so panels stay apart.
const FRAME_INSET: usize = 4;
/// Space between the frame and the outermost disc centres.
const MARGIN: usize = 16;
/// Disc radius in pixels: big enough to see the colour, small enough for 3000 points.
pub(crate) const RADIUS: i64 = 3;
const FRAME_GREY: [u8; 3] = [170, 170, 170];

/// One scatter panel: its name, its 2-D points, and each point's class.
pub type ScatterPanel<'a> = (&'a str, &'a [[f32; 2]], &'a [usize]);

/// Draws 2-D point sets side by side, left to right in the given order, each a 480-px square
/// scaled to its own points (one scale for both axes, so shapes are not distorted; y points
/// up). Each point is a disc coloured by its class, later points on top. The PNG has no text
/// (the crate has no font): [`crate::svg::write_scatter_svg`] draws the same figure with the
/// panels' names and a legend of class names.
pub fn scatter_png(
    panels: &[ScatterPanel<'_>],
    num_classes: usize,
    path: &Path,
) -> Result<(), TrainError> {
    check_panels(panels, num_classes)?;
    let width = PANEL * panels.len();
    let mut rgb = vec![255u8; width * PANEL * 3];
    for (k, &(_, points, labels)) in panels.iter().enumerate() {
        let x0 = k * PANEL;
        let mut put = |x: i64, y: i64, c: [u8; 3]| {
            if (0..PANEL as i64).contains(&x) && (0..PANEL as i64).contains(&y) {
                let at = (y as usize * width + x0 + x as usize) * 3;
                rgb[at..at + 3].copy_from_slice(&c);
            }
        };
        let (lo, hi) = (FRAME_INSET as i64, (PANEL - 1 - FRAME_INSET) as i64);
        for t in lo..=hi {
            for (x, y) in [(t, lo), (t, hi), (lo, t), (hi, t)] {
                put(x, y, FRAME_GREY);
            }
        }
        let to_pixel = fit(points);
        for (p, &l) in points.iter().zip(labels) {
            let (cx, cy) = to_pixel(p);
            let colour = class_colour(l);
            for dy in -RADIUS..=RADIUS {
                for dx in -RADIUS..=RADIUS {
                    if dx * dx + dy * dy <= RADIUS * RADIUS {
                        put(cx + dx, cy + dy, colour);
                    }
                }
            }
        }
    }
    write_rgb_png(&rgb, width, PANEL, path)
}

/// Errors, naming the panel, unless every panel has one class below `num_classes` per point
/// and only finite points (and there is at least one panel).
pub(crate) fn check_panels(
    panels: &[ScatterPanel<'_>],
    num_classes: usize,
) -> Result<(), TrainError> {
    if panels.is_empty() {
        return Err(TrainError::Config(
            "a scatter plot needs at least one panel".into(),
        ));
    }
    for &(name, points, labels) in panels {
        let err = |m: String| Err(TrainError::Config(format!("scatter panel '{name}': {m}")));
        if points.len() != labels.len() {
            return err(format!(
                "{} points but {} labels",
                points.len(),
                labels.len()
            ));
        }
        if let Some(l) = labels.iter().find(|&&l| l >= num_classes) {
            return err(format!(
                "label {l} is not below the class count {num_classes}"
            ));
        }
        if let Some(i) = points
            .iter()
            .position(|p| !(p[0].is_finite() && p[1].is_finite()))
        {
            return err(format!("point {i} is not finite"));
        }
    }
    Ok(())
}

/// The map from data to panel pixels: the bounding box's centre to the panel's centre, its
/// longer side to the panel less the margins.
pub(crate) fn fit(points: &[[f32; 2]]) -> impl Fn(&[f32; 2]) -> (i64, i64) {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in points {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a] as f64);
            hi[a] = hi[a].max(p[a] as f64);
        }
    }
    let span = (hi[0] - lo[0]).max(hi[1] - lo[1]);
    // All points equal (or none): everything sits at the centre.
    let scale = if span > 0.0 {
        (PANEL - 1 - 2 * MARGIN) as f64 / span
    } else {
        0.0
    };
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let mid = (PANEL - 1) as f64 / 2.0;
    move |p| {
        let x = mid + (p[0] as f64 - centre[0]) * scale;
        let y = mid - (p[1] as f64 - centre[1]) * scale;
        (x.round() as i64, y.round() as i64)
    }
}

/// Class `c`'s colour: hues a golden angle apart (neighbouring classes get far-apart hues,
/// and no hue repeats), with value cycling over 3 levels and saturation over 2 so that
/// classes whose hues nearly meet again (c and c + 8, 13, 21, 34, 55 …) still differ. Never
/// white or grey, so points stand out from the background and the frame.
pub(crate) fn class_colour(c: usize) -> [u8; 3] {
    let h = (c as f64 * 137.507_764_050_037_85).rem_euclid(360.0) / 60.0;
    let v = [0.92, 0.72, 0.52][c % 3];
    let s = [1.0, 0.6][(c / 3) % 2];
    let chroma = v * s;
    let x = chroma * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    let m = v - chroma;
    [r, g, b].map(|u| ((u + m) * 255.0).round() as u8)
}

/// Linear blend from white (f = 0) to `full` (f = 1).
pub(crate) fn shade(f: f64, full: [u8; 3]) -> [u8; 3] {
    full.map(|c| (255.0 - f.clamp(0.0, 1.0) * (255.0 - c as f64)).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_decodable_png_of_the_expected_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.png");
        write_confusion_png(&[vec![3, 1], vec![0, 4]], &p).unwrap();
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&p).unwrap()));
        let reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), (64, 64));
        assert_eq!(shade(0.0, [8, 48, 107]), [255, 255, 255]);
        assert_eq!(shade(1.0, [8, 48, 107]), [8, 48, 107]);
    }

    fn decode(p: &Path) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(p).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn scatter_png_draws_panels_side_by_side_coloured_by_class() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tsne.png");
        let teacher = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]];
        let student = [[-5.0, 2.0], [5.0, 2.0]];
        scatter_png(
            &[
                ("teacher", &teacher, &[0, 1, 2, 3]),
                ("student", &student, &[119, 7]),
            ],
            120,
            &p,
        )
        .unwrap();
        let (w, h, rgb) = decode(&p);
        assert_eq!((w, h), (960, 480));
        let px = |x: usize, y: usize| [0, 1, 2].map(|c| rgb[(y * 960 + x) * 3 + c]);
        // Teacher: the unit square spans 479 − 2·16 = 447 px around the centre 239.5, so
        // (0, 0) lands at (16, 463) and (1, 1) at (463, 16) (y points up).
        assert_eq!(px(16, 463), class_colour(0));
        assert_eq!(px(463, 16), class_colour(3));
        assert_eq!(px(16 + 3, 463), class_colour(0), "radius 3");
        // Student: the x span of 10 fits the same width; y = 2 is the centre row.
        assert_eq!(px(480 + 16, 240), class_colour(119));
        assert_eq!(px(480 + 463, 240), class_colour(7));
        assert_eq!(px(0, 0), [255; 3]);
        assert_eq!(px(959, 479), [255; 3]);
        assert_eq!(px(FRAME_INSET, 200), FRAME_GREY);
        assert_eq!(px(480 + 100, FRAME_INSET), FRAME_GREY);
    }

    #[test]
    fn scatter_png_palette_is_distinct_and_never_white_or_grey() {
        let colours: Vec<[u8; 3]> = (0..120).map(class_colour).collect();
        for (i, a) in colours.iter().enumerate() {
            assert!(
                a.iter().min() != a.iter().max(),
                "class {i} is grey or white"
            );
            for b in &colours[..i] {
                let d: i32 = a
                    .iter()
                    .zip(b)
                    .map(|(&x, &y)| (x as i32 - y as i32).abs())
                    .sum();
                assert!(d >= 12, "class {i} is too close to another: {a:?} {b:?}");
            }
        }
    }

    #[test]
    fn scatter_png_rejects_bad_panels() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.png");
        let pts = [[0.0, 0.0], [1.0, f32::NAN]];
        let msg = |panels: &[ScatterPanel<'_>]| scatter_png(panels, 2, &p).unwrap_err().to_string();
        assert!(msg(&[]).contains("at least one panel"));
        assert!(msg(&[("s", &pts[..1], &[0, 1])]).contains("1 points but 2 labels"));
        assert!(msg(&[("s", &pts[..1], &[2])]).contains("label 2"));
        assert!(msg(&[("s", &pts, &[0, 1])]).contains("'s': point 1"));
        assert!(!p.exists());
    }
}
