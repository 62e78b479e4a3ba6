//! Coverage reports: the rates the bureau reports upward, by township and institution kind,
//! each traceable to the institutions and containers behind it; and an H3 cell map.
//!
//! The definitions (numerator, denominator, what is left out, when there is no data) are
//! [`DEFINITIONS`], sent with every report and written into its CSV. Two rules hold for every
//! rate: a zero denominator is "no data" (`null`), never 100 %; and the numerator is a part
//! of the denominator (a cohort: the containers sealed in the period, and what became of them
//! by its end), so no rate exceeds 100 % and none hides waste that never reached the plant.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{CoverageReport, CoverageRow, InstitutionCoverage, RateDefinition, Role};

use super::inspections::{self, TARGET};
use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::{containers, institutions};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{InstitutionRow, scope_of};
use crate::pickups::store::day_bounds;
use crate::wire::{Cell, CsvWriter};

const STORAGE_LIMIT_H: f64 = 48.0;
const INACTIVE_DAYS: i64 = 14;

/// One rate's definition: field, name, numerator, denominator, excluded, no data.
type Def = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// What each rate of [`CoverageRow`] is. The period is the local days `from..=to`; "by the
/// end" means before the period's end (or now, if it has not ended).
pub const DEFINITIONS: [Def; 6] = [
    (
        "entry_rate_institutions",
        "集中处置纳入率（按机构）",
        "institutions collected at least once in the period with no container of the period left past its collection interval (collected_within_interval)",
        "institutions that should be in centralised disposal (institutions_expected): signed-up institutions, active or suspended, that joined before the period ended (registered), plus the bureau's roster entries with no such institution (not_signed_up)",
        "roster entries recorded as self-disposal under 条例 Art.21 (counted in self_disposal, on their own line); pending, rejected and withdrawn sign-ups. An institution that sealed nothing in the period counts in the denominator and not in the numerator",
        "no institution is expected in the scope",
    ),
    (
        "entry_rate_weight",
        "集中处置纳入率（按重量）",
        "seal weight of the containers sealed in the period that were received at the plant by its end (kg_sealed_received)",
        "seal weight of the containers sealed in the period (kg_sealed)",
        "hub boxes that hold other containers (their contents are counted). Plant weights do not enter, so a heavier weighing at the plant cannot lift the rate above 100 % (differences are open_discrepancies)",
        "nothing was sealed in the period",
    ),
    (
        "harmless_disposal_rate",
        "无害化处置率",
        "seal weight of the containers sealed in the period that were disposed of by its end (kg_sealed_disposed)",
        "seal weight of the containers sealed in the period (kg_sealed): waste still at the producer, at a hub, on a vehicle, at the plant, or refused by the plant counts here and lowers the rate",
        "hub boxes that hold other containers (their contents are counted). Not the plant's disposed / received: that is plant_disposal_rate",
        "nothing was sealed in the period",
    ),
    (
        "plant_disposal_rate",
        "处置厂处置率（处置量/入厂量）",
        "plant weight of the containers received in the period that were disposed of by its end (kg_received_disposed)",
        "plant weight of the containers received at the plant in the period (kg_received)",
        "waste that never reached the plant: this is the plant's backlog, not the 无害化处置率",
        "nothing was received in the period",
    ),
    (
        "on_time_rate",
        "及时收运率（48小时内）",
        "containers collected in the period within 48 h of sealing (collected_on_time)",
        "containers due (containers_due): collected in the period, plus those still not collected at its end whose 48 h limit had passed by then",
        "containers sealed less than 48 h before the period's end and not yet collected (not due yet); hub boxes that hold other containers",
        "no container was collected or overdue in the period",
    ),
    (
        "inspection_pass_rate",
        "规范化管理抽查合格率",
        "spot checks in the period that passed every checklist item (inspections_passed)",
        "spot checks recorded in the period (inspections); the target is inspection_target",
        "nothing: a re-inspection is a spot check of its own",
        "no spot check was recorded in the period",
    ),
];

/// The definitions as the report sends them.
pub fn definitions() -> Vec<RateDefinition> {
    DEFINITIONS
        .iter()
        .map(
            |&(rate, name, numerator, denominator, excluded, no_data)| RateDefinition {
                rate: rate.into(),
                name: name.into(),
                numerator: numerator.into(),
                denominator: denominator.into(),
                excluded: excluded.into(),
                no_data: no_data.into(),
            },
        )
        .collect()
}

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

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

fn before(t: Option<NaiveDateTime>, end: NaiveDateTime) -> bool {
    t.is_some_and(|t| t < end)
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
        kg_sealed_received: 0.0,
        kg_sealed_disposed: 0.0,
        kg_received_disposed: 0.0,
        containers_collected: 0,
        containers_due: 0,
        collected_on_time: 0,
        overdue_storage_hours: 0.0,
        open_discrepancies: 0,
        inactive: false,
        containers: Vec::new(),
    };
    let mut late = false;
    let horizon = end.min(now);
    let limit = chrono::Duration::seconds((STORAGE_LIMIT_H * 3600.0) as i64);
    let kg = |g: Option<i32>| f64::from(g.unwrap_or(0)) / 1000.0;
    for c in cs {
        let mut counted = false;
        if within(c.sealed_at, start, end) {
            let sealed = kg(c.seal_g);
            f.kg_sealed += sealed;
            // The cohort: what became of the period's waste by its end.
            if before(c.received_at, end) {
                f.kg_sealed_received += sealed;
            }
            if before(c.disposed_at, end) {
                f.kg_sealed_disposed += sealed;
            }
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
            f.kg_received += kg(c.receive_g);
            if before(c.disposed_at, end) {
                f.kg_received_disposed += kg(c.receive_g);
            }
            counted = true;
        }
        if within(c.disposed_at, start, end) {
            f.kg_disposed += kg(c.receive_g.or(c.seal_g));
            counted = true;
        }
        if within(c.collected_at, start, end) {
            f.containers_collected += 1;
            f.containers_due += 1;
            counted = true;
            if let (Some(s), Some(col)) = (c.sealed_at, c.collected_at)
                && col - s <= limit
            {
                f.collected_on_time += 1;
            }
        } else if let Some(s) = c.sealed_at
            && s + limit < horizon
            && !before(c.collected_at, horizon)
        {
            // Still waiting at the period's end, past its limit: due and late. Leaving it out
            // would let one punctual pickup read 100 % beside a forgotten box.
            f.containers_due += 1;
            counted = true;
        }
        if let Some(s) = c.sealed_at {
            // Hours past the limit, clipped to the period.
            let over_from = (s + limit).max(start);
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
    for x in [
        &mut f.kg_sealed,
        &mut f.kg_received,
        &mut f.kg_disposed,
        &mut f.kg_sealed_received,
        &mut f.kg_sealed_disposed,
        &mut f.kg_received_disposed,
    ] {
        *x = round(*x, 3);
    }
    f.overdue_storage_hours = round(f.overdue_storage_hours, 1);
    f
}

/// Adds institution figures into a group row.
pub fn add(row: &mut CoverageRow, f: &InstitutionCoverage) {
    row.registered += 1;
    row.collected_within_interval += i64::from(f.collected_within_interval);
    row.kg_sealed += f.kg_sealed;
    row.kg_received += f.kg_received;
    row.kg_disposed += f.kg_disposed;
    row.kg_sealed_received += f.kg_sealed_received;
    row.kg_sealed_disposed += f.kg_sealed_disposed;
    row.kg_received_disposed += f.kg_received_disposed;
    row.containers_collected += f.containers_collected;
    row.containers_due += f.containers_due;
    row.collected_on_time += f.collected_on_time;
    row.overdue_storage_hours += f.overdue_storage_hours;
    row.open_discrepancies += f.open_discrepancies;
    row.inactive_institutions += i64::from(f.inactive);
}

/// Computes the rates of a row from its sums (see [`DEFINITIONS`]).
pub fn finish(row: &mut CoverageRow) {
    for x in [
        &mut row.kg_sealed,
        &mut row.kg_received,
        &mut row.kg_disposed,
        &mut row.kg_sealed_received,
        &mut row.kg_sealed_disposed,
        &mut row.kg_received_disposed,
    ] {
        *x = round(*x, 3);
    }
    row.overdue_storage_hours = round(row.overdue_storage_hours, 1);
    row.institutions_expected = row.registered + row.not_signed_up;
    row.entry_rate_institutions = ratio(
        row.collected_within_interval as f64,
        row.institutions_expected as f64,
    );
    row.entry_rate_weight = ratio(row.kg_sealed_received, row.kg_sealed);
    row.harmless_disposal_rate = ratio(row.kg_sealed_disposed, row.kg_sealed);
    row.plant_disposal_rate = ratio(row.kg_received_disposed, row.kg_received);
    row.on_time_rate = ratio(row.collected_on_time as f64, row.containers_due as f64);
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
    // The roster: licensed institutions that never signed up count in the denominator;
    // self-disposal (条例 Art.21) goes on its own line.
    let signed_up: HashSet<&str> = insts.iter().map(|i| i.licence_no.as_str()).collect();
    let roster = crate::roster::store::for_report(conn, &scope, p.township.as_deref())?;
    for r in crate::roster::store::missing(&roster, &signed_up) {
        let group = |map: &mut BTreeMap<String, CoverageRow>, key: &str| -> CoverageRow {
            map.remove(key).unwrap_or_else(|| CoverageRow {
                group: key.to_owned(),
                ..Default::default()
            })
        };
        let mut t = group(&mut by_township, &r.township);
        let mut k = group(&mut by_kind, &r.kind);
        for row in [&mut total, &mut t, &mut k] {
            if r.self_disposal {
                row.self_disposal += 1;
            } else {
                row.not_signed_up += 1;
            }
        }
        by_township.insert(r.township.clone(), t);
        by_kind.insert(r.kind.clone(), k);
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
        definitions: definitions(),
    })
}

/// The CSV's columns with what each holds; a rate's note is its definition.
const CSV_COLUMNS: [(&str, &str); 29] = [
    (
        "dimension",
        "total, township or kind; this line: what each column holds",
    ),
    ("group", "the township or institution kind"),
    (
        "registered",
        "signed-up institutions, active or suspended, joined before the period ended",
    ),
    (
        "not_signed_up",
        "on the bureau's roster, not signed up (self-disposal left out)",
    ),
    (
        "self_disposal",
        "on the roster, disposing of their own waste under 条例 Art.21",
    ),
    ("institutions_expected", "registered + not_signed_up"),
    (
        "collected_within_interval",
        "institutions collected in the period with nothing left past its interval",
    ),
    ("entry_rate_institutions", ""),
    (
        "kg_sealed",
        "seal weight of the containers sealed in the period",
    ),
    (
        "kg_received",
        "plant weight of the containers received in the period",
    ),
    (
        "kg_sealed_received",
        "of kg_sealed, received at the plant by the period's end",
    ),
    ("entry_rate_weight", ""),
    (
        "kg_disposed",
        "kg disposed of in the period, whenever sealed",
    ),
    (
        "kg_sealed_disposed",
        "of kg_sealed, disposed of by the period's end",
    ),
    ("harmless_disposal_rate", ""),
    (
        "kg_received_disposed",
        "of kg_received, disposed of by the period's end",
    ),
    ("plant_disposal_rate", ""),
    ("containers_collected", "containers collected in the period"),
    (
        "containers_due",
        "collected in the period, or still waiting at its end past 48 h",
    ),
    ("collected_on_time", "collected within 48 h of sealing"),
    ("on_time_rate", ""),
    (
        "overdue_storage_hours",
        "hours past the 48 h storage limit inside the period",
    ),
    (
        "open_discrepancies",
        "containers of the period flagged with a discrepancy",
    ),
    (
        "inactive_institutions",
        "active institutions with nothing sealed in the 14 days before the end",
    ),
    ("inspections", "spot checks in the period"),
    ("inspections_passed", "of those, passed"),
    ("inspection_pass_rate", ""),
    ("inspection_target", "the spot-check pass rate to reach"),
    ("generated_at", "when the report was computed (UTC)"),
];

/// A rate's definition in one cell: `numerator / denominator; excluded: ...; no data: ...`.
fn definition_cell(rate: &str) -> String {
    DEFINITIONS
        .iter()
        .find(|d| d.0 == rate)
        .map(|&(_, name, num, den, excl, none)| {
            format!("{name} = {num} / {den}; excluded: {excl}; \"no data\" when {none}")
        })
        .unwrap_or_default()
}

/// A rate, or "no data" when its denominator is zero (never an empty cell that reads as 0).
fn rate_cell(v: Option<f64>) -> Cell<'static> {
    match v {
        Some(_) => Cell::num(v, 4),
        None => Cell::Text(NO_DATA),
    }
}

/// What a CSV rate cell says when the denominator is zero.
pub const NO_DATA: &str = "no data";

/// CSV: the header, a line saying what each column holds (each rate's definition), then one
/// line per group (total, townships, kinds), through the one CSV writer (a township's name
/// cannot become a formula).
pub fn csv(r: &CoverageReport) -> String {
    let header: Vec<&str> = CSV_COLUMNS.iter().map(|c| c.0).collect();
    let mut w = CsvWriter::new(&header);
    let notes: Vec<String> = CSV_COLUMNS
        .iter()
        .map(|&(col, note)| {
            if note.is_empty() {
                definition_cell(col)
            } else {
                note.to_owned()
            }
        })
        .collect();
    let mut first = vec![Cell::Text("definition")];
    first.extend(notes.iter().skip(1).map(|n| Cell::Text(n)));
    w.row(&first);
    let generated = r.generated_at.to_rfc3339();
    let rows = std::iter::once(("total", &r.total))
        .chain(r.by_township.iter().map(|x| ("township", x)))
        .chain(r.by_kind.iter().map(|x| ("kind", x)));
    for (dim, x) in rows {
        w.row(&[
            Cell::Text(dim),
            Cell::Text(&x.group),
            Cell::int(x.registered),
            Cell::int(x.not_signed_up),
            Cell::int(x.self_disposal),
            Cell::int(x.institutions_expected),
            Cell::int(x.collected_within_interval),
            rate_cell(x.entry_rate_institutions),
            Cell::num(Some(x.kg_sealed), 3),
            Cell::num(Some(x.kg_received), 3),
            Cell::num(Some(x.kg_sealed_received), 3),
            rate_cell(x.entry_rate_weight),
            Cell::num(Some(x.kg_disposed), 3),
            Cell::num(Some(x.kg_sealed_disposed), 3),
            rate_cell(x.harmless_disposal_rate),
            Cell::num(Some(x.kg_received_disposed), 3),
            rate_cell(x.plant_disposal_rate),
            Cell::int(x.containers_collected),
            Cell::int(x.containers_due),
            Cell::int(x.collected_on_time),
            rate_cell(x.on_time_rate),
            Cell::num(Some(x.overdue_storage_hours), 1),
            Cell::int(x.open_discrepancies),
            Cell::int(x.inactive_institutions),
            Cell::int(x.inspections),
            Cell::int(x.inspections_passed),
            rate_cell(x.inspection_pass_rate),
            Cell::num(Some(r.inspection_target), 2),
            Cell::Text(&generated),
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

    fn row_of(fs: &[InstitutionCoverage]) -> CoverageRow {
        let mut row = CoverageRow::default();
        for f in fs {
            add(&mut row, f);
        }
        finish(&mut row);
        row
    }

    fn period(cs: &[Facts]) -> CoverageRow {
        let refs: Vec<&Facts> = cs.iter().collect();
        let f = institution_figures(&inst(), &refs, None, t(2, 0), t(5, 0), t(6, 0), false);
        row_of(&[f])
    }

    #[test]
    fn waste_that_never_reached_the_plant_lowers_the_harmless_rate() {
        // 1 kg sealed, received and disposed; 9 kg sealed and never collected. Disposed /
        // received would read 100 %.
        let done = c(
            "A",
            t(2, 8),
            Some(t(2, 9)),
            1000,
            Some(t(2, 10)),
            Some(t(2, 11)),
        );
        let left = c("B", t(2, 8), None, 9000, None, None);
        let row = period(&[done.clone(), left]);
        assert_eq!(row.harmless_disposal_rate, Some(0.1));
        assert_eq!(
            row.plant_disposal_rate,
            Some(1.0),
            "the plant's own backlog is clear"
        );
        assert_eq!(row.entry_rate_weight, Some(0.1));
        // Nothing reached the plant at all: 0 %, and the plant's rate has no data.
        let row = period(&[c("B", t(2, 8), None, 9000, None, None)]);
        assert_eq!(row.harmless_disposal_rate, Some(0.0));
        assert_eq!(row.plant_disposal_rate, None);
        // Received but refused or still in the plant's store: not disposed.
        let row = period(&[c("C", t(2, 8), Some(t(2, 9)), 1000, Some(t(2, 10)), None)]);
        assert_eq!(
            (row.harmless_disposal_rate, row.plant_disposal_rate),
            (Some(0.0), Some(0.0))
        );
        // Disposed after the period's end: not by its end.
        let row = period(&[c(
            "D",
            t(2, 8),
            Some(t(2, 9)),
            1000,
            Some(t(2, 10)),
            Some(t(5, 1)),
        )]);
        assert_eq!(row.harmless_disposal_rate, Some(0.0));
        assert_eq!(row.kg_disposed, 0.0);
    }

    #[test]
    fn no_rate_exceeds_100_percent() {
        // The plant weighs heavier than the clinic: the entry rate stays by seal weight.
        let mut heavy = c(
            "A",
            t(2, 8),
            Some(t(2, 9)),
            1000,
            Some(t(2, 10)),
            Some(t(2, 11)),
        );
        heavy.receive_g = Some(1500);
        let row = period(&[heavy]);
        assert_eq!((row.kg_sealed, row.kg_received), (1.0, 1.5));
        assert_eq!(row.entry_rate_weight, Some(1.0));
        assert_eq!(row.harmless_disposal_rate, Some(1.0));
        // A backlog sealed before the period and disposed in it: counted as disposed in the
        // period, but it is not the period's waste, so the period's rates have no data.
        let old = c(
            "Z",
            t(1, 0),
            Some(t(1, 2)),
            5000,
            Some(t(1, 3)),
            Some(t(3, 0)),
        );
        let row = period(&[old]);
        assert_eq!((row.kg_sealed, row.kg_disposed), (0.0, 4.9));
        assert_eq!(
            (row.harmless_disposal_rate, row.entry_rate_weight),
            (None, None)
        );
        assert_eq!(row.plant_disposal_rate, None, "received before the period");
    }

    #[test]
    fn zero_denominators_are_no_data_not_100_percent() {
        let row = period(&[]);
        assert_eq!(
            row.entry_rate_institutions,
            Some(0.0),
            "one institution, not collected"
        );
        assert_eq!(
            (
                row.entry_rate_weight,
                row.harmless_disposal_rate,
                row.plant_disposal_rate,
                row.on_time_rate,
                row.inspection_pass_rate
            ),
            (None, None, None, None, None)
        );
        assert_eq!(row_of(&[]).entry_rate_institutions, None, "nobody expected");
        // Sealed 20 h before the end, not collected: not due yet, so still no data.
        let row = period(&[c("A", t(4, 4), None, 1000, None, None)]);
        assert_eq!((row.containers_due, row.on_time_rate), (0, None));
        // Nothing collected but one box forgotten past 48 h: 0 %, not no data.
        let row = period(&[c("B", t(2, 1), None, 1000, None, None)]);
        assert_eq!((row.containers_due, row.on_time_rate), (1, Some(0.0)));
        // Collected after the period's end, late: due in the period and late.
        let row = period(&[c("C", t(2, 1), Some(t(5, 3)), 1000, None, None)]);
        assert_eq!((row.containers_due, row.on_time_rate), (1, Some(0.0)));
        // Exactly 48 h is on time.
        let row = period(&[c("D", t(2, 1), Some(t(4, 1)), 1000, None, None)]);
        assert_eq!((row.containers_due, row.on_time_rate), (1, Some(1.0)));
    }

    #[test]
    fn roster_entries_not_signed_up_lower_the_entry_rate() {
        let a = c("A", t(2, 8), Some(t(2, 9)), 1000, None, None);
        let mut row = CoverageRow::default();
        let refs = [&a];
        add(
            &mut row,
            &institution_figures(&inst(), &refs, None, t(2, 0), t(5, 0), t(6, 0), false),
        );
        row.not_signed_up = 3;
        row.self_disposal = 1;
        finish(&mut row);
        assert_eq!(
            row.institutions_expected, 4,
            "self-disposal is on its own line"
        );
        assert_eq!(row.entry_rate_institutions, Some(0.25));
    }

    #[test]
    fn every_rate_has_a_definition_and_every_definition_a_rate() {
        let row = serde_json::to_value(CoverageRow::default()).expect("row");
        let mut rates: Vec<&str> = row
            .as_object()
            .expect("object")
            .keys()
            .filter(|k| k.ends_with("_rate") || k.contains("_rate_"))
            .map(String::as_str)
            .collect();
        rates.sort();
        let mut defined: Vec<&str> = DEFINITIONS.iter().map(|d| d.0).collect();
        defined.sort();
        assert_eq!(rates, defined);
        for d in definitions() {
            assert!(
                !d.numerator.is_empty() && !d.denominator.is_empty() && !d.excluded.is_empty(),
                "{}",
                d.rate
            );
        }
        // And the CSV has a column for each, explained on its second line.
        assert!(CSV_COLUMNS.iter().all(|c| !c.0.is_empty()));
        for r in &rates {
            assert!(
                CSV_COLUMNS.iter().any(|c| c.0 == *r && c.1.is_empty()),
                "{r}"
            );
        }
    }

    #[test]
    fn the_csv_says_what_each_column_is_and_no_data_where_there_is_none() {
        let mut total = CoverageRow {
            group: "total".into(),
            ..Default::default()
        };
        total.registered = 1;
        finish(&mut total);
        let r = CoverageReport {
            from: NaiveDate::from_ymd_opt(2026, 3, 2).expect("d"),
            to: NaiveDate::from_ymd_opt(2026, 3, 2).expect("d"),
            township: None,
            generated_at: chrono::DateTime::from_timestamp(0, 0).expect("t"),
            inspection_target: TARGET,
            total,
            by_township: Vec::new(),
            by_kind: Vec::new(),
            institutions: Vec::new(),
            definitions: definitions(),
        };
        let text = csv(&r);
        let mut lines = csv::Reader::from_reader(text.as_bytes());
        let header = lines.headers().expect("header").clone();
        assert_eq!(header.len(), CSV_COLUMNS.len());
        let recs: Vec<csv::StringRecord> = lines.records().map(|r| r.expect("record")).collect();
        assert_eq!(recs.len(), 2, "{text}");
        let col = |name: &str| header.iter().position(|h| h == name).expect("column");
        assert_eq!(&recs[0][0], "definition");
        assert!(recs[0][col("harmless_disposal_rate")].starts_with("无害化处置率 = seal weight"));
        assert_eq!(&recs[1][col("entry_rate_institutions")], "0.0000");
        assert_eq!(&recs[1][col("harmless_disposal_rate")], NO_DATA);
        assert_eq!(&recs[1][col("on_time_rate")], NO_DATA);
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
        assert_eq!(
            (
                f.kg_sealed_received,
                f.kg_sealed_disposed,
                f.kg_received_disposed
            ),
            (3.0, 2.0, 1.9)
        );
        assert_eq!((f.containers_collected, f.collected_on_time), (2, 1));
        assert_eq!(f.containers_due, 3, "Z waits past its limit: due and late");
        assert_eq!(f.overdue_storage_hours, 12.0 + 48.0);
        assert!(!f.collected_within_interval, "B waited 60 h > 48 h");
        assert!(!f.inactive);
        assert_eq!(f.containers, ["A", "B", "Z"]);
        let row = row_of(&[f]);
        assert_eq!(
            row.entry_rate_weight,
            Some(1.0),
            "by seal weight, not 2.8 / 3.0"
        );
        assert_eq!(row.harmless_disposal_rate, Some(0.6667), "2 of 3 kg sealed");
        assert_eq!(
            row.plant_disposal_rate,
            Some(0.6786),
            "1.9 of 2.8 kg received"
        );
        assert_eq!(row.on_time_rate, Some(0.3333), "A of A, B, Z");
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
