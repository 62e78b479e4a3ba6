//! Label contents and the printable SVG (QR code by the `qrcode` crate).

use chrono::FixedOffset;
use qrcode::QrCode;
use qrcode::render::svg;
use yifei_contract::{Category, Label, Packaging};

use super::{codes, rules};
use crate::error::ApiError;

/// What the label shows.
pub fn label(
    code: &str,
    producer: &str,
    created_at: chrono::NaiveDateTime,
    tz: FixedOffset,
    category: Category,
    packaging: Packaging,
    special_notes: Vec<String>,
) -> Label {
    let (hw, zh, en) = rules::category_info(category);
    Label {
        code: codes::display(code),
        title_zh: "医疗废物".into(),
        title_en: "MEDICAL WASTE".into(),
        producer: producer.to_owned(),
        date: created_at
            .and_utc()
            .with_timezone(&tz)
            .format("%Y-%m-%d")
            .to_string(),
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

/// A 100 x 70 mm label: the yellow warning band, the HJ 421 fields, and the QR code.
pub fn svg(l: &Label) -> Result<String, ApiError> {
    let qr =
        QrCode::new(l.qr_payload.as_bytes()).map_err(|e| ApiError::Internal(format!("QR: {e}")))?;
    let qr_svg = qr
        .render::<svg::Color<'_>>()
        .min_dimensions(230, 230)
        .quiet_zone(true)
        .build();
    // Nest the QR document as a positioned inner <svg>.
    let inner = qr_svg
        .split_once("<svg")
        .map(|(_, rest)| format!("<svg x=\"560\" y=\"150\" width=\"230\" height=\"230\"{rest}"))
        .unwrap_or_default();
    let mut lines = vec![
        format!("产生单位 Producer: {}", esc(&l.producer)),
        format!("产生日期 Date: {}", esc(&l.date)),
        format!(
            "类别 Category: {} {}",
            esc(&l.category_zh),
            esc(&l.category_en)
        ),
        format!("{} · {}", esc(&l.hw_code), esc(&l.packaging)),
    ];
    for n in &l.special_notes {
        lines.push(format!("特别说明 Note: {}", esc(n)));
    }
    let text: String = lines
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "<text x=\"20\" y=\"{}\" font-size=\"22\">{t}</text>",
                180 + i * 34
            )
        })
        .collect();
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100mm\" height=\"70mm\" viewBox=\"0 0 800 560\" font-family=\"sans-serif\">\n\
<rect width=\"800\" height=\"560\" fill=\"#ffffff\" stroke=\"#000000\" stroke-width=\"4\"/>\n\
<rect x=\"0\" y=\"0\" width=\"800\" height=\"120\" fill=\"#ffd400\"/>\n\
<text x=\"20\" y=\"75\" font-size=\"56\" font-weight=\"bold\">⚠ {} {}</text>\n\
{text}\n{inner}\n\
<text x=\"560\" y=\"420\" font-size=\"26\" font-family=\"monospace\" font-weight=\"bold\">{}</text>\n\
</svg>\n",
        esc(&l.title_zh),
        esc(&l.title_en),
        esc(&l.code)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_shows_the_hj421_fields_and_renders() {
        let t = chrono::DateTime::from_timestamp(1_772_409_600, 0)
            .expect("t")
            .naive_utc(); // 2026-03-02 00:00 UTC
        let tz = FixedOffset::east_opt(8 * 3600).expect("tz");
        let l = label(
            "ABCDEFGHJKMN",
            "王家村卫生室",
            t,
            tz,
            Category::Infectious,
            Packaging::Bag,
            vec!["<b>".into()],
        );
        assert_eq!(
            (l.category_zh.as_str(), l.hw_code.as_str()),
            ("感染性废物", "HW01 841-001-01")
        );
        assert_eq!(l.date, "2026-03-02");
        assert_eq!(l.code, "ABCD-EFGH-JKMN");
        let s = svg(&l).expect("svg");
        assert!(s.contains("医疗废物") && s.contains("王家村卫生室") && s.contains("&lt;b&gt;"));
        assert!(s.matches("<svg").count() == 2 && s.contains("<path") || s.contains("<rect"));
    }
}
