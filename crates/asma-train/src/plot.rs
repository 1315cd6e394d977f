//! Images of results: the confusion matrix as a PNG heat map (row-normalised: each true
//! class's row shows where its samples went; white = 0, dark blue = all of them), with a
//! green diagonal tint so correct predictions stand out.

use std::path::Path;

use crate::error::TrainError;

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
            let colour = if i == j {
                shade(f, [0, 110, 40])
            } else {
                shade(f, [8, 48, 107])
            };
            for y in i * cell..(i + 1) * cell {
                for x in j * cell..(j + 1) * cell {
                    rgb[(y * side + x) * 3..][..3].copy_from_slice(&colour);
                }
            }
        }
    }
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, side as u32, side as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let png_err = |e: png::EncodingError| TrainError::Config(format!("encoding a PNG: {e}"));
        let mut w = enc.write_header().map_err(png_err)?;
        w.write_image_data(&rgb).map_err(png_err)?;
    }
    crate::scores::write_atomic(path, &bytes)
}

/// Linear blend from white (f = 0) to `full` (f = 1).
fn shade(f: f64, full: [u8; 3]) -> [u8; 3] {
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
}
