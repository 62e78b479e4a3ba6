//! Alert rules (DESIGN.md section 3 defaults, tightened in epidemic mode), evaluated over the
//! derived custody state: each condition opens one alert, identified by a condition key so
//! that the same condition never opens two; an alert whose condition cleared (a late upload
//! arrived) is resolved by the system.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Alert, AlertPage, Role};

use crate::auth::Caller;
use crate::db::schema::{alerts, containers, institutions};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::wire::{Cursor, page};

/// Thresholds of the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub storage_warn_h: i64,
    pub storage_breach_h: i64,
    pub not_collected_h: i64,
    pub collected_not_received_h: i64,
    pub received_not_disposed_h: i64,
    pub inactive_days: i64,
    pub discrepancy_days: i64,
}

/// Thresholds a deployment sets (`YIFEI_ALERT_<NAME>`, read and checked once at start by
/// `config.rs`); each replaces its default in normal and epidemic mode alike.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    pub storage_warn_h: Option<i64>,
    pub storage_breach_h: Option<i64>,
    pub not_collected_h: Option<i64>,
    pub collected_not_received_h: Option<i64>,
    pub received_not_disposed_h: Option<i64>,
    pub inactive_days: Option<i64>,
    pub discrepancy_days: Option<i64>,
    /// `YIFEI_TRACK_*`: the GPS rules against the plan (`tracking`).
    pub tracking: crate::tracking::Rules,
}

impl Overrides {
    /// The `<NAME>` of each `YIFEI_ALERT_<NAME>`, with where its value goes.
    pub fn slots(&mut self) -> [(&'static str, &mut Option<i64>); 7] {
        [
            ("STORAGE_WARN_H", &mut self.storage_warn_h),
            ("STORAGE_BREACH_H", &mut self.storage_breach_h),
            ("NOT_COLLECTED_H", &mut self.not_collected_h),
            (
                "COLLECTED_NOT_RECEIVED_H",
                &mut self.collected_not_received_h,
            ),
            ("RECEIVED_NOT_DISPOSED_H", &mut self.received_not_disposed_h),
            ("INACTIVE_DAYS", &mut self.inactive_days),
            ("DISCREPANCY_DAYS", &mut self.discrepancy_days),
        ]
    }
}

impl Thresholds {
    /// DESIGN.md defaults; epidemic mode: collection within 24 h, disposal within 12 h
    /// (Shandong 2020); then the deployment's overrides.
    pub fn new(epidemic: bool, o: &Overrides) -> Thresholds {
        let or = |v: Option<i64>, d: i64| v.unwrap_or(d);
        Thresholds {
            storage_warn_h: or(o.storage_warn_h, if epidemic { 18 } else { 36 }),
            storage_breach_h: or(o.storage_breach_h, if epidemic { 24 } else { 48 }),
            not_collected_h: or(o.not_collected_h, if epidemic { 24 } else { 48 }),
            collected_not_received_h: or(o.collected_not_received_h, 12),
            received_not_disposed_h: or(o.received_not_disposed_h, if epidemic { 12 } else { 72 }),
            inactive_days: or(o.inactive_days, 14),
            discrepancy_days: or(o.discrepancy_days, 15),
        }
    }
}

/// A container as the rules see it.
#[derive(Debug, Clone)]
pub struct ContainerFacts {
    pub code: String,
    pub institution_id: String,
    pub state: String,
    pub sealed_at: Option<NaiveDateTime>,
    pub collected_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub flags: Vec<String>,
}

/// An institution as the rules see it.
#[derive(Debug, Clone)]
pub struct InstitutionFacts {
    pub id: String,
    pub name: String,
    pub interval_h: i64,
    pub last_collected: Option<NaiveDateTime>,
    pub last_sealed: Option<NaiveDateTime>,
    pub since: NaiveDateTime,
}

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub key: String,
    pub rule: &'static str,
    pub severity: &'static str,
    pub subject_type: &'static str,
    pub subject_id: String,
    pub institution_id: Option<String>,
    pub detail: String,
}

fn hours(d: Duration) -> i64 {
    d.num_hours()
}

/// Every condition that holds at `now` (pure: unit-tested on crafted histories).
pub fn conditions(
    containers: &[ContainerFacts],
    institutions: &[InstitutionFacts],
    open_discrepancies: &[(String, String, Option<String>, NaiveDateTime)],
    t: &Thresholds,
    now: NaiveDateTime,
) -> Vec<Condition> {
    let mut out = Vec::new();
    for c in containers {
        let cond = |rule: &'static str, severity: &'static str, detail: String| Condition {
            key: format!("{rule}:{}", c.code),
            rule,
            severity,
            subject_type: "container",
            subject_id: c.code.clone(),
            institution_id: Some(c.institution_id.clone()),
            detail,
        };
        match (c.state.as_str(), c.sealed_at, c.collected_at, c.received_at) {
            ("sealed" | "at_hub", Some(s), _, _) => {
                let age = hours(now - s);
                if age >= t.storage_breach_h {
                    out.push(cond(
                        "storage_breach",
                        "critical",
                        format!(
                            "stored {age} h since sealing (limit {} h)",
                            t.storage_breach_h
                        ),
                    ));
                } else if age >= t.storage_warn_h {
                    out.push(cond(
                        "storage_warning",
                        "warning",
                        format!(
                            "stored {age} h since sealing (limit {} h)",
                            t.storage_breach_h
                        ),
                    ));
                }
            }
            ("collected", _, Some(col), _) if hours(now - col) >= t.collected_not_received_h => out
                .push(cond(
                    "collected_not_received",
                    "critical",
                    format!(
                        "collected {} h ago, not received at the plant (limit {} h)",
                        hours(now - col),
                        t.collected_not_received_h
                    ),
                )),
            ("received", _, _, Some(rec)) if hours(now - rec) >= t.received_not_disposed_h => out
                .push(cond(
                    "received_not_disposed",
                    "critical",
                    format!(
                        "received {} h ago, not disposed of (limit {} h)",
                        hours(now - rec),
                        t.received_not_disposed_h
                    ),
                )),
            _ => {}
        }
        if c.flags.iter().any(|f| f == "weight_discrepancy") {
            let detail = if c.flags.iter().any(|f| f == "weight_estimated") {
                "weights at seal, pickup and plant differ beyond max(25 %, 0.5 kg), an \
                 estimated weight involved"
            } else {
                "weights at seal, pickup and plant differ beyond max(10 %, 0.3 kg)"
            };
            out.push(cond("weight_discrepancy", "warning", detail.into()));
        }
        // The driver left it at the door: the clinic must repack or relabel it.
        if c.flags.iter().any(|f| f == "refused_at_pickup") {
            out.push(cond(
                "container_refused",
                "warning",
                "refused by the driver at pickup; it stays with the institution until collected"
                    .into(),
            ));
        }
        if c.flags.iter().any(|f| f == "location_mismatch") {
            out.push(cond(
                "location_mismatch",
                "warning",
                "picked up more than 500 m from the institution and its hub".into(),
            ));
        }
    }
    for i in institutions {
        let since = i.last_collected.unwrap_or(i.since);
        let gap = hours(now - since);
        if gap >= i.interval_h.min(t.not_collected_h) {
            out.push(Condition {
                key: format!("not_collected:{}:{}", i.id, since.and_utc().timestamp()),
                rule: "not_collected",
                severity: "critical",
                subject_type: "institution",
                subject_id: i.id.clone(),
                institution_id: Some(i.id.clone()),
                detail: format!(
                    "{}: no collection for {gap} h (interval {} h)",
                    i.name,
                    i.interval_h.min(t.not_collected_h)
                ),
            });
        }
        let quiet_since = i.last_sealed.unwrap_or(i.since);
        let quiet = (now - quiet_since).num_days();
        if quiet >= t.inactive_days {
            out.push(Condition {
                key: format!(
                    "inactive_institution:{}:{}",
                    i.id,
                    quiet_since.and_utc().timestamp()
                ),
                rule: "inactive_institution",
                severity: "warning",
                subject_type: "institution",
                subject_id: i.id.clone(),
                institution_id: Some(i.id.clone()),
                detail: format!("{}: no waste sealed for {quiet} days", i.name),
            });
        }
    }
    for (alert_id, subject, inst, opened) in open_discrepancies {
        let age = (now - *opened).num_days();
        if age >= t.discrepancy_days {
            out.push(Condition {
                key: format!("discrepancy_unresolved:{alert_id}"),
                rule: "discrepancy_unresolved",
                severity: "critical",
                subject_type: "container",
                subject_id: subject.clone(),
                institution_id: inst.clone(),
                detail: format!(
                    "discrepancy open for {age} days (limit {} days)",
                    t.discrepancy_days
                ),
            });
        }
    }
    out
}

/// Puts the institution's name before the detail of every condition about a container or a
/// manifest (`"石门镇卫生院: stored 50 h since sealing (limit 48 h)"`): a container code alone
/// tells the reader of an alert or its email nothing about where to go. Institution
/// conditions name it already; a condition whose institution is unknown is left as it is.
pub fn name_institutions(conditions: &mut [Condition], names: &HashMap<String, String>) {
    for c in conditions
        .iter_mut()
        .filter(|c| c.subject_type != "institution")
    {
        if let Some(name) = c.institution_id.as_ref().and_then(|i| names.get(i)) {
            c.detail = format!("{name}: {}", c.detail);
        }
    }
}

/// A container line of a manifest, as the per-manifest rules see it.
#[derive(Debug, Clone)]
pub struct LineFacts {
    pub collected_at: Option<NaiveDateTime>,
    pub collect_g: Option<i32>,
    pub receive_g: Option<i32>,
}

/// Per-manifest rules (40 CFR 264.72 analogue): any difference in container count between
/// pickup and plant is critical once the missing ones are overdue; the weighed-in total more
/// than 10 % off the picked-up total is critical.
pub fn manifest_conditions(
    manifests: &[(String, String, Vec<LineFacts>)],
    t: &Thresholds,
    now: NaiveDateTime,
) -> Vec<Condition> {
    let mut out = Vec::new();
    for (number, institution_id, lines) in manifests {
        let received: Vec<&LineFacts> = lines.iter().filter(|l| l.receive_g.is_some()).collect();
        if received.is_empty() {
            continue; // nothing at the plant yet: the per-container transport rule watches
        }
        let missing = lines
            .iter()
            .filter(|l| {
                l.receive_g.is_none()
                    && l.collected_at
                        .is_some_and(|c| hours(now - c) >= t.collected_not_received_h)
            })
            .count();
        if missing > 0 {
            out.push(Condition {
                key: format!("count_discrepancy:{number}"),
                rule: "count_discrepancy",
                severity: "critical",
                subject_type: "manifest",
                subject_id: number.clone(),
                institution_id: Some(institution_id.clone()),
                detail: format!(
                    "{} containers picked up, {} weighed in at the plant",
                    lines.len(),
                    received.len()
                ),
            });
        }
        let collected: i64 = received
            .iter()
            .map(|l| i64::from(l.collect_g.unwrap_or(0)))
            .sum();
        let weighed: i64 = received
            .iter()
            .map(|l| i64::from(l.receive_g.unwrap_or(0)))
            .sum();
        if collected > 0 && (weighed - collected).abs() * 10 > collected {
            out.push(Condition {
                key: format!("manifest_weight:{number}"),
                rule: "weight_discrepancy",
                severity: "critical",
                subject_type: "manifest",
                subject_id: number.clone(),
                institution_id: Some(institution_id.clone()),
                detail: format!(
                    "{:.3} kg picked up, {:.3} kg weighed in (more than 10 % apart)",
                    collected as f64 / 1000.0,
                    weighed as f64 / 1000.0
                ),
            });
        }
    }
    out
}

/// The manifests of the last 30 days with their lines.
fn manifest_facts(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<(String, String, Vec<LineFacts>)>, ApiError> {
    use crate::db::schema::{manifests, scan_events};
    let since = now - Duration::days(30);
    let numbers: HashMap<(String, String), String> = manifests::table
        .filter(manifests::created_at.ge(since))
        .select((
            manifests::run_id,
            manifests::institution_id,
            manifests::number,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(r, i, n)| ((r, i), n))
        .collect();
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    type Line = (
        Option<String>,
        String,
        String,
        Option<NaiveDateTime>,
        Option<i32>,
        Option<i32>,
    );
    let lines: Vec<Line> = scan_events::table
        .inner_join(containers::table)
        .filter(scan_events::action.eq("collect"))
        .filter(scan_events::run_id.is_not_null())
        .filter(scan_events::occurred_at.ge(since))
        .select((
            scan_events::run_id,
            containers::institution_id,
            containers::id,
            containers::collected_at,
            containers::collect_weight_g,
            containers::receive_weight_g,
        ))
        .load(conn)?;
    let mut grouped: HashMap<String, (String, HashMap<String, LineFacts>)> = HashMap::new();
    for (run, inst, id, collected_at, collect_g, receive_g) in lines {
        let Some(number) = run.and_then(|r| numbers.get(&(r, inst.clone()))) else {
            continue;
        };
        grouped
            .entry(number.clone())
            .or_insert_with(|| (inst, HashMap::new()))
            .1
            .insert(
                id,
                LineFacts {
                    collected_at,
                    collect_g,
                    receive_g,
                },
            );
    }
    Ok(grouped
        .into_iter()
        .map(|(n, (i, l))| (n, i, l.into_values().collect()))
        .collect())
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = alerts)]
struct AlertRow {
    id: String,
    condition_key: String,
    rule: String,
    severity: String,
    subject_type: String,
    subject_id: String,
    institution_id: Option<String>,
    township: Option<String>,
    detail: String,
    status: String,
    opened_at: NaiveDateTime,
    acked_at: Option<NaiveDateTime>,
    acked_by: Option<String>,
    resolved_at: Option<NaiveDateTime>,
    resolved_by: Option<String>,
    note: Option<String>,
    org_id: Option<String>,
}

impl AlertRow {
    fn to_wire(&self) -> Alert {
        Alert {
            id: self.id.clone(),
            rule: self.rule.clone(),
            severity: self.severity.clone(),
            subject_type: self.subject_type.clone(),
            subject_id: self.subject_id.clone(),
            institution_id: self.institution_id.clone(),
            township: self.township.clone(),
            org_id: self.org_id.clone(),
            detail: self.detail.clone(),
            status: self.status.clone(),
            opened_at: self.opened_at.and_utc(),
            acked_at: self.acked_at.map(|t| t.and_utc()),
            acked_by: self.acked_by.clone(),
            resolved_at: self.resolved_at.map(|t| t.and_utc()),
            resolved_by: self.resolved_by.clone(),
            note: self.note.clone(),
        }
    }
}

/// code, institution, state, sealed, collected, received, flags.
type ContainerTuple = (
    String,
    String,
    String,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    Option<NaiveDateTime>,
    String,
);

/// What one evaluation changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Evaluation {
    pub opened: usize,
    pub resolved: usize,
}

/// Evaluates every rule now, opens alerts for new conditions and resolves the ones whose
/// condition cleared. Emails about new alerts are queued in the same transaction.
pub fn evaluate(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    overrides: &Overrides,
) -> Result<Evaluation, ApiError> {
    let now = now.naive_utc();
    write_tx(conn, |conn| {
        let t = Thresholds::new(super::epidemic(conn)?, overrides);
        let rows: Vec<ContainerTuple> = containers::table
            .filter(
                containers::state
                    .eq_any(["sealed", "at_hub", "collected", "received"])
                    .or(containers::flags.ne("[]")),
            )
            .select((
                containers::code,
                containers::institution_id,
                containers::state,
                containers::sealed_at,
                containers::collected_at,
                containers::received_at,
                containers::flags,
            ))
            .load(conn)?;
        let cfacts: Vec<ContainerFacts> = rows
            .into_iter()
            .map(
                |(code, institution_id, state, sealed_at, collected_at, received_at, flags)| {
                    ContainerFacts {
                        code,
                        institution_id,
                        state,
                        sealed_at,
                        collected_at,
                        received_at,
                        flags: serde_json::from_str(&flags).unwrap_or_default(),
                    }
                },
            )
            .collect();
        let last: HashMap<String, (Option<NaiveDateTime>, Option<NaiveDateTime>)> =
            containers::table
                .group_by(containers::institution_id)
                .select((
                    containers::institution_id,
                    diesel::dsl::max(containers::collected_at),
                    diesel::dsl::max(containers::sealed_at),
                ))
                .load::<(String, Option<NaiveDateTime>, Option<NaiveDateTime>)>(conn)?
                .into_iter()
                .map(|(i, c, s)| (i, (c, s)))
                .collect();
        let insts: Vec<(String, String, String, i32, NaiveDateTime)> = institutions::table
            .filter(institutions::status.eq("active"))
            .select((
                institutions::id,
                institutions::name,
                institutions::township,
                institutions::collection_interval_h,
                institutions::created_at,
            ))
            .load(conn)?;
        let (township_of, name_of): (HashMap<String, String>, HashMap<String, String>) =
            institutions::table
                .select((institutions::id, institutions::township, institutions::name))
                .load::<(String, String, String)>(conn)?
                .into_iter()
                .map(|(id, township, name)| ((id.clone(), township), (id, name)))
                .unzip();
        let ifacts: Vec<InstitutionFacts> = insts
            .iter()
            .map(|(id, name, _, interval, created)| {
                let (c, s) = last.get(id).copied().unwrap_or((None, None));
                InstitutionFacts {
                    id: id.clone(),
                    name: name.clone(),
                    interval_h: i64::from(*interval),
                    last_collected: c,
                    last_sealed: s,
                    since: *created,
                }
            })
            .collect();
        let active: Vec<AlertRow> = alerts::table
            .filter(alerts::status.ne("resolved"))
            .select(AlertRow::as_select())
            .load(conn)?;
        let discrepancies: Vec<(String, String, Option<String>, NaiveDateTime)> = active
            .iter()
            .filter(|a| {
                [
                    "weight_discrepancy",
                    "count_discrepancy",
                    "location_mismatch",
                ]
                .contains(&a.rule.as_str())
            })
            .map(|a| {
                (
                    a.id.clone(),
                    a.subject_id.clone(),
                    a.institution_id.clone(),
                    a.opened_at,
                )
            })
            .collect();
        let mut current = conditions(&cfacts, &ifacts, &discrepancies, &t, now);
        current.extend(manifest_conditions(&manifest_facts(conn, now)?, &t, now));
        name_institutions(&mut current, &name_of);
        current.extend(super::watchlist::overdue_conditions(conn, now)?);
        current.extend(super::rectifications::overdue_conditions(conn, now)?);
        let (gps, tracked) =
            crate::tracking::store::conditions(conn, now.and_utc(), &overrides.tracking)?;
        current.extend(gps);
        current.extend(crate::manifests::signatures::alert_conditions(conn, now)?);
        let keys: HashSet<&str> = current.iter().map(|c| c.key.as_str()).collect();
        // A GPS alert of a run no longer evaluated (older than the look-back) stands.
        let stands = |a: &AlertRow| {
            crate::tracking::store::RULES.contains(&a.rule.as_str())
                && !tracked.contains(&a.subject_id)
        };
        let mut ev = Evaluation::default();
        for a in active
            .iter()
            .filter(|a| !keys.contains(a.condition_key.as_str()) && !stands(a))
        {
            diesel::update(alerts::table.find(&a.id))
                .set((
                    alerts::status.eq("resolved"),
                    alerts::resolved_at.eq(now),
                    alerts::resolved_by.eq("system"),
                    alerts::note.eq("the condition cleared"),
                ))
                .execute(conn)?;
            ev.resolved += 1;
        }
        let known: HashSet<String> = if current.is_empty() {
            HashSet::new()
        } else {
            let wanted: Vec<&str> = keys.iter().copied().collect();
            let mut known = HashSet::new();
            for chunk in wanted.chunks(500) {
                known.extend(
                    alerts::table
                        .filter(alerts::condition_key.eq_any(chunk))
                        .select(alerts::condition_key)
                        .load::<String>(conn)?,
                );
            }
            known
        };
        let fresh: Vec<&Condition> = current.iter().filter(|c| !known.contains(&c.key)).collect();
        let mut companies = companies_of(conn, &fresh, &active)?;
        // Conditions about the company itself (an overdue watch-list entry, rectification).
        for c in fresh.iter().filter(|c| c.subject_type == "organisation") {
            companies.insert(c.key.clone(), c.subject_id.clone());
        }
        for c in fresh {
            let row = AlertRow {
                id: new_id(),
                condition_key: c.key.clone(),
                rule: c.rule.into(),
                severity: c.severity.into(),
                subject_type: c.subject_type.into(),
                subject_id: c.subject_id.clone(),
                institution_id: c.institution_id.clone(),
                township: c
                    .institution_id
                    .as_ref()
                    .and_then(|i| township_of.get(i).cloned()),
                detail: c.detail.clone(),
                status: "open".into(),
                opened_at: now,
                acked_at: None,
                acked_by: None,
                resolved_at: None,
                resolved_by: None,
                note: None,
                org_id: companies.get(&c.key).cloned(),
            };
            // Another evaluation (background, another request) may open it at the same moment:
            // the unique condition key decides, and only the winner sends the emails.
            let q = diesel::insert_into(alerts::table)
                .values(&row)
                .on_conflict_do_nothing();
            let inserted = match conn {
                DbConnection::Sqlite(c) => q.execute(c)?,
                DbConnection::Postgresql(c) => q.execute(c)?,
            };
            if inserted == 1 {
                let name = row.institution_id.as_ref().and_then(|i| name_of.get(i));
                notify_opened(conn, &row, name.map(String::as_str), now)?;
                ev.opened += 1;
            }
        }
        set_evaluated_at(conn, now)?;
        Ok(ev)
    })
}

/// Rules about what a disposal company did or holds: their alerts belong to that company.
const COMPANY_RULES: [&str; 5] = [
    "collected_not_received",
    "received_not_disposed",
    "weight_discrepancy",
    "location_mismatch",
    "count_discrepancy",
];

/// The disposal company each new condition concerns (by condition key): for a container,
/// the company of its latest pickup or plant scan (the run's company for a pickup on a run,
/// else the scanning account's); for a manifest, its run's company; an unresolved
/// discrepancy inherits its discrepancy's. Institution-side conditions concern none.
fn companies_of(
    conn: &mut DbConnection,
    fresh: &[&Condition],
    active: &[AlertRow],
) -> Result<HashMap<String, String>, ApiError> {
    use crate::db::schema::{manifests, runs, scan_events, users};
    let mut out = HashMap::new();
    let codes: Vec<&str> = fresh
        .iter()
        .filter(|c| c.subject_type == "container" && COMPANY_RULES.contains(&c.rule))
        .map(|c| c.subject_id.as_str())
        .collect();
    // code -> (occurred_at, actor, run) of its latest company scan.
    let mut latest: HashMap<String, (NaiveDateTime, String, Option<String>)> = HashMap::new();
    for chunk in codes.chunks(500) {
        let rows: Vec<(String, NaiveDateTime, String, Option<String>)> = scan_events::table
            .inner_join(containers::table)
            .filter(containers::code.eq_any(chunk))
            .filter(scan_events::action.eq_any(["collect", "receive", "reject", "dispose"]))
            .select((
                containers::code,
                scan_events::occurred_at,
                scan_events::actor_id,
                scan_events::run_id,
            ))
            .load(conn)?;
        for (code, at, actor, run) in rows {
            let e = latest
                .entry(code)
                .or_insert((at, actor.clone(), run.clone()));
            if at > e.0 {
                *e = (at, actor, run);
            }
        }
    }
    let run_ids: Vec<String> = latest.values().filter_map(|v| v.2.clone()).collect();
    let actor_ids: Vec<String> = latest.values().map(|v| v.1.clone()).collect();
    let mut run_org: HashMap<String, String> = HashMap::new();
    for chunk in run_ids.chunks(500) {
        run_org.extend(
            runs::table
                .filter(runs::id.eq_any(chunk))
                .select((runs::id, runs::org_id))
                .load::<(String, String)>(conn)?,
        );
    }
    let mut user_org: HashMap<String, String> = HashMap::new();
    for chunk in actor_ids.chunks(500) {
        user_org.extend(
            users::table
                .filter(users::id.eq_any(chunk))
                .select((users::id, users::org_id))
                .load::<(String, Option<String>)>(conn)?
                .into_iter()
                .filter_map(|(u, o)| o.map(|o| (u, o))),
        );
    }
    let numbers: Vec<&str> = fresh
        .iter()
        .filter(|c| c.subject_type == "manifest")
        .map(|c| c.subject_id.as_str())
        .collect();
    let mut manifest_org: HashMap<String, String> = HashMap::new();
    for chunk in numbers.chunks(500) {
        manifest_org.extend(
            manifests::table
                .inner_join(runs::table)
                .filter(manifests::number.eq_any(chunk))
                .select((manifests::number, runs::org_id))
                .load::<(String, String)>(conn)?,
        );
    }
    let run_ids: Vec<&str> = fresh
        .iter()
        .filter(|c| c.subject_type == "run")
        .map(|c| c.subject_id.as_str())
        .collect();
    for chunk in run_ids.chunks(500) {
        run_org.extend(
            runs::table
                .filter(runs::id.eq_any(chunk))
                .select((runs::id, runs::org_id))
                .load::<(String, String)>(conn)?,
        );
    }
    for c in fresh {
        let org = match (c.subject_type, c.rule) {
            ("manifest", _) => manifest_org.get(&c.subject_id).cloned(),
            ("run", _) => run_org.get(&c.subject_id).cloned(),
            (_, "discrepancy_unresolved") => c
                .key
                .strip_prefix("discrepancy_unresolved:")
                .and_then(|id| active.iter().find(|a| a.id == id))
                .and_then(|a| a.org_id.clone()),
            ("container", r) if COMPANY_RULES.contains(&r) => {
                latest.get(&c.subject_id).and_then(|(_, actor, run)| {
                    run.as_ref()
                        .and_then(|r| run_org.get(r))
                        .or_else(|| user_org.get(actor))
                        .cloned()
                })
            }
            _ => None,
        };
        if let Some(o) = org {
            out.insert(c.key.clone(), o);
        }
    }
    Ok(out)
}

const EVALUATED_KEY: &str = "alerts_evaluated_at";

/// Records when the rules were last evaluated, in the evaluation's transaction (so every
/// server process over the database reports the same freshness).
fn set_evaluated_at(conn: &mut DbConnection, now: NaiveDateTime) -> Result<(), ApiError> {
    use crate::db::schema::settings;
    let value = now.and_utc().to_rfc3339();
    let q = diesel::insert_into(settings::table)
        .values((settings::key.eq(EVALUATED_KEY), settings::value.eq(&value)))
        .on_conflict(settings::key)
        .do_update()
        .set(settings::value.eq(&value));
    match conn {
        DbConnection::Sqlite(c) => q.execute(c)?,
        DbConnection::Postgresql(c) => q.execute(c)?,
    };
    Ok(())
}

/// When the rules were last evaluated (none before the first evaluation).
pub fn evaluated_at(conn: &mut DbConnection) -> Result<Option<DateTime<Utc>>, ApiError> {
    use crate::db::schema::settings;
    let v: Option<String> = settings::table
        .find(EVALUATED_KEY)
        .select(settings::value)
        .first(conn)
        .optional()?;
    Ok(v.and_then(|v| DateTime::parse_from_rfc3339(&v).ok())
        .map(|t| t.with_timezone(&Utc)))
}

/// Email addresses to tell about something at an institution: its contact, the dispatchers
/// of the company it concerns (of every company for an institution-side condition, which
/// any of them may collect), and the bureau staff whose jurisdiction covers its township.
pub fn recipients(
    conn: &mut DbConnection,
    institution_id: Option<&str>,
    township: Option<&str>,
    org_id: Option<&str>,
) -> Result<Vec<String>, ApiError> {
    use crate::db::schema::{organisations, users};
    let mut out = Vec::new();
    if let Some(i) = institution_id {
        let contact: Option<Option<String>> = institutions::table
            .find(i)
            .select(institutions::contact_email)
            .first(conn)
            .optional()?;
        out.extend(contact.flatten());
    }
    let mut dispatchers = users::table
        .filter(users::role.eq(Role::Dispatcher.as_str()))
        .filter(users::active.eq(true))
        .select(users::email)
        .into_boxed();
    if let Some(org) = org_id {
        dispatchers = dispatchers.filter(users::org_id.eq(org.to_owned()));
    }
    out.extend(
        dispatchers
            .load::<Option<String>>(conn)?
            .into_iter()
            .flatten(),
    );
    let bureau: Vec<(Option<String>, String)> = users::table
        .inner_join(organisations::table)
        .filter(users::role.eq(Role::BureauStaff.as_str()))
        .filter(users::active.eq(true))
        .select((users::email, organisations::townships))
        .load(conn)?;
    for (email, townships) in bureau {
        let t: Vec<String> = serde_json::from_str(&townships).unwrap_or_default();
        if t.is_empty() || township.is_some_and(|x| t.iter().any(|y| y == x)) {
            out.extend(email);
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Queues the emails about a new alert in the transaction that opens it: if the SMTP server
/// is down they wait in the outbox; a condition never mails twice (dedupe key).
fn notify_opened(
    conn: &mut DbConnection,
    a: &AlertRow,
    institution: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    let subject = match institution {
        Some(name) if a.subject_type != "institution" => format!(
            "[Yifei] {} {}: {name} ({})",
            a.severity, a.rule, a.subject_id
        ),
        Some(name) => format!("[Yifei] {} {}: {name}", a.severity, a.rule),
        None => format!("[Yifei] {} {}: {}", a.severity, a.rule, a.subject_id),
    };
    let body = format!(
        "{}\n\nRule: {}\nSeverity: {}\nSubject: {} {}\nInstitution: {}\nTownship: {}\nOpened: {} UTC\n\nAcknowledge or resolve it in Yifei (alert {}).\n",
        a.detail,
        a.rule,
        a.severity,
        a.subject_type,
        a.subject_id,
        match (institution, a.institution_id.as_deref()) {
            (Some(name), Some(id)) => format!("{name} ({id})"),
            (None, Some(id)) => id.to_owned(),
            _ => "-".to_owned(),
        },
        a.township.as_deref().unwrap_or("-"),
        a.opened_at.format("%Y-%m-%d %H:%M"),
        a.id
    );
    let key = format!("alert:{}", a.id);
    for to in recipients(
        conn,
        a.institution_id.as_deref(),
        a.township.as_deref(),
        a.org_id.as_deref(),
    )? {
        crate::notify::enqueue(conn, &to, &subject, &body, Some(&key), now)?;
    }
    Ok(())
}

/// Queues the daily digest for bureau staff once per local day after 07:00: open alerts of
/// their jurisdiction by rule. Returns how many were queued.
pub fn daily_digest(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    tz: chrono::FixedOffset,
) -> Result<usize, ApiError> {
    use crate::db::schema::{organisations, users};
    let local = now.with_timezone(&tz);
    if local.format("%H").to_string().parse::<u32>().unwrap_or(0) < 7 {
        return Ok(0);
    }
    let day = local.date_naive();
    write_tx(conn, |conn| {
        let staff: Vec<(String, Option<String>, String)> = users::table
            .inner_join(organisations::table)
            .filter(users::role.eq(Role::BureauStaff.as_str()))
            .filter(users::active.eq(true))
            .select((users::id, users::email, organisations::townships))
            .load(conn)?;
        let open: Vec<(String, Option<String>, String)> = alerts::table
            .filter(alerts::status.ne("resolved"))
            .select((alerts::rule, alerts::township, alerts::severity))
            .load(conn)?;
        let mut queued = 0;
        for (id, email, townships) in staff {
            let Some(email) = email else { continue };
            let t: Vec<String> = serde_json::from_str(&townships).unwrap_or_default();
            let mut by_rule: std::collections::BTreeMap<&str, (usize, usize)> =
                std::collections::BTreeMap::new();
            for (rule, township, severity) in &open {
                if t.is_empty() || township.as_ref().is_some_and(|x| t.contains(x)) {
                    let e = by_rule.entry(rule.as_str()).or_default();
                    e.0 += 1;
                    e.1 += usize::from(severity == "critical");
                }
            }
            let mut body = format!("Open alerts in your jurisdiction on {day}:\n\n");
            if by_rule.is_empty() {
                body.push_str("none\n");
            }
            for (rule, (n, critical)) in &by_rule {
                body.push_str(&format!("  {rule}: {n} ({critical} critical)\n"));
            }
            body.push_str("\nDetails: GET /api/v1/alerts and /api/v1/reports/coverage in Yifei.\n");
            let key = format!("digest:{id}:{day}");
            let subject = format!("[Yifei] daily digest {day}");
            if crate::notify::enqueue(conn, &email, &subject, &body, Some(&key), now.naive_utc())? {
                queued += 1;
            }
        }
        Ok(queued)
    })
}

/// Filters of the alert list.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub status: Option<String>,
    pub rule: Option<String>,
    pub township: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// Who is looking at alerts, as far as the alert rules of access need to know.
#[derive(Debug, Clone, PartialEq)]
pub enum Viewer {
    /// Sees and acts on every alert.
    Admin,
    /// Bureau staff: the alerts of their townships (`None`: the whole county); `acts` is
    /// false for the eco-environment bureau, which reads only.
    Bureau {
        townships: Option<Vec<String>>,
        acts: bool,
    },
    /// A disposal company's staff: its own alerts, and the institution-side ones (storage,
    /// not collected, inactive) that tell it whom to collect. Only dispatchers act.
    Company { org: String, dispatcher: bool },
    /// Clinic staff or hub keeper of an approved institution: its own alerts, read only.
    Institution(String),
    /// A pending or rejected institution, an account without a tenant: nothing.
    Nobody,
}

/// What a viewer may do with one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Not visible: answers 404.
    None,
    Read,
    /// Read and acknowledge ("someone is on it").
    Ack,
    /// Read, acknowledge and resolve.
    Resolve,
}

/// The rule of access to an alert, from the company, institution and township it concerns.
pub fn access(
    v: &Viewer,
    org_id: Option<&str>,
    institution_id: Option<&str>,
    township: Option<&str>,
) -> Access {
    match v {
        Viewer::Admin => Access::Resolve,
        Viewer::Bureau { townships, acts } => {
            let inside = match townships {
                None => true,
                Some(t) => township.is_some_and(|x| t.iter().any(|y| y == x)),
            };
            match (inside, acts) {
                (false, _) => Access::None,
                (true, true) => Access::Resolve,
                (true, false) => Access::Read,
            }
        }
        Viewer::Company { org, dispatcher } => match (org_id, dispatcher) {
            (Some(o), _) if o != org => Access::None,
            (Some(_), true) => Access::Resolve,
            (None, true) => Access::Ack,
            (_, false) => Access::Read,
        },
        Viewer::Institution(own) => {
            if institution_id == Some(own.as_str()) {
                Access::Read
            } else {
                Access::None
            }
        }
        Viewer::Nobody => Access::None,
    }
}

/// The caller as an alert viewer (drivers: 403, they do not handle alerts). Reads the
/// bureau's organisation or the institution's status: one primary-key lookup.
pub fn viewer(conn: &mut DbConnection, caller: &Caller) -> Result<Viewer, ApiError> {
    use crate::db::schema::organisations;
    Ok(match caller.role {
        Role::Admin => Viewer::Admin,
        Role::Driver => return Err(ApiError::Forbidden("drivers do not handle alerts".into())),
        Role::BureauStaff => {
            let (kind, townships): (String, String) = organisations::table
                .find(caller.tenant_id()?)
                .select((organisations::kind, organisations::townships))
                .first(conn)
                .optional()?
                .ok_or_else(|| ApiError::Forbidden("your organisation no longer exists".into()))?;
            let t: Vec<String> = serde_json::from_str(&townships).unwrap_or_default();
            Viewer::Bureau {
                townships: (!t.is_empty()).then_some(t),
                acts: crate::roles::bureau_kind_acts(&kind),
            }
        }
        Role::Dispatcher | Role::PlantOperator => Viewer::Company {
            org: caller.tenant_id()?.to_owned(),
            dispatcher: caller.role == Role::Dispatcher,
        },
        Role::ClinicStaff | Role::HubKeeper => {
            let Some(own) = caller.tenant.clone() else {
                return Ok(Viewer::Nobody);
            };
            let status: Option<String> = institutions::table
                .find(&own)
                .select(institutions::status)
                .first(conn)
                .optional()?;
            match status.as_deref() {
                Some("active" | "suspended") => Viewer::Institution(own),
                _ => Viewer::Nobody,
            }
        }
    })
}

/// Alerts the caller may see (the rule of [`access`], as a query), newest first, with when
/// the rules were last evaluated. Reading never evaluates.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    f: ListFilter,
) -> Result<AlertPage, ApiError> {
    let v = viewer(conn, caller)?;
    let mut q = alerts::table.select(AlertRow::as_select()).into_boxed();
    match &v {
        Viewer::Admin => {}
        Viewer::Bureau { townships, .. } => {
            if let Some(t) = townships {
                q = q.filter(alerts::township.eq_any(t.clone()));
            }
        }
        Viewer::Company { org, .. } => {
            q = q.filter(alerts::org_id.eq(org.clone()).or(alerts::org_id.is_null()));
        }
        Viewer::Institution(own) => q = q.filter(alerts::institution_id.eq(own.clone())),
        Viewer::Nobody => {
            return Ok(AlertPage {
                items: Vec::new(),
                next_cursor: None,
                evaluated_at: None,
            });
        }
    }
    if let Some(s) = f.status {
        q = q.filter(alerts::status.eq(s));
    }
    if let Some(r) = f.rule {
        q = q.filter(alerts::rule.eq(r));
    }
    if let Some(t) = f.township {
        if let Viewer::Bureau {
            townships: Some(j), ..
        } = &v
        {
            crate::institutions::Scope::Townships(j.clone()).check_township(&t)?;
        }
        q = q.filter(alerts::township.eq(t));
    }
    if let Some(c) = f.cursor {
        q = q.filter(alerts::id.lt(c.0));
    }
    let rows: Vec<AlertRow> = q.order(alerts::id.desc()).limit(f.limit + 1).load(conn)?;
    let (rows, next_cursor) = page(rows, f.limit, |r| &r.id);
    Ok(AlertPage {
        items: rows.iter().map(AlertRow::to_wire).collect(),
        next_cursor,
        evaluated_at: evaluated_at(conn)?,
    })
}

/// Acknowledges or resolves an alert as [`access`] allows: 404 when the caller may not see
/// it, 403 when they see it but may not do this.
pub fn transition(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    resolve: Option<String>,
    now: DateTime<Utc>,
) -> Result<Alert, ApiError> {
    caller.require(&[Role::Admin, Role::BureauStaff, Role::Dispatcher])?;
    crate::roles::require_acting_bureau(conn, caller)?;
    if let Some(n) = &resolve
        && (n.trim().is_empty() || n.chars().count() > 1000)
    {
        return Err(ApiError::invalid(
            "note",
            "say what was done, in at most 1000 characters",
        ));
    }
    let v = viewer(conn, caller)?;
    write_tx(conn, |conn| {
        let row: AlertRow = alerts::table
            .find(id)
            .select(AlertRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("no alert {id}")))?;
        let may = access(
            &v,
            row.org_id.as_deref(),
            row.institution_id.as_deref(),
            row.township.as_deref(),
        );
        let needs = if resolve.is_some() {
            Access::Resolve
        } else {
            Access::Ack
        };
        if may == Access::None {
            return Err(ApiError::NotFound(format!("no alert {id}")));
        }
        if may < needs {
            return Err(ApiError::Forbidden(
                "this alert concerns no company of yours: the bureau resolves it, or the system \
                 when its condition clears"
                    .into(),
            ));
        }
        let now = now.naive_utc();
        match (&resolve, row.status.as_str()) {
            (_, "resolved") => {}
            (None, "acknowledged") => {}
            (None, _) => {
                diesel::update(alerts::table.find(id))
                    .set((
                        alerts::status.eq("acknowledged"),
                        alerts::acked_at.eq(now),
                        alerts::acked_by.eq(&caller.user_id),
                    ))
                    .execute(conn)?;
            }
            (Some(note), _) => {
                diesel::update(alerts::table.find(id))
                    .set((
                        alerts::status.eq("resolved"),
                        alerts::resolved_at.eq(now),
                        alerts::resolved_by.eq(&caller.user_id),
                        alerts::note.eq(note.trim()),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(alerts::table
            .find(id)
            .select(AlertRow::as_select())
            .first::<AlertRow>(conn)?
            .to_wire())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(day: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("time")
    }

    fn c(
        state: &str,
        sealed: u32,
        collected: Option<u32>,
        received: Option<u32>,
    ) -> ContainerFacts {
        ContainerFacts {
            code: "C1".into(),
            institution_id: "i1".into(),
            state: state.into(),
            sealed_at: Some(t(1, sealed)),
            collected_at: collected.map(|h| t(2, h)),
            received_at: received.map(|h| t(2, h)),
            flags: vec![],
        }
    }

    fn rules(
        cs: &[ContainerFacts],
        is: &[InstitutionFacts],
        now: NaiveDateTime,
        epidemic: bool,
    ) -> Vec<&'static str> {
        conditions(
            cs,
            is,
            &[],
            &Thresholds::new(epidemic, &Overrides::default()),
            now,
        )
        .iter()
        .map(|c| c.rule)
        .collect()
    }

    #[test]
    fn storage_clock_warns_then_breaches() {
        let sealed = c("sealed", 0, None, None); // sealed 03-01 00:00
        assert!(rules(std::slice::from_ref(&sealed), &[], t(2, 11), false).is_empty());
        assert_eq!(
            rules(std::slice::from_ref(&sealed), &[], t(2, 12), false),
            ["storage_warning"]
        );
        assert_eq!(
            rules(std::slice::from_ref(&sealed), &[], t(3, 0), false),
            ["storage_breach"]
        );
        assert_eq!(
            rules(&[sealed], &[], t(2, 0), true),
            ["storage_breach"],
            "epidemic: 24 h"
        );
        // Collected: the storage rules clear.
        assert!(rules(&[c("collected", 0, Some(1), None)], &[], t(2, 2), false).is_empty());
    }

    #[test]
    fn transport_and_disposal_clocks() {
        assert_eq!(
            rules(&[c("collected", 0, Some(0), None)], &[], t(2, 12), false),
            ["collected_not_received"]
        );
        let received = c("received", 0, Some(0), Some(1));
        assert!(rules(std::slice::from_ref(&received), &[], t(3, 12), false).is_empty());
        assert_eq!(
            rules(std::slice::from_ref(&received), &[], t(2, 13), true),
            ["received_not_disposed"],
            "epidemic: 12 h"
        );
        assert_eq!(
            rules(&[received], &[], t(5, 1), false),
            ["received_not_disposed"]
        );
        let mut flagged = c("disposed", 0, None, None);
        flagged.flags = vec!["weight_discrepancy".into(), "location_mismatch".into()];
        assert_eq!(
            rules(&[flagged], &[], t(5, 1), false),
            ["weight_discrepancy", "location_mismatch"]
        );
    }

    #[test]
    fn institutions_not_collected_and_inactive() {
        let i = InstitutionFacts {
            id: "i1".into(),
            name: "村卫生室".into(),
            interval_h: 48,
            last_collected: Some(t(1, 0)),
            last_sealed: Some(t(1, 0)),
            since: t(1, 0),
        };
        assert!(rules(&[], std::slice::from_ref(&i), t(2, 23), false).is_empty());
        assert_eq!(
            rules(&[], std::slice::from_ref(&i), t(3, 0), false),
            ["not_collected"]
        );
        assert_eq!(
            rules(&[], std::slice::from_ref(&i), t(2, 0), true),
            ["not_collected"],
            "epidemic: 24 h"
        );
        assert_eq!(
            rules(&[], std::slice::from_ref(&i), t(15, 0), false),
            ["not_collected", "inactive_institution"]
        );
        let keys: Vec<String> = conditions(
            &[],
            &[i],
            &[],
            &Thresholds::new(false, &Overrides::default()),
            t(3, 0),
        )
        .into_iter()
        .map(|c| c.key)
        .collect();
        assert_eq!(
            keys[0],
            format!("not_collected:i1:{}", t(1, 0).and_utc().timestamp())
        );
    }

    #[test]
    fn manifests_reconcile_counts_and_weights() {
        let th = Thresholds::new(false, &Overrides::default());
        let line = |h: u32, c: i32, r: Option<i32>| LineFacts {
            collected_at: Some(t(2, h)),
            collect_g: Some(c),
            receive_g: r,
        };
        let m = |lines: Vec<LineFacts>| vec![("YF1".to_string(), "i1".to_string(), lines)];
        let rules = |ms: &[(String, String, Vec<LineFacts>)], now| -> Vec<(&'static str, String)> {
            manifest_conditions(ms, &th, now)
                .into_iter()
                .map(|c| (c.rule, c.key))
                .collect()
        };
        // Nothing received yet: no manifest alert.
        assert!(rules(&m(vec![line(0, 1000, None)]), t(3, 0)).is_empty());
        // One of two received; the other is overdue: count discrepancy.
        let ms = m(vec![line(0, 1000, Some(1000)), line(0, 500, None)]);
        assert!(rules(&ms, t(2, 11)).is_empty(), "not overdue yet");
        assert_eq!(
            rules(&ms, t(2, 12)),
            [("count_discrepancy", "count_discrepancy:YF1".to_string())]
        );
        // Weighed-in total 15 % light.
        let ms = m(vec![line(0, 1000, Some(850)), line(0, 1000, Some(850))]);
        assert_eq!(
            rules(&ms, t(2, 1)),
            [("weight_discrepancy", "manifest_weight:YF1".to_string())]
        );
        assert!(
            rules(&m(vec![line(0, 1000, Some(950))]), t(2, 1)).is_empty(),
            "5 % is within tolerance"
        );
    }

    #[test]
    fn access_follows_the_tenant() {
        let company = |org: &str, dispatcher| Viewer::Company {
            org: org.into(),
            dispatcher,
        };
        // A dispatcher resolves its company's alerts, only acknowledges institution-side
        // ones, and does not see another company's.
        assert_eq!(
            access(&company("c1", true), Some("c1"), Some("i"), None),
            Access::Resolve
        );
        assert_eq!(
            access(&company("c1", true), None, Some("i"), None),
            Access::Ack
        );
        assert_eq!(
            access(&company("c1", true), Some("c2"), Some("i"), None),
            Access::None
        );
        assert_eq!(
            access(&company("c1", false), Some("c1"), None, None),
            Access::Read
        );
        assert_eq!(
            access(&company("c1", false), Some("c2"), None, None),
            Access::None
        );
        let bureau = |t: Option<&[&str]>, acts| Viewer::Bureau {
            townships: t.map(|t| t.iter().map(|x| x.to_string()).collect()),
            acts,
        };
        assert_eq!(
            access(&bureau(None, true), Some("c1"), None, Some("A")),
            Access::Resolve
        );
        assert_eq!(
            access(&bureau(Some(&["A"]), true), None, None, Some("A")),
            Access::Resolve
        );
        assert_eq!(
            access(&bureau(Some(&["A"]), true), None, None, Some("B")),
            Access::None
        );
        assert_eq!(
            access(&bureau(Some(&["A"]), true), None, None, None),
            Access::None
        );
        assert_eq!(
            access(&bureau(None, false), None, None, Some("A")),
            Access::Read,
            "eco bureau"
        );
        let own = Viewer::Institution("i1".into());
        assert_eq!(access(&own, Some("c1"), Some("i1"), None), Access::Read);
        assert_eq!(access(&own, None, Some("i2"), None), Access::None);
        assert_eq!(access(&Viewer::Nobody, None, None, None), Access::None);
        assert_eq!(
            access(&Viewer::Admin, Some("c9"), None, None),
            Access::Resolve
        );
    }

    #[test]
    fn discrepancies_left_open_escalate() {
        let open = vec![(
            "a1".to_string(),
            "C1".to_string(),
            Some("i1".to_string()),
            t(1, 0),
        )];
        let th = Thresholds::new(false, &Overrides::default());
        assert!(conditions(&[], &[], &open, &th, t(15, 0)).is_empty());
        let c = conditions(&[], &[], &open, &th, t(16, 0));
        assert_eq!(
            (c[0].rule, c[0].key.as_str()),
            ("discrepancy_unresolved", "discrepancy_unresolved:a1")
        );
    }

    #[test]
    fn container_and_manifest_alerts_name_their_institution() {
        let th = Thresholds::new(false, &Overrides::default());
        let inst = InstitutionFacts {
            id: "i1".into(),
            name: "石门镇卫生院".into(),
            interval_h: 48,
            last_collected: None,
            last_sealed: None,
            since: t(1, 0),
        };
        let mut cs = conditions(&[c("sealed", 0, None, None)], &[inst], &[], &th, t(3, 0));
        let line = LineFacts {
            collected_at: Some(t(1, 0)),
            collect_g: Some(1000),
            receive_g: None,
        };
        let received = LineFacts {
            receive_g: Some(1000),
            ..line.clone()
        };
        cs.extend(manifest_conditions(
            &[("M1".into(), "i1".into(), vec![line, received])],
            &th,
            t(3, 0),
        ));
        let mut unknown = conditions(
            &[ContainerFacts {
                institution_id: "gone".into(),
                ..c("sealed", 0, None, None)
            }],
            &[],
            &[],
            &th,
            t(3, 0),
        );
        let names = HashMap::from([("i1".to_string(), "石门镇卫生院".to_string())]);
        name_institutions(&mut cs, &names);
        name_institutions(&mut unknown, &names);
        let details: Vec<(&str, &str)> = cs.iter().map(|c| (c.rule, c.detail.as_str())).collect();
        assert_eq!(
            details,
            [
                (
                    "storage_breach",
                    "石门镇卫生院: stored 48 h since sealing (limit 48 h)"
                ),
                (
                    "not_collected",
                    "石门镇卫生院: no collection for 48 h (interval 48 h)"
                ),
                (
                    "count_discrepancy",
                    "石门镇卫生院: 2 containers picked up, 1 weighed in at the plant"
                ),
            ],
            "named once each, the institution rule not twice"
        );
        assert_eq!(unknown[0].detail, "stored 48 h since sealing (limit 48 h)");
    }
}
