//! Coverage reports: the rates the bureau reports upward, by township and institution kind,
//! each traceable to the institutions and containers behind it; and an H3 cell map.
//!
//! Definitions (period = local days `from..=to`):
//! - registered: active or suspended institutions that joined before the period ended;
//! - collected within interval: at least one container collected in the period, and no
//!   container sealed in the period waited longer than the institution's interval;
//! - 集中处置纳入率 by institutions = collected within interval / registered;
//!   by weight = kg weighed in at the plant / kg sealed (same period);
//! - 无害化处置率 = kg disposed of / kg received;
//! - on-time collection = collected within 48 h of sealing / collected;
//! - overdue storage hours: hours past the 48 h limit spent inside the period;
//! - open discrepancies: containers of the period with a discrepancy flag;
//! - inactive: active institutions with no waste sealed in the 14 days before the end.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{CoverageReport, CoverageRow, InstitutionCoverage, Role};

use super::inspections::{self, TARGET};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{InstitutionRow, scope_of};
use crate::pickups::store::day_bounds;

const STORAGE_LIMIT_H: f64 = 48.0;
const INACTIVE_DAYS: i64 = 14;

/// A container as the report needs it.
#[derive(Debug, Clone)]
pub struct Facts {
    pub code: String,
    pub institution_id: String,
    pub sealed_at: Option<NaiveDateTime>,
    pub seal_g: Option<i32>,
    pub collected_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub receive_g: Option<i32>,
    pub disposed_at: Option<NaiveDateTime>,
    pub flagged: bool,
}

fn within(t: Option<NaiveDateTime>, a: NaiveDateTime, b: NaiveDateTime) -> bool {
    t.is_some_and(|t| t >= a && t < b)
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| ((a / b) * 10_000.0).round() / 10_000.0)
}

/// Per-institution figures over `[start, end)`; `now` bounds waiting that has not ended.
pub fn institution_figures(
    inst: &InstitutionRow,
    cs: &[&Facts],
    last_sealed: Option<NaiveDateTime>,
    start: NaiveDateTime,
    end: NaiveDateTime,
    now: NaiveDateTime,
    with_codes: bool,
) -> InstitutionCoverage {
    let mut f = InstitutionCoverage {
        institution_id: inst.id.clone(),
        name: inst.name.clone(),
        township: inst.township.clone(),
        kind: inst.kind.clone(),
        collected_within_interval: false,
        kg_sealed: 0.0,
        kg_received: 0.0,
        kg_disposed: 0.0,
        containers_collected: 0,
        collected_on_time: 0,
        overdue_storage_hours: 0.0,
        open_discrepancies: 0,
        inactive: false,
        containers: Vec::new(),
    };
    let mut late = false;
    let horizon = end.min(now);
    for c in cs {
        let mut counted = false;
        if within(c.sealed_at, start, end) {
            f.kg_sealed += f64::from(c.seal_g.unwrap_or(0)) / 1000.0;
            counted = true;
            if let Some(s) = c.sealed_at {
                let waited = c.collected_at.unwrap_or(horizon).min(horizon) - s;
                if waited.num_seconds() as f64 > f64::from(inst.collection_interval_h) * 3600.0 {
                    late = true;
                }
            }
            if c.flagged {
                f.open_discrepancies += 1;
            }
        }
        if within(c.received_at, start, end) {
            f.kg_received += f64::from(c.receive_g.unwrap_or(0)) / 1000.0;
            counted = true;
        }
        if within(c.disposed_at, start, end) {
            f.kg_disposed += f64::from(c.receive_g.or(c.seal_g).unwrap_or(0)) / 1000.0;
            counted = true;
        }
        if within(c.collected_at, start, end) {
            f.containers_collected += 1;
            counted = true;
            if let (Some(s), Some(col)) = (c.sealed_at, c.collected_at)
                && ((col - s).num_seconds() as f64) <= STORAGE_LIMIT_H * 3600.0
            {
                f.collected_on_time += 1;
            }
        }
        if let Some(s) = c.sealed_at {
            // Hours past the limit, clipped to the period.
            let over_from = (s + chrono::Duration::hours(48)).max(start);
            let over_to = c.collected_at.unwrap_or(horizon).min(horizon);
            if over_to > over_from {
                f.overdue_storage_hours += (over_to - over_from).num_seconds() as f64 / 3600.0;
                counted = true;
            }
        }
        if counted && with_codes {
            f.containers.push(c.code.clone());
        }
    }
    f.collected_within_interval = f.containers_collected > 0 && !late;
    f.inactive = inst.status == "active"
        && last_sealed.is_none_or(|t| t < end - chrono::Duration::days(INACTIVE_DAYS));
    f.kg_sealed = (f.kg_sealed * 1000.0).round() / 1000.0;
    f.kg_received = (f.kg_received * 1000.0).round() / 1000.0;
    f.kg_disposed = (f.kg_disposed * 1000.0).round() / 1000.0;
    f.overdue_storage_hours = (f.overdue_storage_hours * 10.0).round() / 10.0;
    f
}

/// Adds institution figures into a group row.
pub fn add(row: &mut CoverageRow, f: &InstitutionCoverage) {
    row.registered += 1;
    row.collected_within_interval += i64::from(f.collected_within_interval);
    row.kg_sealed += f.kg_sealed;
    row.kg_received += f.kg_received;
    row.kg_disposed += f.kg_disposed;
    row.containers_collected += f.containers_collected;
    row.collected_on_time += f.collected_on_time;
    row.overdue_storage_hours += f.overdue_storage_hours;
    row.open_discrepancies += f.open_discrepancies;
    row.inactive_institutions += i64::from(f.inactive);
}

/// Computes the rates of a row from its sums.
pub fn finish(row: &mut CoverageRow) {
    row.kg_sealed = (row.kg_sealed * 1000.0).round() / 1000.0;
    row.kg_received = (row.kg_received * 1000.0).round() / 1000.0;
    row.kg_disposed = (row.kg_disposed * 1000.0).round() / 1000.0;
    row.overdue_storage_hours = (row.overdue_storage_hours * 10.0).round() / 10.0;
    row.entry_rate_institutions =
        ratio(row.collected_within_interval as f64, row.registered as f64);
    row.entry_rate_weight = ratio(row.kg_received, row.kg_sealed);
    row.harmless_disposal_rate = ratio(row.kg_disposed, row.kg_received);
    row.on_time_rate = ratio(
        row.collected_on_time as f64,
        row.containers_collected as f64,
    );
    row.inspection_pass_rate = ratio(row.inspections_passed as f64, row.inspections as f64);
}

/// Report parameters.
#[derive(Debug, Clone)]
pub struct Params {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub township: Option<String>,
    pub with_codes: bool,
}

/// The coverage report for the caller's jurisdiction (bureau staff; admin sees all).
pub fn coverage(
    conn: &mut DbConnection,
    caller: &Caller,
    p: &Params,
    now: DateTime<Utc>,
    tz: FixedOffset,
) -> Result<CoverageReport, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    if p.to < p.from {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    if (p.to - p.from).num_days() > 3660 {
        return Err(ApiError::invalid("from", "the period is at most 10 years"));
    }
    let (start, _) = day_bounds(p.from, tz);
    let (_, end) = day_bounds(p.to, tz);
    let scope = scope_of(conn, caller)?;
    let mut q = institutions::table
        .filter(institutions::status.eq_any(["active", "suspended"]))
        .filter(institutions::created_at.lt(end))
        .select(InstitutionRow::as_select())
        .into_boxed();
    if let Scope::Townships(t) = &scope {
        q = q.filter(institutions::township.eq_any(t.clone()));
    }
    if let Some(t) = &p.township {
        scope.check_township(t)?;
        q = q.filter(institutions::township.eq(t.clone()));
    }
    let insts: Vec<InstitutionRow> = q.order(institutions::id.asc()).load(conn)?;
    let ids: HashSet<&str> = insts.iter().map(|i| i.id.as_str()).collect();
    // One pass over the containers that matter to the period.
    type Row = (
        String,
        String,
        Option<NaiveDateTime>,
        Option<i32>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i32>,
        Option<NaiveDateTime>,
        String,
    );
    let rows: Vec<Row> = containers::table
        .filter(containers::sealed_at.lt(end))
        .filter(
            containers::sealed_at
                .ge(start)
                .or(containers::collected_at.ge(start))
                .or(containers::received_at.ge(start))
                .or(containers::disposed_at.ge(start))
                .or(containers::collected_at.is_null()),
        )
        .select((
            containers::code,
            containers::institution_id,
            containers::sealed_at,
            containers::seal_weight_g,
            containers::collected_at,
            containers::received_at,
            containers::receive_weight_g,
            containers::disposed_at,
            containers::flags,
        ))
        .load(conn)?;
    // Big boxes at hubs hold small ones: count the small ones only.
    let parents: HashSet<String> = containers::table
        .filter(containers::parent_id.is_not_null())
        .select(containers::parent_id)
        .distinct()
        .load::<Option<String>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    let parent_codes: HashSet<String> = if parents.is_empty() {
        HashSet::new()
    } else {
        containers::table
            .filter(containers::id.eq_any(parents.iter().cloned().collect::<Vec<_>>()))
            .select(containers::code)
            .load::<String>(conn)?
            .into_iter()
            .collect()
    };
    let facts: Vec<Facts> = rows
        .into_iter()
        .filter(|r| ids.contains(r.1.as_str()) && !parent_codes.contains(&r.0))
        .map(
            |(
                code,
                institution_id,
                sealed_at,
                seal_g,
                collected_at,
                received_at,
                receive_g,
                disposed_at,
                flags,
            )| Facts {
                code,
                institution_id,
                sealed_at,
                seal_g,
                collected_at,
                received_at,
                receive_g,
                disposed_at,
                flagged: flags.contains("discrepancy") || flags.contains("mismatch"),
            },
        )
        .collect();
    let mut by_inst: HashMap<&str, Vec<&Facts>> = HashMap::new();
    for f in &facts {
        by_inst
            .entry(f.institution_id.as_str())
            .or_default()
            .push(f);
    }
    let last_sealed: HashMap<String, Option<NaiveDateTime>> = containers::table
        .filter(containers::sealed_at.lt(end))
        .group_by(containers::institution_id)
        .select((
            containers::institution_id,
            diesel::dsl::max(containers::sealed_at),
        ))
        .load::<(String, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .collect();
    let now_n = now.naive_utc();
    let mut total = CoverageRow {
        group: "total".into(),
        ..Default::default()
    };
    let mut by_township: BTreeMap<String, CoverageRow> = BTreeMap::new();
    let mut by_kind: BTreeMap<String, CoverageRow> = BTreeMap::new();
    let mut institutions_out = Vec::with_capacity(insts.len());
    for i in &insts {
        let cs = by_inst.get(i.id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let f = institution_figures(
            i,
            cs,
            last_sealed.get(&i.id).copied().flatten(),
            start,
            end,
            now_n,
            p.with_codes,
        );
        add(&mut total, &f);
        add(
            by_township
                .entry(i.township.clone())
                .or_insert_with(|| CoverageRow {
                    group: i.township.clone(),
                    ..Default::default()
                }),
            &f,
        );
        add(
            by_kind
                .entry(i.kind.clone())
                .or_insert_with(|| CoverageRow {
                    group: i.kind.clone(),
                    ..Default::default()
                }),
            &f,
        );
        institutions_out.push(f);
    }
    let kind_of: HashMap<&str, &str> = insts
        .iter()
        .map(|i| (i.id.as_str(), i.kind.as_str()))
        .collect();
    for ins in inspections::in_scope(conn, caller, start, end, p.township.as_deref())? {
        let passed = i64::from(ins.passed);
        total.inspections += 1;
        total.inspections_passed += passed;
        if let Some(t) = ins.township.as_ref().and_then(|t| by_township.get_mut(t)) {
            t.inspections += 1;
            t.inspections_passed += passed;
        }
        if let Some(k) = ins
            .institution_id
            .as_deref()
            .and_then(|i| kind_of.get(i))
            .and_then(|k| by_kind.get_mut(*k))
        {
            k.inspections += 1;
            k.inspections_passed += passed;
        }
    }
    finish(&mut total);
    let mut by_township: Vec<CoverageRow> = by_township.into_values().collect();
    let mut by_kind: Vec<CoverageRow> = by_kind.into_values().collect();
    by_township
        .iter_mut()
        .chain(by_kind.iter_mut())
        .for_each(finish);
    Ok(CoverageReport {
        from: p.from,
        to: p.to,
        township: p.township.clone(),
        generated_at: now,
        inspection_target: TARGET,
        total,
        by_township,
        by_kind,
        institutions: institutions_out,
    })
}

/// CSV: one line per group (total, townships, kinds), through the one CSV writer (a
/// township's name cannot become a formula).
pub fn csv(r: &CoverageReport) -> String {
    use crate::wire::{Cell, CsvWriter};
    let mut w = CsvWriter::new(&[
        "dimension",
        "group",
        "registered",
        "collected_within_interval",
        "entry_rate_institutions",
        "kg_sealed",
        "kg_received",
        "entry_rate_weight",
        "kg_disposed",
        "harmless_disposal_rate",
        "containers_collected",
        "collected_on_time",
        "on_time_rate",
        "overdue_storage_hours",
        "open_discrepancies",
        "inactive_institutions",
        "inspections",
        "inspections_passed",
        "inspection_pass_rate",
    ]);
    let rows = std::iter::once(("total", &r.total))
        .chain(r.by_township.iter().map(|x| ("township", x)))
        .chain(r.by_kind.iter().map(|x| ("kind", x)));
    for (dim, x) in rows {
        w.row(&[
            Cell::Text(dim),
            Cell::Text(&x.group),
            Cell::int(x.registered),
            Cell::int(x.collected_within_interval),
            Cell::num(x.entry_rate_institutions, 4),
            Cell::num(Some(x.kg_sealed), 3),
            Cell::num(Some(x.kg_received), 3),
            Cell::num(x.entry_rate_weight, 4),
            Cell::num(Some(x.kg_disposed), 3),
            Cell::num(x.harmless_disposal_rate, 4),
            Cell::int(x.containers_collected),
            Cell::int(x.collected_on_time),
            Cell::num(x.on_time_rate, 4),
            Cell::num(Some(x.overdue_storage_hours), 1),
            Cell::int(x.open_discrepancies),
            Cell::int(x.inactive_institutions),
            Cell::int(x.inspections),
            Cell::int(x.inspections_passed),
            Cell::num(x.inspection_pass_rate, 4),
        ]);
    }
    w.finish()
}

/// The report's institutions aggregated by H3 cell at `res`, as a GeoJSON FeatureCollection
/// (RFC 7946: `[lng, lat]`, closed rings).
pub fn cells(
    conn: &mut DbConnection,
    r: &CoverageReport,
    res: u8,
) -> Result<serde_json::Value, ApiError> {
    let res =
        h3o::Resolution::try_from(res).map_err(|_| ApiError::invalid("res", "must be 0 to 15"))?;
    let ids: Vec<String> = r
        .institutions
        .iter()
        .map(|i| i.institution_id.clone())
        .collect();
    let mut cell_of: HashMap<String, h3o::CellIndex> = HashMap::new();
    for chunk in ids.chunks(500) {
        for (id, cell) in institutions::table
            .filter(institutions::id.eq_any(chunk))
            .select((institutions::id, institutions::h3_cell))
            .load::<(String, i64)>(conn)?
        {
            let c = u64::try_from(cell)
                .ok()
                .and_then(|c| h3o::CellIndex::try_from(c).ok());
            if let Some(c) = c.and_then(|c| c.parent(res)) {
                cell_of.insert(id, c);
            }
        }
    }
    #[derive(Default)]
    struct Agg {
        institutions: i64,
        on_time: i64,
        overdue: i64,
        kg: f64,
    }
    let mut agg: BTreeMap<u64, Agg> = BTreeMap::new();
    for i in &r.institutions {
        let Some(c) = cell_of.get(&i.institution_id) else {
            continue;
        };
        let a = agg.entry(u64::from(*c)).or_default();
        a.institutions += 1;
        a.on_time += i64::from(i.collected_within_interval);
        a.overdue += i64::from(i.overdue_storage_hours > 0.0);
        a.kg += i.kg_sealed;
    }
    let features: Vec<serde_json::Value> = agg
        .iter()
        .filter_map(|(c, a)| {
            let cell = h3o::CellIndex::try_from(*c).ok()?;
            let mut ring: Vec<[f64; 2]> = cell
                .boundary()
                .iter()
                .map(|ll| [ll.lng(), ll.lat()])
                .collect();
            if let Some(first) = ring.first().copied() {
                ring.push(first);
            }
            Some(serde_json::json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "cell": cell.to_string(),
                    "institutions": a.institutions,
                    "collected_on_time": a.on_time,
                    "overdue": a.overdue,
                    "kg": (a.kg * 1000.0).round() / 1000.0,
                }
            }))
        })
        .collect();
    Ok(serde_json::json!({"type": "FeatureCollection", "features": features}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(day: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("t")
    }

    fn inst() -> InstitutionRow {
        InstitutionRow {
            id: "i1".into(),
            name: "n".into(),
            kind: "clinic".into(),
            licence_no: "L".into(),
            township: "T".into(),
            village: String::new(),
            address: "a".into(),
            lat: 36.0,
            lng: 117.0,
            h3_cell: 0,
            beds: 0,
            contact_name: "c".into(),
            contact_phone: "1".into(),
            contact_email: None,
            status: "active".into(),
            status_reason: None,
            service_mode: "direct".into(),
            hub_id: None,
            collection_interval_h: 48,
            opening_hours: "[]".into(),
            created_at: t(1, 0),
            updated_at: t(1, 0),
        }
    }

    fn c(
        code: &str,
        sealed: NaiveDateTime,
        collected: Option<NaiveDateTime>,
        kg: i32,
        received: Option<NaiveDateTime>,
        disposed: Option<NaiveDateTime>,
    ) -> Facts {
        Facts {
            code: code.into(),
            institution_id: "i1".into(),
            sealed_at: Some(sealed),
            seal_g: Some(kg),
            collected_at: collected,
            received_at: received,
            receive_g: received.map(|_| kg - 100),
            disposed_at: disposed,
            flagged: false,
        }
    }

    #[test]
    fn hand_computed_figures() {
        // Period 03-02 00:00 .. 03-05 00:00 (UTC here for simplicity).
        let (start, end, now) = (t(2, 0), t(5, 0), t(6, 0));
        let a = c(
            "A",
            t(2, 8),
            Some(t(2, 20)),
            2000,
            Some(t(3, 2)),
            Some(t(3, 10)),
        ); // on time, received 1.9, disposed
        let b = c("B", t(2, 9), Some(t(4, 21)), 1000, Some(t(4, 23)), None); // 60 h: late by 12 h
        let z = c("Z", t(1, 0), None, 500, None, None); // sealed before, never collected: overdue from 03-03 00:00 to end
        let f = institution_figures(&inst(), &[&a, &b, &z], Some(t(2, 9)), start, end, now, true);
        assert_eq!((f.kg_sealed, f.kg_received, f.kg_disposed), (3.0, 2.8, 1.9));
        assert_eq!((f.containers_collected, f.collected_on_time), (2, 1));
        assert_eq!(f.overdue_storage_hours, 12.0 + 48.0);
        assert!(!f.collected_within_interval, "B waited 60 h > 48 h");
        assert!(!f.inactive);
        assert_eq!(f.containers, ["A", "B", "Z"]);
        let mut row = CoverageRow::default();
        add(&mut row, &f);
        finish(&mut row);
        assert_eq!(row.entry_rate_weight, Some(0.9333));
        assert_eq!(row.harmless_disposal_rate, Some(0.6786));
        assert_eq!(row.on_time_rate, Some(0.5));
        assert_eq!(row.entry_rate_institutions, Some(0.0));
        // Without B the institution was served within its interval.
        let f = institution_figures(&inst(), &[&a], Some(t(2, 8)), start, end, now, false);
        assert!(f.collected_within_interval && f.containers.is_empty());
        // No waste for 14 days: inactive.
        let f = institution_figures(
            &inst(),
            &[],
            Some(t(1, 0)),
            t(16, 0),
            t(17, 0),
            t(17, 0),
            false,
        );
        assert!(f.inactive && !f.collected_within_interval);
    }
}
