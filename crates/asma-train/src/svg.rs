//! The figures of [`crate::plot`] again as SVG, where text is free: the confusion matrix with
//! every row and column named, and the t-SNE panels with their names and a legend of the
//! classes. The PNGs stay (a quick look, no text: the crate has no font); these are the ones
//! to read and to put in a paper. Same colours, same row normalisation, same panel layout.

use std::fmt::Write as _;
use std::path::Path;

use asma_skeleton::ClassNames;

use crate::error::TrainError;
use crate::plot::{
    check_panels, class_colour, fit, shade, ScatterPanel, CONFUSED, CORRECT, PANEL, RADIUS,
};

const CELL: usize = 14;
const FONT: usize = 10;
/// Width of one character of the 10-px sans-serif labels, generously (labels never overlap
/// the cells).
const CHAR: usize = 6;

/// How a person reads class `i`: `3 brushing hair` with names, `3` without (the index first,
/// so labels still sort). The confusion CSV uses it too.
pub(crate) fn class_label(i: usize, names: Option<&ClassNames>) -> String {
    match names.and_then(|n| n.name(i)) {
        Some(name) => format!("{i} {name}"),
        None => i.to_string(),
    }
}

/// Text made safe for XML.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rgb(c: [u8; 3]) -> String {
    format!("rgb({},{},{})", c[0], c[1], c[2])
}

fn write(path: &Path, svg: &str) -> Result<(), TrainError> {
    Ok(asma_data::write_atomic(path, svg.as_bytes())?)
}

/// `confusion[true][predicted]` as SVG: rows are true classes (labelled left), columns
/// predictions (labelled above, upright text turned a quarter); each cell shaded by its share
/// of the row, with its count and share as a tooltip.
pub fn confusion_svg(confusion: &[Vec<u64>], names: Option<&ClassNames>) -> String {
    let c = confusion.len();
    let labels: Vec<String> = (0..c).map(|i| escape(&class_label(i, names))).collect();
    let gutter = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1) * CHAR + 8;
    let side = gutter + c * CELL + 8;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" font-family="sans-serif" font-size="{FONT}">
<rect width="{side}" height="{side}" fill="white"/>
<text x="4" y="{FONT}" fill="gray">true ↓ predicted →</text>
"#
    );
    for (i, l) in labels.iter().enumerate() {
        let at = gutter + i * CELL + CELL / 2;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" dominant-baseline="middle">{l}</text>"#,
            gutter - 4,
            at
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate({at},{}) rotate(-90)" dominant-baseline="middle">{l}</text>"#,
            gutter - 4
        );
    }
    for (i, row) in confusion.iter().enumerate() {
        let total: u64 = row.iter().sum();
        for (j, &v) in row.iter().enumerate().filter(|&(_, &v)| v > 0) {
            let f = v as f64 / total as f64;
            let fill = rgb(shade(f, if i == j { CORRECT } else { CONFUSED }));
            let _ = writeln!(
                s,
                r#"<rect x="{}" y="{}" width="{CELL}" height="{CELL}" fill="{fill}"><title>{} → {}: {v} of {total}</title></rect>"#,
                gutter + j * CELL,
                gutter + i * CELL,
                labels[i],
                labels[j]
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<rect x="{gutter}" y="{gutter}" width="{0}" height="{0}" fill="none" stroke="gray"/>"#,
        c * CELL
    );
    s.push_str("</svg>\n");
    s
}

/// [`confusion_svg`] written atomically to `path`.
pub fn write_confusion_svg(
    confusion: &[Vec<u64>],
    names: Option<&ClassNames>,
    path: &Path,
) -> Result<(), TrainError> {
    write(path, &confusion_svg(confusion, names))
}

/// The panels of [`crate::plot::scatter_png`] (same placement, same colours) with each
/// panel's name above it and, on the right, a legend of the classes that occur.
pub fn scatter_svg(
    panels: &[ScatterPanel<'_>],
    num_classes: usize,
    names: Option<&ClassNames>,
) -> Result<String, TrainError> {
    check_panels(panels, num_classes)?;
    let title = 2 * FONT + 4;
    let mut present = vec![false; num_classes];
    for &(_, _, labels) in panels {
        labels.iter().for_each(|&l| present[l] = true);
    }
    let legend: Vec<usize> = (0..num_classes).filter(|&c| present[c]).collect();
    let legend_width = legend
        .iter()
        .map(|&c| class_label(c, names).chars().count())
        .max()
        .unwrap_or(0)
        * CHAR
        + 24;
    let width = PANEL * panels.len() + legend_width;
    let height = (title + PANEL).max(title + legend.len() * CELL + 8);
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="{FONT}">
<rect width="{width}" height="{height}" fill="white"/>
"#
    );
    for (k, &(name, points, labels)) in panels.iter().enumerate() {
        let x0 = k * PANEL;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle" font-size="{}">{}</text>"#,
            x0 + PANEL / 2,
            FONT + 6,
            FONT + 2,
            escape(name)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="rgb(170,170,170)"/>"#,
            x0 + 4,
            title + 4,
            PANEL - 9,
            PANEL - 9
        );
        let to_pixel = fit(points);
        for (p, &l) in points.iter().zip(labels) {
            let (x, y) = to_pixel(p);
            let _ = writeln!(
                s,
                r#"<circle cx="{}" cy="{}" r="{RADIUS}" fill="{}"/>"#,
                x0 as i64 + x,
                title as i64 + y,
                rgb(class_colour(l))
            );
        }
    }
    let lx = PANEL * panels.len() + 8;
    for (row, &c) in legend.iter().enumerate() {
        let y = title + row * CELL;
        let _ = writeln!(
            s,
            r#"<circle cx="{}" cy="{}" r="4" fill="{}"/><text x="{}" y="{}" dominant-baseline="middle">{}</text>"#,
            lx + 4,
            y + CELL / 2,
            rgb(class_colour(c)),
            lx + 12,
            y + CELL / 2,
            escape(&class_label(c, names))
        );
    }
    s.push_str("</svg>\n");
    Ok(s)
}

/// [`scatter_svg`] written atomically to `path`.
pub fn write_scatter_svg(
    panels: &[ScatterPanel<'_>],
    num_classes: usize,
    names: Option<&ClassNames>,
    path: &Path,
) -> Result<(), TrainError> {
    write(path, &scatter_svg(panels, num_classes, names)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> ClassNames {
        ClassNames::new(
            list.iter().map(|s| s.to_string()).collect(),
            list.len(),
            "test",
        )
        .unwrap()
    }

    #[test]
    fn the_confusion_matrix_names_its_rows_and_columns_and_shades_by_row() {
        let n = names(&["walk", "wave & <sit>"]);
        let svg = confusion_svg(&[vec![3, 1], vec![0, 4]], Some(&n));
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>\n"));
        // Each label twice: the row's and the column's; escaped.
        assert_eq!(svg.matches(">0 walk</text>").count(), 2);
        assert_eq!(svg.matches(">1 wave &amp; &lt;sit&gt;</text>").count(), 2);
        // Three non-zero cells; the diagonal green, the rest blue, shaded by the row's share.
        assert_eq!(svg.matches("<rect x=").count(), 3 + 1);
        let fill = |f: f64, full| format!("fill=\"{}\"", rgb(shade(f, full)));
        assert!(svg.contains(&fill(0.75, CORRECT)));
        assert!(svg.contains(&fill(0.25, CONFUSED)));
        assert!(svg.contains(&fill(1.0, CORRECT)));
        assert!(svg.contains("<title>0 walk → 1 wave &amp; &lt;sit&gt;: 1 of 4</title>"));
        // Without names, the indices.
        let plain = confusion_svg(&[vec![3, 1], vec![0, 4]], None);
        assert_eq!(plain.matches(">1</text>").count(), 2);
    }

    #[test]
    fn the_scatter_names_its_panels_and_its_classes_where_the_png_puts_the_points() {
        let teacher = [[0.0, 0.0], [1.0, 1.0]];
        let student = [[-5.0, 2.0], [5.0, 2.0]];
        let n = names(&["drink water", "eat meal", "brushing teeth"]);
        let svg = scatter_svg(
            &[
                ("teacher", &teacher, &[0, 2]),
                ("student", &student, &[2, 0]),
            ],
            3,
            Some(&n),
        )
        .unwrap();
        assert!(svg.contains(">teacher</text>") && svg.contains(">student</text>"));
        // The legend lists the classes that occur, by name, in the points' colours.
        assert!(svg.contains(">0 drink water</text>") && svg.contains(">2 brushing teeth</text>"));
        assert!(!svg.contains("eat meal"));
        assert!(svg.contains(&format!("fill=\"{}\"/><text", rgb(class_colour(2)))));
        // The PNG's pixels, shifted down by the title band: (0, 0) of the teacher at
        // (16, 463), the student's left point at x = 480 + 16.
        let title = 2 * FONT + 4;
        assert!(svg.contains(&format!("<circle cx=\"16\" cy=\"{}\"", title + 463)));
        assert!(svg.contains(&format!(
            "<circle cx=\"{}\" cy=\"{}\"",
            480 + 16,
            title + 240
        )));
        assert_eq!(svg.matches("<circle cx=").count(), 4 + 2);
        // Bad panels are the PNG's errors.
        assert!(scatter_svg(&[("s", &teacher, &[0, 3])], 3, None)
            .unwrap_err()
            .to_string()
            .contains("label 3"));
    }
}
