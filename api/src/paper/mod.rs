//! Paper: A4 PDF documents in Chinese, drawn by this module (pdf-writer) with the CJK font
//! that ships with the project, subset per document (subsetter), so a PDF reads the same on
//! any machine and stays small.
//!
//! The embedded font is a GB 2312 subset of Noto Sans CJK SC (SIL OFL 1.1, `fonts/`): 1.5 MB
//! in the binary, some 30 KB in a typical document. A character outside it (a rare 生僻字 in
//! a village name) prints as the font's empty box, visibly, rather than as another
//! character; the JSON manifest stays the record.

pub mod qr;

use std::collections::BTreeMap;

use pdf_writer::types::{
    CidFontType, FontFlags, LineJoinStyle, SystemInfo, TextRenderingMode, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use subsetter::GlyphRemapper;

use crate::error::ApiError;

/// The font every document is set in.
static FONT: &[u8] = include_bytes!("../../../fonts/NotoSansSC-GB2312.otf");

/// A4 in PostScript points.
pub const A4: (f32, f32) = (595.28, 841.89);

/// Millimetres to points.
pub fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

/// A document being drawn: pages of content in top-left coordinates (points, y down), and
/// the glyphs used so far (new glyph id -> character, for the text layer).
pub struct Doc {
    face: ttf_parser::Face<'static>,
    remapper: GlyphRemapper,
    chars: BTreeMap<u16, char>,
    pages: Vec<Content>,
    current: usize,
    size: (f32, f32),
    title: String,
}

impl Doc {
    /// An empty document of pages `size` (points).
    pub fn new(size: (f32, f32), title: &str) -> Result<Doc, ApiError> {
        let face = ttf_parser::Face::parse(FONT, 0)
            .map_err(|e| ApiError::Internal(format!("embedded font: {e}")))?;
        Ok(Doc {
            face,
            remapper: GlyphRemapper::new(),
            chars: BTreeMap::new(),
            pages: Vec::new(),
            current: 0,
            size,
            title: title.to_owned(),
        })
    }

    /// Starts a new page; drawing goes there from now on.
    pub fn page(&mut self) {
        self.pages.push(Content::new());
        self.current = self.pages.len() - 1;
    }

    /// Goes back to page `i` (from 0) to draw on it, e.g. a footer once the count is known.
    pub fn goto(&mut self, i: usize) {
        if i < self.pages.len() {
            self.current = i;
        }
    }

    /// Pages so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn content(&mut self) -> &mut Content {
        if self.pages.is_empty() {
            self.page();
        }
        &mut self.pages[self.current]
    }

    fn units_per_em(&self) -> f32 {
        f32::from(self.face.units_per_em())
    }

    /// Advance width of `text` at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let upem = self.units_per_em();
        text.chars()
            .map(|c| {
                let g = self.face.glyph_index(c).unwrap_or(ttf_parser::GlyphId(0));
                f32::from(self.face.glyph_hor_advance(g).unwrap_or(0)) / upem * size
            })
            .sum()
    }

    /// `text` cut to fit `max` points, with an ellipsis when cut.
    pub fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_owned();
        }
        let mut out = String::new();
        for c in text.chars() {
            out.push(c);
            if self.width(&out, size) + self.width("…", size) > max {
                out.pop();
                break;
            }
        }
        out.push('…');
        out
    }

    /// `text` broken into lines of at most `max` points (at any character: Chinese has no
    /// spaces; a Latin word may break too, which a form can live with).
    pub fn wrap(&self, text: &str, size: f32, max: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for para in text.split('\n') {
            let mut line = String::new();
            for c in para.chars() {
                line.push(c);
                if self.width(&line, size) > max && line.chars().count() > 1 {
                    line.pop();
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                }
            }
            lines.push(line);
        }
        lines
    }

    /// Draws `text` with its baseline at `y` (from the top), left edge at `x`.
    pub fn text(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.text_styled(x, y, size, text, false);
    }

    /// As [`Doc::text`], emboldened by stroking the outlines too (one weight of the font
    /// ships; a label's title must stand out).
    pub fn text_bold(&mut self, x: f32, y: f32, size: f32, text: &str) {
        self.text_styled(x, y, size, text, true);
    }

    fn text_styled(&mut self, x: f32, y: f32, size: f32, text: &str, bold: bool) {
        let mut encoded = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            if c.is_control() {
                continue;
            }
            let old = self.face.glyph_index(c).map_or(0, |g| g.0);
            let new = self.remapper.remap(old);
            // One character per glyph: a missing character (glyph 0) keeps the first one
            // it was seen with, the others read back as that; rare, and said in the doc.
            self.chars.entry(new).or_insert(c);
            encoded.extend_from_slice(&new.to_be_bytes());
        }
        let h = self.size.1;
        let c = self.content();
        c.begin_text().set_font(Name(b"F1"), size);
        if bold {
            c.set_line_width(size * 0.04)
                .set_text_rendering_mode(TextRenderingMode::FillStroke);
        }
        c.next_line(x, h - y).show(Str(&encoded));
        if bold {
            c.set_text_rendering_mode(TextRenderingMode::Fill);
        }
        c.end_text();
    }

    /// Draws `text` centred on `cx`.
    pub fn text_centred(&mut self, cx: f32, y: f32, size: f32, text: &str) {
        let w = self.width(text, size);
        self.text(cx - w / 2.0, y, size, text);
    }

    /// Draws `text` ending at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, size: f32, text: &str) {
        let w = self.width(text, size);
        self.text(right - w, y, size, text);
    }

    /// A straight line.
    pub fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32) {
        let h = self.size.1;
        self.content()
            .set_line_width(width)
            .move_to(x1, h - y1)
            .line_to(x2, h - y2)
            .stroke();
    }

    /// A rectangle outline; (x, y) its top-left corner.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, hgt: f32, width: f32) {
        let h = self.size.1;
        self.content()
            .set_line_width(width)
            .rect(x, h - y - hgt, w, hgt)
            .stroke();
    }

    /// A filled rectangle of grey `gray` (0 black, 1 white).
    pub fn fill(&mut self, x: f32, y: f32, w: f32, hgt: f32, gray: f32) {
        let h = self.size.1;
        self.content()
            .set_fill_gray(gray)
            .rect(x, h - y - hgt, w, hgt)
            .fill_nonzero()
            .set_fill_gray(0.0);
    }

    /// A filled rectangle of colour (r, g, b), each 0 to 1.
    pub fn fill_rgb(&mut self, x: f32, y: f32, w: f32, hgt: f32, rgb: (f32, f32, f32)) {
        let h = self.size.1;
        self.content()
            .set_fill_rgb(rgb.0, rgb.1, rgb.2)
            .rect(x, h - y - hgt, w, hgt)
            .fill_nonzero()
            .set_fill_gray(0.0);
    }

    /// A closed polygon's outline with round joins.
    pub fn polygon(&mut self, points: &[(f32, f32)], width: f32) {
        let h = self.size.1;
        let c = self.content();
        c.set_line_width(width)
            .set_line_join(LineJoinStyle::RoundJoin);
        for (i, (x, y)) in points.iter().enumerate() {
            if i == 0 {
                c.move_to(*x, h - y);
            } else {
                c.line_to(*x, h - y);
            }
        }
        c.close_and_stroke();
    }

    /// A QR code of `payload` in a square of `side` points at (x, y), quiet zone included.
    pub fn qr(&mut self, x: f32, y: f32, side: f32, payload: &str) -> Result<(), ApiError> {
        let m = qr::modules(payload)?;
        let n = m.len() + 8; // 4 modules of quiet zone on each side
        let cell = side / n as f32;
        let h = self.size.1;
        let c = self.content();
        c.set_fill_gray(0.0);
        for (r, row) in m.iter().enumerate() {
            for (col, dark) in row.iter().enumerate() {
                if *dark {
                    let cx = x + (col + 4) as f32 * cell;
                    let cy = y + (r + 4) as f32 * cell;
                    c.rect(cx, h - cy - cell, cell, cell);
                }
            }
        }
        c.fill_nonzero();
        Ok(())
    }

    /// The finished PDF: the font subset to the glyphs used, every stream compressed.
    pub fn finish(self) -> Result<Vec<u8>, ApiError> {
        let Doc {
            face,
            remapper,
            chars,
            pages,
            size,
            title,
            ..
        } = self;
        let subset = subsetter::subset(FONT, 0, &remapper)
            .map_err(|e| ApiError::Internal(format!("font subset: {e}")))?;
        let upem = f32::from(face.units_per_em());
        let scale = |v: i16| f32::from(v) / upem * 1000.0;
        let cff = face.tables().cff.is_some();

        let mut alloc = Ref::new(1);
        let mut next = || alloc.bump();
        let catalog = next();
        let tree = next();
        let info = next();
        let type0 = next();
        let cid = next();
        let descriptor = next();
        let font_file = next();
        let cmap_id = next();
        let page_ids: Vec<(Ref, Ref)> = pages.iter().map(|_| (next(), next())).collect();

        let mut pdf = Pdf::new();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().map(|(p, _)| *p))
            .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
        pdf.document_info(info)
            .title(TextStr(&title))
            .producer(TextStr("Yifei"));
        for ((page_id, content_id), content) in page_ids.iter().zip(pages) {
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, size.0, size.1))
                .parent(tree)
                .contents(*content_id);
            page.resources().fonts().pair(Name(b"F1"), type0);
            page.finish();
            let data = deflate(&content.finish());
            pdf.stream(*content_id, &data).filter(Filter::FlateDecode);
        }

        // A subset font's name carries a tag (PDF 32000-1, 9.6.4): six letters from the
        // glyph set, so two documents' different subsets are not mistaken for each other.
        let tag = subset_tag(&chars);
        let base = format!("{tag}+NotoSansCJKsc-Regular");
        let system = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"Identity"),
            supplement: 0,
        };
        pdf.type0_font(type0)
            .base_font(Name(base.as_bytes()))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap_id);
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(if cff {
                CidFontType::Type0
            } else {
                CidFontType::Type2
            })
            .base_font(Name(base.as_bytes()))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(1000.0);
        if !cff {
            cid_font.cid_to_gid_map_predefined(Name(b"Identity"));
        }
        let widths: Vec<f32> = remapper
            .remapped_gids()
            .map(|old| {
                f32::from(
                    face.glyph_hor_advance(ttf_parser::GlyphId(old))
                        .unwrap_or(0),
                ) / upem
                    * 1000.0
            })
            .collect();
        cid_font.widths().consecutive(0, widths);
        cid_font.finish();
        let bbox = face.global_bounding_box();
        let mut fd = pdf.font_descriptor(descriptor);
        fd.name(Name(base.as_bytes()))
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                scale(bbox.x_min),
                scale(bbox.y_min),
                scale(bbox.x_max),
                scale(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(scale(face.ascender()))
            .descent(scale(face.descender()))
            .cap_height(scale(face.capital_height().unwrap_or(face.ascender())))
            .stem_v(80.0);
        if cff {
            fd.font_file3(font_file);
        } else {
            fd.font_file2(font_file);
        }
        fd.finish();
        let packed = deflate(&subset);
        let mut file = pdf.stream(font_file, &packed);
        file.filter(Filter::FlateDecode);
        if cff {
            file.pair(Name(b"Subtype"), Name(b"OpenType"));
        }
        file.finish();

        let mut cmap = UnicodeCmap::new(Name(b"Custom"), system);
        for (gid, c) in &chars {
            cmap.pair(*gid, *c);
        }
        let cmap = cmap.finish();
        pdf.cmap(cmap_id, &cmap);
        Ok(pdf.finish())
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// Six capital letters derived from the glyph set (any deterministic choice will do).
fn subset_tag(chars: &BTreeMap<u16, char>) -> String {
    let mut h: u32 = 2_166_136_261;
    for c in chars.values() {
        h = (h ^ u32::from(*c)).wrapping_mul(16_777_619);
    }
    (0..6)
        .map(|i| char::from(b'A' + ((h >> (i * 5)) % 26) as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_font_covers_the_forms_words_and_measures_them() {
        let d = Doc::new(A4, "t").expect("font");
        for c in "医疗废物转移联单移出运输接收处置单位许可证号车牌驾驶员容器编码感染性损伤性病理性化学性药物性焚烧高温蒸汽微波消毒签章拒收差异公斤0123456789.-:ABCXYZ".chars() {
            assert!(d.face.glyph_index(c).is_some(), "{c} missing");
        }
        // CJK is square; Latin narrower.
        assert!((d.width("医", 10.0) - 10.0).abs() < 0.01);
        assert!(d.width("1", 10.0) < 7.0);
        assert_eq!(d.fit("医疗废物转移联单", 10.0, 35.0), "医疗…");
        assert_eq!(d.wrap("医疗废物转移", 10.0, 30.0), ["医疗废", "物转移"]);
    }

    #[test]
    fn a_document_subsets_its_font_and_keeps_its_text() {
        let mut d = Doc::new(A4, "t").expect("font");
        d.page();
        d.text(50.0, 50.0, 12.0, "医疗废物 YF-1");
        d.qr(300.0, 50.0, 80.0, "YF-M:1").expect("qr");
        let pdf = d.finish().expect("pdf");
        assert!(pdf.starts_with(b"%PDF-"));
        // The whole font is 1.5 MB; the subset of a few glyphs is a few KB.
        assert!(pdf.len() < 20_000, "{} bytes", pdf.len());
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/FontFile3") && text.contains("/ToUnicode"));
    }
}
