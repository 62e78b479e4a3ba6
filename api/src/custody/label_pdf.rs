//! Labels as PDF at their real size (100 x 70 mm): the same layout as the SVG
//! ([`super::label::layout`]), drawn with the embedded CJK font so the label prints the same
//! from any machine. Either eight to an A4 sheet (2 x 4, for office printers and A4 label
//! stock) or one to a 100 x 70 mm page (for roll label printers).

use yifei_contract::Label;

use super::label::{self, QR, WIDTH};
use crate::error::ApiError;
use crate::paper::{A4, Doc, mm};

/// How labels are put on pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    /// Eight labels to an A4 page, 2 columns x 4 rows, 5 mm and 8.5 mm margins.
    A4,
    /// One label to a page of the label's own size.
    Label,
}

/// Label size in points.
pub fn label_size() -> (f32, f32) {
    (mm(100.0), mm(70.0))
}

/// Top-left corner (points) of the `i`-th label on its A4 page, and whether it starts a page.
fn a4_slot(i: usize) -> ((f32, f32), bool) {
    let (w, h) = label_size();
    let slot = i % 8;
    let (col, row) = (slot % 2, slot / 2);
    let left = (A4.0 - 2.0 * w) / 2.0;
    let top = (A4.1 - 4.0 * h) / 2.0;
    ((left + col as f32 * w, top + row as f32 * h), slot == 0)
}

/// The labels as one PDF.
pub fn sheet(labels: &[Label], how: Sheet) -> Result<Vec<u8>, ApiError> {
    let size = match how {
        Sheet::A4 => A4,
        Sheet::Label => label_size(),
    };
    let mut d = Doc::new(size, "医疗废物标签")?;
    for (i, l) in labels.iter().enumerate() {
        let origin = match how {
            Sheet::A4 => {
                let (origin, first) = a4_slot(i);
                if first {
                    d.page();
                }
                origin
            }
            Sheet::Label => {
                d.page();
                (0.0, 0.0)
            }
        };
        draw(&mut d, l, origin)?;
    }
    d.finish()
}

/// One label with its top-left corner at `origin` (points).
fn draw(d: &mut Doc, l: &Label, origin: (f32, f32)) -> Result<(), ApiError> {
    // The SVG's canvas is 8 units to the millimetre.
    let s = mm(100.0) / WIDTH as f32;
    let at = |x: f64, y: f64| (origin.0 + x as f32 * s, origin.1 + y as f32 * s);
    let (x, y) = at(2.0, 2.0);
    d.rect(x, y, 796.0 * s, 556.0 * s, 4.0 * s);
    let (x, y) = at(4.0, 4.0);
    d.fill_rgb(x, y, 792.0 * s, 116.0 * s, (1.0, 0.831, 0.0));
    let tri = [at(52.0, 22.0), at(90.0, 96.0), at(14.0, 96.0)];
    d.polygon(&tri, 7.0 * s);
    let (x, y) = at(48.0, 44.0);
    d.fill(x, y, 8.0 * s, 30.0 * s, 0.0);
    let (x, y) = at(48.0, 80.0);
    d.fill(x, y, 8.0 * s, 8.0 * s, 0.0);
    let (qx, qy, qs) = QR;
    for line in label::layout(l) {
        let size = line.size as f32 * s;
        let (mut x, y) = at(line.x, line.y);
        if line.mono {
            // Centred under the QR code with this font's own widths.
            let (cx, _) = at(qx + qs / 2.0, 0.0);
            x = cx - d.width(&line.text, size) / 2.0;
        }
        if line.bold {
            d.text_bold(x, y, size, &line.text);
        } else {
            d.text(x, y, size, &line.text);
        }
    }
    let (x, y) = at(qx, qy);
    d.qr(x, y, qs as f32 * s, &l.qr_payload)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_labels_fill_an_a4_sheet_inside_its_edges() {
        let (w, h) = label_size();
        assert!((w - 283.46).abs() < 0.01 && (h - 198.43).abs() < 0.01);
        let ((x0, y0), first) = a4_slot(0);
        let ((x7, y7), _) = a4_slot(7);
        assert!(first && !a4_slot(7).1 && a4_slot(8).1);
        assert!(x0 >= mm(4.9) && y0 >= mm(8.4), "margins {x0} {y0}");
        assert!(x7 + w <= A4.0 - mm(4.9) && y7 + h <= A4.1 - mm(8.4));
        assert_eq!(a4_slot(9).0, a4_slot(1).0);
    }
}
