//! Label contents and the printable SVG (QR code by the `qrcode` crate).
//!
//! The SVG is laid out by this module rather than left to the viewer: a label printer does
//! not reflow text, so every line is measured (conservatively, see [`text_width`]) and wrapped
//! or shrunk to stay inside its column, and nothing may run under the QR code.

use chrono::{FixedOffset, NaiveDateTime};
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};
use yifei_contract::{Category, Label, Packaging};

use super::{codes, rules};
use crate::error::ApiError;

/// What the label shows. The date is the production date (产生日期, HJ 421): the day the
/// waste was sealed, not the day the label was printed, so it is blank on a label printed
/// before sealing, for the clinic to write in.
#[allow(clippy::too_many_arguments)]
pub fn label(
    code: &str,
    producer: &str,
    created_at: NaiveDateTime,
    sealed_at: Option<NaiveDateTime>,
    tz: FixedOffset,
    category: Category,
    packaging: Packaging,
    special_notes: Vec<String>,
) -> Label {
    let (hw, zh, en) = rules::category_info(category);
    let local = |t: NaiveDateTime| {
        t.and_utc()
            .with_timezone(&tz)
            .format("%Y-%m-%d")
            .to_string()
    };
    Label {
        code: codes::display(code),
        title_zh: "医疗废物".into(),
        title_en: "MEDICAL WASTE".into(),
        producer: producer.to_owned(),
        date: sealed_at.map(local).unwrap_or_default(),
        printed_on: local(created_at),
        category_zh: zh.into(),
        category_en: en.into(),
        hw_code: format!("HW01 {hw}"),
        packaging: rules::packaging_name(packaging).into(),
        special_notes,
        qr_payload: codes::qr_payload(code),
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The label's canvas (user units; 8 units = 1 mm on the 100 x 70 mm label).
pub const WIDTH: f64 = 800.0;
pub const HEIGHT: f64 = 560.0;
/// Height of the yellow warning band.
const BAND: f64 = 120.0;
/// Left text column: from `MARGIN` to the QR code's left edge less a gap.
const MARGIN: f64 = 20.0;
/// Where the QR code sits (x, y, size); the code is printed under it.
pub const QR: (f64, f64, f64) = (560.0, 140.0, 220.0);
const COLUMN_END: f64 = QR.0 - 16.0;
/// Body text size and the smallest size a long label may shrink to (about 2 mm, still legible).
const BODY_SIZE: f64 = 22.0;
const MIN_SIZE: f64 = 15.0;

/// An upper bound of a line's advance width at `size`: CJK and other wide characters take a
/// full em, everything else at most 0.62 em in a bold sans-serif (DejaVu Sans Bold's widest
/// capitals are 0.84 em, so capitals count 0.78). Over-estimating only wastes a little space;
/// under-estimating clips text, which is the failure this guards.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars()
        .map(|c| {
            if c.is_ascii_uppercase() || c == 'W' || c == 'm' || c == 'w' {
                0.78
            } else if c.is_ascii() {
                0.62
            } else {
                1.0
            }
        })
        .sum::<f64>()
        * size
}

/// The advance width of a monospace line: DejaVu Sans Mono and its kin advance 0.602 em for
/// every ASCII character.
fn mono_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * 0.61 * size
}

/// One positioned line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub x: f64,
    /// Baseline.
    pub y: f64,
    pub size: f64,
    pub bold: bool,
    pub mono: bool,
    pub text: String,
}

impl Line {
    /// The box the line's glyphs can occupy (x0, y0, x1, y1), ascenders and descenders included.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (
            self.x,
            self.y - self.size,
            self.x
                + if self.mono {
                    mono_width(&self.text, self.size)
                } else {
                    text_width(&self.text, self.size)
                },
            self.y + 0.3 * self.size,
        )
    }
}

/// Breaks `text` into pieces no wider than `width` at `size`, at spaces where possible and
/// between any two characters otherwise (Chinese has no spaces).
fn wrap(text: &str, size: f64, width: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split_inclusive(' ') {
        let candidate = format!("{current}{word}");
        if text_width(candidate.trim_end(), size) <= width {
            current = candidate;
            continue;
        }
        if !current.is_empty() {
            lines.push(current.trim_end().to_owned());
            current = String::new();
        }
        for c in word.chars() {
            let candidate = format!("{current}{c}");
            if text_width(candidate.trim_end(), size) > width && !current.is_empty() {
                lines.push(current.trim_end().to_owned());
                current = c.to_string();
            } else {
                current = candidate;
            }
        }
    }
    if !current.trim().is_empty() {
        lines.push(current.trim_end().to_owned());
    }
    lines
}

/// Lays out every text line of the label: the title in the band, the fields wrapped in the
/// left column (shrinking the size until they fit above the bottom edge), the code under the
/// QR code.
pub fn layout(l: &Label) -> Vec<Line> {
    let mut out = vec![
        Line {
            x: 100.0,
            y: 82.0,
            size: 64.0,
            bold: true,
            mono: false,
            text: l.title_zh.clone(),
        },
        Line {
            x: 392.0,
            y: 80.0,
            size: 34.0,
            bold: true,
            mono: false,
            text: l.title_en.clone(),
        },
    ];
    let date = if l.date.is_empty() {
        "产生日期 Date: ____年__月__日".to_owned()
    } else {
        format!("产生日期 Date: {}", l.date)
    };
    let mut fields = vec![
        format!("产生单位 Producer: {}", l.producer),
        date,
        format!("类别 Category: {} {}", l.category_zh, l.category_en),
        format!("{} · {}", l.hw_code, l.packaging),
    ];
    for n in &l.special_notes {
        fields.push(format!("特别说明 Note: {n}"));
    }
    let width = COLUMN_END - MARGIN;
    let bottom = HEIGHT - 14.0;
    let mut size = BODY_SIZE;
    let wrapped = loop {
        let lines: Vec<String> = fields.iter().flat_map(|f| wrap(f, size, width)).collect();
        let needed = BAND + 20.0 + lines.len() as f64 * size * 1.45;
        if needed <= bottom || size <= MIN_SIZE {
            break lines;
        }
        size -= 1.0;
    };
    let mut y = BAND + 20.0 + size;
    for text in wrapped {
        out.push(Line {
            x: MARGIN,
            y,
            size,
            bold: false,
            mono: false,
            text,
        });
        y += size * 1.45;
    }
    let (qx, qy, qs) = QR;
    let code_size = 26.0;
    out.push(Line {
        x: qx + (qs - mono_width(&l.code, code_size)) / 2.0,
        y: qy + qs + 40.0,
        size: code_size,
        bold: true,
        mono: true,
        text: l.code.clone(),
    });
    out.push(Line {
        x: qx,
        y: qy + qs + 78.0,
        size: 16.0,
        bold: false,
        mono: false,
        text: format!("打印 printed {}", l.printed_on),
    });
    out
}

/// A 100 x 70 mm label: the yellow warning band, the HJ 421 fields, and the QR code.
pub fn svg(l: &Label) -> Result<String, ApiError> {
    // Quartile error correction: the payload is tiny, and bags get creased and soiled.
    let qr = QrCode::with_error_correction_level(l.qr_payload.as_bytes(), EcLevel::Q)
        .map_err(|e| ApiError::Internal(format!("QR: {e}")))?;
    let (qx, qy, qs) = QR;
    let qr_svg = qr
        .render::<svg::Color<'_>>()
        .min_dimensions(qs as u32, qs as u32)
        .quiet_zone(true)
        .build();
    // Nest the QR document as a positioned inner <svg>: its own root attributes other than
    // the namespace and viewBox are replaced by ours (it carries width and height itself).
    let inner = nested_qr(&qr_svg, qx, qy, qs)?;
    let text: String = layout(l)
        .iter()
        .map(|line| {
            format!(
                "<text x=\"{:.0}\" y=\"{:.0}\" font-size=\"{:.0}\"{}{}>{}</text>\n",
                line.x,
                line.y,
                line.size,
                if line.bold {
                    " font-weight=\"bold\""
                } else {
                    ""
                },
                if line.mono {
                    " font-family=\"monospace\""
                } else {
                    ""
                },
                esc(&line.text)
            )
        })
        .collect();
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100mm\" height=\"70mm\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"sans-serif\">\n\
<rect x=\"2\" y=\"2\" width=\"796\" height=\"556\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"4\"/>\n\
<rect x=\"4\" y=\"4\" width=\"792\" height=\"{}\" fill=\"#ffd400\"/>\n\
<path d=\"M52 22 L90 96 L14 96 Z\" fill=\"none\" stroke=\"#000000\" stroke-width=\"7\" stroke-linejoin=\"round\"/>\n\
<rect x=\"48\" y=\"44\" width=\"8\" height=\"30\" fill=\"#000000\"/>\n\
<rect x=\"48\" y=\"80\" width=\"8\" height=\"8\" fill=\"#000000\"/>\n\
{text}{inner}\n\
</svg>\n",
        BAND - 4.0,
    ))
}

/// The QR code's SVG as an element positioned at (x, y), size `s`.
fn nested_qr(doc: &str, x: f64, y: f64, s: f64) -> Result<String, ApiError> {
    let start = doc
        .find("<svg")
        .ok_or_else(|| ApiError::Internal("QR SVG has no root".into()))?;
    let open_end = doc[start..]
        .find('>')
        .map(|i| start + i)
        .ok_or_else(|| ApiError::Internal("QR SVG root is not closed".into()))?;
    let root = &doc[start..open_end];
    let view_box = root
        .split("viewBox=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .ok_or_else(|| ApiError::Internal("QR SVG has no viewBox".into()))?;
    Ok(format!(
        "<svg x=\"{x:.0}\" y=\"{y:.0}\" width=\"{s:.0}\" height=\"{s:.0}\" viewBox=\"{view_box}\" shape-rendering=\"crispEdges\">{}",
        &doc[open_end + 1..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(notes: Vec<String>, producer: &str, sealed: bool) -> Label {
        let t = chrono::DateTime::from_timestamp(1_772_409_600, 0)
            .expect("t")
            .naive_utc(); // 2026-03-02 00:00 UTC
        let sealed_at = sealed.then(|| t + chrono::Duration::days(3) + chrono::Duration::hours(17));
        let tz = FixedOffset::east_opt(8 * 3600).expect("tz");
        label(
            "ABCDEFGHJKMN",
            producer,
            t,
            sealed_at,
            tz,
            Category::Pharmaceutical,
            Packaging::Bag,
            notes,
        )
    }

    fn overlaps(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
        a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
    }

    #[test]
    fn the_date_is_the_local_seal_date_or_left_blank_to_write_in() {
        let l = sample(vec![], "王家村卫生室", true);
        // Sealed 2026-03-05 17:00 UTC = 2026-03-06 01:00 in UTC+8: the local day counts.
        assert_eq!(l.date, "2026-03-06");
        assert_eq!(l.printed_on, "2026-03-02");
        assert_eq!(
            (l.category_zh.as_str(), l.hw_code.as_str(), l.code.as_str()),
            ("药物性废物", "HW01 841-005-01", "ABCD-EFGH-JKMN")
        );
        let blank = sample(vec![], "王家村卫生室", false);
        assert_eq!(blank.date, "");
        assert!(
            layout(&blank)
                .iter()
                .any(|l| l.text.contains("____年__月__日"))
        );
    }

    #[test]
    fn every_line_stays_on_the_label_and_off_the_qr_code() {
        let long_name = "青石镇青石村第二卫生室（东山片区联合诊所附属康复门诊部）";
        let cases = [
            sample(vec![], "王家村卫生室", true),
            sample(
                vec!["内含药物性废物 contains pharmaceutical waste".into()],
                long_name,
                true,
            ),
            sample(
                (0..6)
                    .map(|i| format!("note {i}: 冷链 cold chain, components listed on sheet"))
                    .collect(),
                long_name,
                false,
            ),
        ];
        let (qx, qy, qs) = QR;
        let qr = (qx, qy, qx + qs, qy + qs);
        for l in &cases {
            let lines = layout(l);
            for (i, line) in lines.iter().enumerate() {
                let b = line.bounds();
                assert!(
                    b.0 >= 4.0 && b.2 <= WIDTH - 4.0 && b.1 >= 4.0 && b.3 <= HEIGHT - 4.0,
                    "line {i} {:?} leaves the label: {b:?}",
                    line.text
                );
                assert!(
                    !overlaps(b, qr),
                    "line {:?} runs under the QR code",
                    line.text
                );
                for other in &lines[i + 1..] {
                    assert!(
                        !overlaps(b, other.bounds()),
                        "{:?} overlaps {:?}",
                        line.text,
                        other.text
                    );
                }
            }
            let all: String = lines.iter().map(|l| l.text.as_str()).collect();
            for n in &l.special_notes {
                // Wrapping keeps every character of every note.
                let kept: String = n.chars().filter(|c| *c != ' ').collect();
                let shown: String = all.chars().filter(|c| *c != ' ').collect();
                assert!(shown.contains(&kept), "note {n:?} lost");
            }
        }
        // The title is not clipped (it was "MEDICAL WAST" once).
        let title = &layout(&cases[0])[1];
        assert_eq!(title.text, "MEDICAL WASTE");
    }

    #[test]
    fn the_svg_is_well_formed_xml_with_one_of_each_attribute() {
        let l = sample(vec!["<b> & \"quoted\"".into()], "王家村卫生室", true);
        let s = svg(&l).expect("svg");
        let doc = roxmltree::Document::parse(&s).expect("the label is well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let texts: String = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text())
            .collect();
        assert!(texts.contains("医疗废物") && texts.contains("王家村卫生室"));
        assert!(texts.contains("<b> & \"quoted\""));
        let nested: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("svg") && n != &root)
            .collect();
        assert_eq!(nested.len(), 1, "the QR code is one nested svg");
        assert_eq!(nested[0].attribute("width"), Some("220"));
        assert!(
            nested[0]
                .descendants()
                .any(|n| n.has_tag_name("path") || n.has_tag_name("rect"))
        );
    }

    /// Renders the label with librsvg (the renderer of GNOME and of many print pipelines),
    /// which refuses malformed SVG. CI installs it; elsewhere the test says it was skipped.
    #[test]
    fn the_svg_renders() {
        let l = sample(vec!["冷链 cold chain".into()], "王家村卫生室", true);
        let s = svg(&l).expect("svg");
        let dir = std::env::temp_dir().join(format!("yifei-label-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let (svg_path, png_path) = (dir.join("label.svg"), dir.join("label.png"));
        std::fs::write(&svg_path, &s).expect("write");
        let out = std::process::Command::new("rsvg-convert")
            .arg("--dpi-x=203")
            .arg("--dpi-y=203")
            .arg("-o")
            .arg(&png_path)
            .arg(&svg_path)
            .output();
        match out {
            Err(_) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIPPED: rsvg-convert not installed (apt-get install librsvg2-bin)");
            }
            Err(e) => panic!("rsvg-convert is required in CI: {e}"),
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "rsvg-convert refused the label: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let png = std::fs::read(&png_path).expect("png");
                assert_eq!(&png[1..4], b"PNG");
                // 100 mm at 203 dpi (a label printer's resolution) is 799 pixels wide.
                let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
                assert!((795..=805).contains(&w), "width {w}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
