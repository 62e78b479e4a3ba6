//! The manifest on paper: an A4 PDF in Chinese (the 联单 the cab carries), with a QR code of
//! the number and the custody digest. The facts come from [`super::get`] (the same record as
//! the JSON, with its tenant checks) plus the names and events a reader of paper needs.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::Manifest;

use crate::auth::Caller;
use crate::custody::{grams, weighing};
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions, runs, scan_events, users};
use crate::error::ApiError;
use crate::paper::{A4, Doc, mm};

/// A refusal or a disposal of one container, as printed.
#[derive(Debug, Clone)]
pub struct Act {
    pub code: String,
    pub at: DateTime<Utc>,
    /// Reason (refusal) or method code (disposal).
    pub what: String,
    pub by: String,
    /// The plant's batch or furnace (disposal).
    pub batch: Option<String>,
}

/// code, action, occurred_at, reason, method, actor, batch, disposed_at.
type ActRow = (
    String,
    String,
    NaiveDateTime,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<NaiveDateTime>,
);

/// Everything the paper shows.
#[derive(Debug, Clone)]
pub struct Paper {
    pub manifest: Manifest,
    pub shipper_contact: String,
    pub shipper_place: String,
    pub driver: Option<String>,
    pub collected_by: Option<String>,
    pub received_by: Option<String>,
    pub refusals: Vec<Act>,
    pub disposals: Vec<Act>,
    /// Containers the driver refused at the door (they stayed with the shipper).
    pub door_refusals: Vec<Act>,
}

/// The manifest `number` with what its paper needs (404 when not the caller's to read).
pub fn load(conn: &mut DbConnection, caller: &Caller, number: &str) -> Result<Paper, ApiError> {
    let manifest = super::get(conn, caller, number)?;
    let (contact_name, contact_phone, township, village): (String, String, String, String) =
        institutions::table
            .find(&manifest.shipper.id)
            .select((
                institutions::contact_name,
                institutions::contact_phone,
                institutions::township,
                institutions::village,
            ))
            .first(conn)?;
    let driver_id: Option<String> = runs::table
        .find(&manifest.run_id)
        .select(runs::driver_id)
        .first(conn)?;
    let codes: Vec<&str> = manifest.lines.iter().map(|l| l.code.as_str()).collect();
    let acts: Vec<ActRow> = scan_events::table
        .inner_join(containers::table)
        .filter(containers::code.eq_any(&codes))
        .filter(scan_events::action.eq_any(["reject", "dispose"]))
        .order((scan_events::occurred_at.asc(), containers::code.asc()))
        .select((
            containers::code,
            scan_events::action,
            scan_events::occurred_at,
            scan_events::reason,
            scan_events::method,
            scan_events::actor_id,
            scan_events::batch,
            scan_events::disposed_at,
        ))
        .load(conn)?;
    let mut ids: Vec<String> = acts.iter().map(|a| a.5.clone()).collect();
    ids.extend(driver_id.iter().cloned());
    ids.extend(manifest.collected.signer.iter().cloned());
    ids.extend(manifest.received.signer.iter().cloned());
    ids.extend(
        manifest
            .lines
            .iter()
            .filter_map(|l| l.refusal.as_ref().map(|r| r.by.clone())),
    );
    let names: HashMap<String, String> = users::table
        .filter(users::id.eq_any(&ids))
        .select((users::id, users::display_name, users::login))
        .load::<(String, Option<String>, String)>(conn)?
        .into_iter()
        .map(|(id, display, login)| (id, display.unwrap_or(login)))
        .collect();
    let name = |id: &Option<String>| id.as_ref().and_then(|i| names.get(i).cloned());
    let mut refusals = Vec::new();
    let mut disposals = Vec::new();
    for (code, action, at, reason, method, actor, batch, disposed_at) in acts {
        let act = Act {
            code,
            at: disposed_at.unwrap_or(at).and_utc(),
            what: if action == "reject" {
                reason.unwrap_or_default()
            } else {
                method.unwrap_or_default()
            },
            by: names.get(&actor).cloned().unwrap_or(actor),
            batch,
        };
        if action == "reject" {
            refusals.push(act);
        } else {
            disposals.push(act);
        }
    }
    let door_refusals = manifest
        .lines
        .iter()
        .filter_map(|l| {
            l.refusal.as_ref().map(|r| Act {
                code: l.code.clone(),
                at: r.at,
                what: r.reason.clone(),
                by: names.get(&r.by).cloned().unwrap_or_else(|| r.by.clone()),
                batch: None,
            })
        })
        .collect();
    Ok(Paper {
        door_refusals,
        shipper_contact: format!("{} {}", contact_name, contact_phone),
        shipper_place: format!("{township}{village}"),
        driver: name(&driver_id),
        collected_by: name(&manifest.collected.signer),
        received_by: name(&manifest.received.signer),
        manifest,
        refusals,
        disposals,
    })
}

/// The QR payload: the number and the first 16 hex digits of the custody digest.
pub fn qr_payload(m: &Manifest) -> String {
    let d = m.custody_digest.get(..16).unwrap_or(&m.custody_digest);
    format!("YF-MANIFEST:{}:{d}", m.number)
}

fn status_zh(s: &str) -> &'static str {
    match s {
        "open" => "收运中",
        "in_transit" => "运输中",
        "received" => "已到厂接收",
        "closed" => "已处置（关闭）",
        _ => "未知",
    }
}

fn state_zh(s: &str) -> &'static str {
    match s {
        "labelled" => "已贴签",
        "sealed" => "已封装",
        "at_hub" => "在转运点",
        "collected" => "已收运",
        "received" => "已接收",
        "disposed" => "已处置",
        "rejected" => "拒收",
        "refused" => "上门拒收",
        _ => "未知",
    }
}

/// Chinese name of a disposal method code (the code itself when unknown to this list).
pub fn method_zh(code: &str) -> String {
    match code {
        "incineration" => "焚烧".into(),
        "high_temperature_steam" => "高温蒸汽".into(),
        "microwave" => "微波".into(),
        "chemical_disinfection" => "化学消毒".into(),
        other => other
            .strip_prefix("other:")
            .map_or_else(|| other.to_owned(), |text| format!("其他：{}", text.trim())),
    }
}

fn kg(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2}"))
}

/// A line's weight with `(估)` after an estimate (the note under the table says so).
fn kg_by(v: Option<f64>, source: Option<yifei_contract::WeightSource>) -> String {
    match source {
        Some(yifei_contract::WeightSource::Estimated) if v.is_some() => format!("{}(估)", kg(v)),
        _ => kg(v),
    }
}

/// Pickup-to-plant difference of a line, shown only once both ends have weighed (a load
/// still on the truck has no discrepancy); `!` marks one beyond max(10 %, 0.3 kg).
fn line_diff(collect: Option<f64>, receive: Option<f64>, estimated: bool) -> String {
    match (collect, receive) {
        (Some(c), Some(r)) => {
            let d = ((r - c) * 100.0).round() / 100.0;
            let d = if d == 0.0 { 0.0 } else { d }; // no "-0.00"
            let mark = if weighing::differ(grams(c), grams(r), estimated) {
                " !"
            } else {
                ""
            };
            format!("{d:+.2}{mark}")
        }
        _ => "—".into(),
    }
}

/// A value an approved correction changed gets `*` (the note under the table says so).
fn mark_corrected(v: String, l: &yifei_contract::ManifestLine, field: &str) -> String {
    if l.corrected.iter().any(|f| f == field) {
        format!("{v}*")
    } else {
        v
    }
}

/// Whether the pickup or the plant weight of a line was estimated.
fn line_estimated(l: &yifei_contract::ManifestLine) -> bool {
    use yifei_contract::WeightSource::Estimated;
    l.weight_sources.collect == Some(Estimated) || l.weight_sources.receive == Some(Estimated)
}

fn local(t: Option<DateTime<Utc>>, tz: FixedOffset) -> String {
    t.map_or_else(
        || "—".into(),
        |t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
    )
}

const LEFT: f32 = 42.5;
const RIGHT: f32 = A4.0 - 42.5;
const BOTTOM: f32 = A4.1 - 56.0;
const ROW: f32 = 15.0;

/// The discrepancy paragraph. Nothing is compared before the plant has weighed something in;
/// then counts say what was received, refused at the gate and is still missing, and weights
/// compare each container weighed at both ends (a refused or missing one has no plant weight).
fn discrepancy_text(m: &Manifest, refused: usize) -> String {
    if m.count_received == 0 && refused == 0 {
        return "尚未到厂过磅，暂无差异可核。".to_owned();
    }
    let refused = i32::try_from(refused).unwrap_or(i32::MAX);
    let missing = (m.count_collected - m.count_received - refused).max(0);
    let (mut c, mut r) = (0.0, 0.0);
    let mut flagged = Vec::new();
    for l in &m.lines {
        if let (Some(ck), Some(rk)) = (l.collect_kg, l.receive_kg) {
            c += ck;
            r += rk;
            if weighing::differ(grams(ck), grams(rk), line_estimated(l)) {
                flagged.push(if line_estimated(l) {
                    format!("{}（涉及估计重量）", l.code)
                } else {
                    l.code.clone()
                });
            }
        }
    }
    let diff = ((r - c) * 100.0).round() / 100.0;
    let diff = if diff == 0.0 { 0.0 } else { diff };
    let mut s = format!(
        "数量：收运 {} 件，到厂接收 {} 件，拒收 {refused} 件，未到 {missing} 件。",
        m.count_collected, m.count_received
    );
    if m.count_received > 0 {
        s.push_str(&format!(
            "重量（两端均过磅的 {} 件）：收运 {c:.2} kg，接收 {r:.2} kg，差 {diff:+.2} kg。",
            m.count_received
        ));
    }
    if !flagged.is_empty() {
        s.push_str(&format!(
            "超出允许偏差（10 % 或 0.3 kg；估计重量 25 % 或 0.5 kg）：{}。",
            flagged.join("、")
        ));
    }
    if missing > 0 {
        s.push_str("未到的容器须查明去向。");
    }
    s
}

/// Table columns: title and width (points); they add up to the text width.
const COLUMNS: [(&str, f32); 9] = [
    ("序号", 26.0),
    ("容器编码", 98.0),
    ("废物类别 / 代码", 118.0),
    ("包装", 48.0),
    ("封装 kg", 44.0),
    ("收运 kg", 44.0),
    ("接收 kg", 44.0),
    ("差异 kg", 44.0),
    ("状态", 44.28),
];

/// Lays out the 联单 (pages follow as the lines need) and returns the PDF.
pub fn render(p: &Paper, tz: FixedOffset, printed_at: DateTime<Utc>) -> Result<Vec<u8>, ApiError> {
    let m = &p.manifest;
    let mut d = Doc::new(A4, &format!("医疗废物转移联单 {}", m.number))?;
    d.page();
    let mut y = header(&mut d, m, tz)?;

    // Parties.
    y = section(&mut d, y, "一、移出单位（产生单位）");
    y = rows(
        &mut d,
        y,
        &[
            ("单位名称", m.shipper.name.clone()),
            (
                "执业许可证号",
                m.shipper.licence_no.clone().unwrap_or_else(|| "—".into()),
            ),
            (
                "地址",
                format!(
                    "{} {}",
                    p.shipper_place,
                    m.shipper.address.clone().unwrap_or_default()
                ),
            ),
            ("联系人 / 电话", p.shipper_contact.clone()),
        ],
    );
    y = section(&mut d, y, "二、运输单位");
    y = rows(
        &mut d,
        y,
        &[
            ("单位名称", m.carrier.name.clone()),
            (
                "经营许可证号",
                m.carrier
                    .licence_no
                    .clone()
                    .unwrap_or_else(|| "未登记".into()),
            ),
            ("车牌号", m.plate.clone()),
            ("驾驶员", p.driver.clone().unwrap_or_else(|| "—".into())),
            ("收运时间", local(m.collected.at, tz)),
        ],
    );
    y = section(&mut d, y, "三、接收单位（处置厂）");
    y = rows(
        &mut d,
        y,
        &[
            ("单位名称", m.receiver.name.clone()),
            (
                "位置",
                m.receiver.address.clone().unwrap_or_else(|| "—".into()),
            ),
            ("接收时间", local(m.received.at, tz)),
        ],
    );

    // Lines.
    y = section(&mut d, y, "四、医疗废物明细");
    y = table_head(&mut d, y);
    for (i, l) in m.lines.iter().enumerate() {
        if y + ROW > BOTTOM {
            d.page();
            y = table_head(&mut d, 50.0);
        }
        let cells = [
            (i + 1).to_string(),
            l.code.clone(),
            mark_corrected(
                format!("{} {}", l.category, l.hw_code.trim_start_matches("HW01 ")),
                l,
                "category",
            ),
            // The Chinese name only (the wire name carries an English gloss after a space).
            l.packaging
                .split_once(' ')
                .map_or(l.packaging.as_str(), |(zh, _)| zh)
                .to_owned(),
            mark_corrected(kg_by(l.seal_kg, l.weight_sources.seal), l, "seal_kg"),
            mark_corrected(
                kg_by(l.collect_kg, l.weight_sources.collect),
                l,
                "collect_kg",
            ),
            mark_corrected(
                kg_by(l.receive_kg, l.weight_sources.receive),
                l,
                "receive_kg",
            ),
            line_diff(l.collect_kg, l.receive_kg, line_estimated(l)),
            state_zh(&l.state).to_owned(),
        ];
        table_row(&mut d, y, &cells);
        y += ROW;
    }
    let both_ends = m.count_received > 0;
    let totals = [
        "合计".to_owned(),
        format!("{} 件", m.count_collected),
        String::new(),
        String::new(),
        kg(Some(m.lines.iter().filter_map(|l| l.seal_kg).sum::<f64>())),
        kg(Some(m.weight_collected_kg)),
        if both_ends {
            kg(Some(m.weight_received_kg))
        } else {
            "—".into()
        },
        String::new(),
        format!("到厂 {} 件", m.count_received),
    ];
    if y + ROW > BOTTOM {
        d.page();
        y = 50.0;
    }
    d.fill(LEFT, y, RIGHT - LEFT, ROW, 0.93);
    table_row(&mut d, y, &totals);
    y += ROW + 8.0;
    let estimated = m.lines.iter().any(|l| {
        use yifei_contract::WeightSource::Estimated;
        [
            l.weight_sources.seal,
            l.weight_sources.collect,
            l.weight_sources.receive,
        ]
        .contains(&Some(Estimated))
    });
    if m.lines.iter().any(|l| !l.corrected.is_empty()) {
        y = ensure(&mut d, y, ROW);
        y = paragraph(
            &mut d,
            y,
            "注：标“*”者为经各方批准更正后的数值（更正：原值、申请与批准记录见更正记录）。",
        );
    }
    y = ensure(&mut d, y, ROW);
    y = paragraph(
        &mut d,
        y,
        if estimated {
            "注：重量后标“(估)”者为估计重量，其余为称重；涉及估计重量的差异按放宽的允许偏差（25 % 或 0.5 kg）判定。"
        } else {
            "注：以上重量均为称重。"
        },
    );

    // Discrepancies: only once the plant has weighed something in.
    y = ensure(&mut d, y, 3.0 * ROW);
    y = section(&mut d, y, "五、差异");
    let discrepancy = discrepancy_text(m, p.refusals.len());
    y = paragraph(&mut d, y, &discrepancy);

    y = ensure(&mut d, y, 3.0 * ROW);
    y = section(&mut d, y, "六、拒收");
    if p.refusals.is_empty() && p.door_refusals.is_empty() {
        y = paragraph(&mut d, y, "无");
    }
    for (place, list) in [("上门拒收", &p.door_refusals), ("到厂拒收", &p.refusals)] {
        for r in list {
            y = ensure(&mut d, y, ROW);
            y = paragraph(
                &mut d,
                y,
                &format!(
                    "{place}  {}  {}  原因：{}  （{}）",
                    r.code,
                    local(Some(r.at), tz),
                    crate::custody::refusal::words(&r.what),
                    r.by
                ),
            );
        }
    }

    y = ensure(&mut d, y, 3.0 * ROW);
    y = section(&mut d, y, "七、处置");
    if p.disposals.is_empty() {
        y = paragraph(&mut d, y, "尚未处置");
    }
    for a in &p.disposals {
        y = ensure(&mut d, y, ROW);
        y = paragraph(
            &mut d,
            y,
            &format!(
                "{}  {}  方式：{}  批次/炉号：{}  （{}）",
                a.code,
                local(Some(a.at), tz),
                method_zh(&a.what),
                a.batch.as_deref().unwrap_or("未记录"),
                a.by
            ),
        );
    }

    // Signatures: the parties' signatures (issue #17) in order; where a party has not signed,
    // who handled the containers by scan, marked as unsigned.
    y = ensure(&mut d, y, 110.0);
    y = section(&mut d, y, "八、签章");
    let confirmation = match m.shipper_confirmation.status.as_str() {
        "confirmed" => "移出单位已确认交接",
        "unattended" => "移出单位同意无人值守交接",
        "flagged" => "移出单位确认未通过核验",
        _ => "移出单位未确认交接",
    };
    y = paragraph(&mut d, y, confirmation);
    let last_disposal = p.disposals.last();
    let handled = [
        (None, None),
        (p.collected_by.clone(), m.collected.at),
        (p.received_by.clone(), m.received.at),
        (
            last_disposal.map(|a| a.by.clone()),
            last_disposal.map(|a| a.at),
        ),
    ];
    let roles = ["移出单位", "运输单位（驾驶员）", "接收单位", "处置"];
    let w = (RIGHT - LEFT) / 4.0;
    for (i, ((role, (by, by_at)), party)) in roles
        .iter()
        .zip(handled.iter())
        .zip(super::signatures::ORDER)
        .enumerate()
    {
        let x = LEFT + w * i as f32;
        d.rect(x, y, w, 62.0, 0.6);
        d.text(x + 5.0, y + 13.0, 9.0, role);
        let signed = m.signatures.iter().find(|s| s.party == party);
        let (who, at) = match (signed, by) {
            (Some(s), _) => (format!("签名：{}", s.name), Some(s.signed_at)),
            (None, Some(b)) => (format!("未签（经手 {b}）"), *by_at),
            (None, None) => ("未签".to_owned(), None),
        };
        let who = d.fit(&who, 9.0, w - 10.0);
        d.text(x + 5.0, y + 32.0, 9.0, &who);
        d.text(x + 5.0, y + 50.0, 8.0, &format!("时间：{}", local(at, tz)));
    }

    // Footers, now that the page count is known.
    let n = d.page_count();
    let offset = tz.to_string();
    for i in 0..n {
        d.goto(i);
        d.line(LEFT, A4.1 - 40.0, RIGHT, A4.1 - 40.0, 0.4);
        d.text(
            LEFT,
            A4.1 - 28.0,
            7.0,
            &format!(
                "联单编号 {}  打印于 {}（UTC{offset}）  校验码 {}",
                m.number,
                local(Some(printed_at), tz),
                m.custody_digest.get(..16).unwrap_or(&m.custody_digest)
            ),
        );
        d.text_right(
            RIGHT,
            A4.1 - 28.0,
            7.0,
            &format!("第 {} 页 / 共 {n} 页", i + 1),
        );
    }
    d.finish()
}

/// Title, number, status and the QR code; returns the y where the body starts.
fn header(d: &mut Doc, m: &Manifest, tz: FixedOffset) -> Result<f32, ApiError> {
    let qr_side = mm(30.0);
    d.qr(RIGHT - qr_side, 30.0, qr_side, &qr_payload(m))?;
    d.text_centred(A4.0 / 2.0, 62.0, 18.0, "医疗废物转移联单");
    d.text(LEFT, 92.0, 11.0, &format!("联单编号：{}", m.number));
    d.text(
        LEFT,
        108.0,
        9.0,
        &format!(
            "状态：{}    开单时间：{}",
            status_zh(&m.status),
            local(Some(m.created_at), tz)
        ),
    );
    d.text(LEFT, 122.0, 7.0, &format!("运输批次：{}", m.run_id));
    d.text_centred(
        RIGHT - qr_side / 2.0,
        36.0 + qr_side,
        6.0,
        "扫码核对联单编号与校验码",
    );
    Ok(136.0)
}

fn section(d: &mut Doc, y: f32, title: &str) -> f32 {
    d.text(LEFT, y + 11.0, 10.5, title);
    y + 16.0
}

/// Label/value rows in a ruled box.
fn rows(d: &mut Doc, y: f32, items: &[(&str, String)]) -> f32 {
    let label_w = 88.0;
    let h = ROW * items.len() as f32;
    d.rect(LEFT, y, RIGHT - LEFT, h, 0.6);
    d.line(LEFT + label_w, y, LEFT + label_w, y + h, 0.4);
    for (i, (label, value)) in items.iter().enumerate() {
        let ry = y + ROW * i as f32;
        if i > 0 {
            d.line(LEFT, ry, RIGHT, ry, 0.3);
        }
        d.text(LEFT + 4.0, ry + 10.5, 8.5, label);
        let v = d.fit(value, 8.5, RIGHT - LEFT - label_w - 8.0);
        d.text(LEFT + label_w + 4.0, ry + 10.5, 8.5, &v);
    }
    y + h + 6.0
}

fn table_head(d: &mut Doc, y: f32) -> f32 {
    d.fill(LEFT, y, RIGHT - LEFT, ROW, 0.85);
    let titles: Vec<String> = COLUMNS.iter().map(|(t, _)| (*t).to_owned()).collect();
    table_row(d, y, &titles);
    y + ROW
}

fn table_row(d: &mut Doc, y: f32, cells: &[String]) {
    let mut x = LEFT;
    d.rect(LEFT, y, RIGHT - LEFT, ROW, 0.4);
    for (i, ((_, w), cell)) in COLUMNS.iter().zip(cells).enumerate() {
        if i > 0 {
            d.line(x, y, x, y + ROW, 0.3);
        }
        let t = d.fit(cell, 7.5, w - 5.0);
        d.text(x + 2.5, y + 10.5, 7.5, &t);
        x += w;
    }
}

fn paragraph(d: &mut Doc, mut y: f32, text: &str) -> f32 {
    for line in d.wrap(text, 8.5, RIGHT - LEFT - 8.0) {
        y = ensure(d, y, ROW);
        d.text(LEFT + 4.0, y + 10.5, 8.5, &line);
        y += 13.0;
    }
    y + 4.0
}

/// A new page when fewer than `need` points are left.
fn ensure(d: &mut Doc, y: f32, need: f32) -> f32 {
    if y + need > BOTTOM {
        d.page();
        50.0
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_difference_shows_only_once_both_ends_weighed() {
        assert_eq!(line_diff(Some(2.6), None, false), "—");
        assert_eq!(line_diff(None, Some(2.6), false), "—");
        assert_eq!(line_diff(Some(2.6), Some(2.55), false), "-0.05");
        assert_eq!(line_diff(Some(2.0), Some(2.0), false), "+0.00");
        assert_eq!(line_diff(Some(5.0), Some(4.0), false), "-1.00 !");
        assert_eq!(
            line_diff(Some(1.0), Some(1.25), false),
            "+0.25",
            "within 0.3 kg"
        );
        assert_eq!(
            line_diff(Some(5.0), Some(4.0), true),
            "-1.00",
            "within 25 % of an estimate"
        );
    }

    fn paper(lines: usize) -> Paper {
        use yifei_contract::{Handover, ManifestLine, Party};
        let party = |name: &str| Party {
            id: "x".into(),
            name: name.into(),
            address: None,
            licence_no: None,
        };
        let t = DateTime::from_timestamp(1_772_411_400, 0).expect("t");
        Paper {
            manifest: Manifest {
                number: "YF20260302-000000000001".into(),
                run_id: "r".into(),
                status: "in_transit".into(),
                shipper: party("石门镇卫生院"),
                carrier: party("处置公司"),
                driver_id: None,
                plate: "鲁J·A1234".into(),
                receiver: party("处置厂"),
                lines: (0..lines)
                    .map(|i| ManifestLine {
                        code: format!("CODE{i:04}"),
                        category: "感染性废物".into(),
                        hw_code: "HW01 841-001-01".into(),
                        packaging: "包装袋 yellow bag".into(),
                        seal_kg: Some(1.0),
                        collect_kg: Some(1.1),
                        receive_kg: None,
                        state: "collected".into(),
                        weight_sources: Default::default(),
                        refusal: None,
                        disposal: None,
                        corrected: Vec::new(),
                    })
                    .collect(),
                collected: Handover {
                    at: Some(t),
                    signer: None,
                },
                received: Handover {
                    at: None,
                    signer: None,
                },
                count_collected: i32::try_from(lines).expect("n"),
                count_received: 0,
                weight_collected_kg: 1.1 * lines as f64,
                weight_received_kg: 0.0,
                count_discrepancy: i32::try_from(lines).expect("n"),
                weight_discrepancy_kg: 0.0,
                created_at: t,
                custody_digest: "ab".repeat(32),
                shipper_confirmation: yifei_contract::ShipperConfirmation {
                    status: "unconfirmed".into(),
                    confirmations: vec![],
                },
                signatures: vec![],
            },
            shipper_contact: "王医生 138".into(),
            shipper_place: "石门镇".into(),
            driver: Some("李师傅".into()),
            collected_by: Some("李师傅".into()),
            received_by: None,
            refusals: Vec::new(),
            disposals: Vec::new(),
            door_refusals: Vec::new(),
        }
    }

    #[test]
    fn long_manifests_run_over_pages_and_stay_small() {
        let tz = FixedOffset::east_opt(8 * 3600).expect("tz");
        let one = render(&paper(3), tz, Utc::now()).expect("pdf");
        let many = render(&paper(80), tz, Utc::now()).expect("pdf");
        let count = |pdf: &[u8]| {
            let s = String::from_utf8_lossy(pdf).into_owned();
            let i = s.find("/Count ").expect("count") + 7;
            s[i..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .expect("n")
                .parse::<usize>()
                .expect("n")
        };
        assert_eq!(count(&one), 1);
        // About 40 rows a page after the first: 80 lines take three pages.
        assert_eq!(count(&many), 3);
        assert!(
            one.len() < 60_000 && many.len() < 90_000,
            "{} {}",
            one.len(),
            many.len()
        );
    }

    #[test]
    fn nothing_is_compared_while_the_load_is_on_the_truck() {
        let p = paper(2);
        assert_eq!(
            discrepancy_text(&p.manifest, 0),
            "尚未到厂过磅，暂无差异可核。"
        );
        let mut m = p.manifest;
        m.lines[0].receive_kg = Some(0.5);
        m.count_received = 1;
        let s = discrepancy_text(&m, 0);
        assert!(
            s.contains("未到 1 件") && s.contains("差 -0.60 kg") && s.contains("CODE0000"),
            "{s}"
        );
        assert!(s.contains("须查明去向"), "{s}");
    }

    #[test]
    fn methods_read_in_chinese() {
        assert_eq!(method_zh("incineration"), "焚烧");
        assert_eq!(method_zh("high_temperature_steam"), "高温蒸汽");
        assert_eq!(method_zh("other: 等离子"), "其他：等离子");
        assert_eq!(method_zh("pyrolysis"), "pyrolysis");
    }
}
