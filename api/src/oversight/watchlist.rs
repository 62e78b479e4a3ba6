//! The watch list (重点监控名单) and its 挂单销号 rules: a storage breach or a failed inspection
//! puts the institution on it with a reason, an owner and a deadline; only health-bureau staff
//! strike an entry off, and only with evidence (a passed re-inspection after it opened, or, for
//! a storage breach, the condition cleared for [`CLEARED_FOR_DAYS`]); an entry past its
//! deadline escalates to the bureau staff of its township.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Role, StrikeOffRequest, WatchEntry, WatchPage};

use crate::auth::Caller;
use crate::db::schema::{alerts, inspections, institutions, organisations, users, watch_list};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::scope_of;
use crate::wire::{Cursor, page};

/// The thresholds of the watch-list rules (`YIFEI_WATCH_<NAME>`, read and checked once at
/// start by `config.rs`): a county sets its own period and its patience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// The rolling window, in days, in which missed collections are counted.
    pub period_days: i64,
    /// How many missed collections within the period put an institution on the list.
    pub missed_times: i64,
    /// Days a discrepancy stays open before its holder goes on the list.
    pub discrepancy_days: i64,
    /// Days a condition must have been cleared before that alone strikes an entry off.
    pub cleared_days: i64,
    /// Days given to put right an entry that brings no deadline of its own.
    pub deadline_days: i64,
    /// Hours past the deadline between escalation levels (1: township bureau, 2: county).
    pub escalate_h: i64,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            period_days: 30,
            missed_times: 2,
            discrepancy_days: 15,
            cleared_days: 7,
            deadline_days: 7,
            escalate_h: 72,
        }
    }
}

impl Rules {
    /// The `<NAME>` of each `YIFEI_WATCH_<NAME>`, the range it accepts, and where it goes.
    pub fn slots(&mut self) -> [(&'static str, std::ops::RangeInclusive<i64>, &mut i64); 6] {
        [
            ("PERIOD_DAYS", 1..=366, &mut self.period_days),
            ("MISSED_TIMES", 1..=100, &mut self.missed_times),
            ("DISCREPANCY_DAYS", 1..=366, &mut self.discrepancy_days),
            ("CLEARED_DAYS", 1..=366, &mut self.cleared_days),
            ("DEADLINE_DAYS", 1..=366, &mut self.deadline_days),
            ("ESCALATE_H", 1..=8784, &mut self.escalate_h),
        ]
    }
}

pub const OPEN: &str = "open";
pub const ESCALATED: &str = "escalated";
pub const STRUCK_OFF: &str = "struck_off";

/// The rules that put an entry on the list.
pub const RULES: [&str; 4] = [
    "storage_breach",
    "missed_collection",
    "failed_inspection",
    "discrepancy",
];

/// The alert rules that are discrepancies (a holder must account for them).
const DISCREPANCY_ALERTS: [&str; 3] = [
    "weight_discrepancy",
    "count_discrepancy",
    "location_mismatch",
];

/// A watch-list row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = watch_list)]
pub struct WatchRow {
    pub id: String,
    pub condition_key: String,
    pub rule: String,
    pub institution_id: Option<String>,
    pub org_id: Option<String>,
    pub township: String,
    pub reason: String,
    pub owner: String,
    pub deadline: NaiveDateTime,
    pub status: String,
    pub level: i32,
    pub opened_at: NaiveDateTime,
    pub escalated_at: Option<NaiveDateTime>,
    pub struck_off_at: Option<NaiveDateTime>,
    pub struck_off_by: Option<String>,
    pub evidence: Option<String>,
    pub evidence_inspection_id: Option<String>,
}

impl WatchRow {
    fn to_wire(&self) -> WatchEntry {
        WatchEntry {
            id: self.id.clone(),
            rule: self.rule.clone(),
            institution_id: self.institution_id.clone(),
            org_id: self.org_id.clone(),
            township: self.township.clone(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            deadline: self.deadline.and_utc(),
            status: self.status.clone(),
            level: self.level,
            opened_at: self.opened_at.and_utc(),
            escalated_at: self.escalated_at.map(|t| t.and_utc()),
            struck_off_at: self.struck_off_at.map(|t| t.and_utc()),
            struck_off_by: self.struck_off_by.clone(),
            evidence: self.evidence.clone(),
            evidence_inspection_id: self.evidence_inspection_id.clone(),
        }
    }
}

/// A re-inspection offered as evidence.
#[derive(Debug, Clone, PartialEq)]
pub struct Reinspection {
    pub institution_id: Option<String>,
    pub org_id: Option<String>,
    pub inspected_at: NaiveDateTime,
    pub passed: bool,
}

/// Whether the evidence strikes an entry off. `cleared_since`: when the entry's condition
/// last cleared (`None` while it holds); a failed inspection clears only by re-inspection.
pub fn may_strike_off(
    e: &WatchRow,
    reinspection: Option<&Reinspection>,
    cleared_since: Option<NaiveDateTime>,
    r: &Rules,
    now: NaiveDateTime,
) -> Result<(), String> {
    if e.status == STRUCK_OFF {
        return Err("already struck off".into());
    }
    if let Some(re) = reinspection {
        let same = match (&e.institution_id, &e.org_id) {
            (Some(i), _) => re.institution_id.as_ref() == Some(i),
            (None, Some(o)) => re.org_id.as_ref() == Some(o),
            (None, None) => false,
        };
        if !same {
            return Err("the inspection is of another institution or company".into());
        }
        if re.inspected_at < e.opened_at {
            return Err("the inspection is older than the entry: a re-inspection is needed".into());
        }
        if !re.passed {
            return Err("the re-inspection did not pass".into());
        }
        return Ok(());
    }
    if e.rule == "failed_inspection" {
        return Err(
            "a failed inspection is struck off only by a passed re-inspection (inspection_id)"
                .into(),
        );
    }
    let days = r.cleared_days;
    match cleared_since {
        Some(t) if t + Duration::days(days) <= now => Ok(()),
        Some(_) => Err(format!(
            "the condition has not been cleared for {days} days yet: wait, or give a passed re-inspection"
        )),
        None => Err("the condition still holds: give a passed re-inspection".into()),
    }
}

/// The missed collections (opening times, ascending) that each bring the count within the
/// trailing period to the rule's number: a window `(t - period, t]`, so a miss exactly one
/// period before another no longer counts with it.
pub fn missed_triggers(opened: &[NaiveDateTime], r: &Rules) -> Vec<usize> {
    let period = Duration::days(r.period_days);
    (0..opened.len())
        .filter(|&i| {
            let n = opened[..=i]
                .iter()
                .filter(|t| **t > opened[i] - period)
                .count();
            n as i64 >= r.missed_times
        })
        .collect()
}

/// Whether a discrepancy opened at `opened` has been open long enough to list its holder
/// (exactly the set number of days counts).
pub fn discrepancy_due(opened: NaiveDateTime, r: &Rules, now: NaiveDateTime) -> bool {
    now - opened >= Duration::days(r.discrepancy_days)
}

/// The escalation level of an entry not struck off: 0 up to its deadline, 1 (the township
/// bureau) once past it, 2 (the county bureau) one step of `escalate_h` later.
pub fn escalation_level(deadline: NaiveDateTime, r: &Rules, now: NaiveDateTime) -> i32 {
    if now <= deadline {
        0
    } else if now - deadline >= Duration::hours(r.escalate_h) {
        2
    } else {
        1
    }
}

/// Who an entry is about.
enum Subject<'a> {
    Institution(&'a str),
    /// The disposal company; `township` where the condition arose ('' = county-wide).
    Company(&'a str, &'a str),
}

/// Puts institutions and the company on the list from the conditions (storage breaches,
/// missed collections, failed inspections, discrepancies open too long), once per
/// condition, and escalates entries past their deadline a level at a time (an email to the
/// township's bureau staff, then to the county's, through the outbox; the alert of it comes
/// from the alert rules, [`overdue_conditions`]). Run after each alert evaluation.
pub fn evaluate(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    r: &Rules,
) -> Result<(usize, usize), ApiError> {
    let now = now.naive_utc();
    write_tx(conn, |conn| {
        let mut added = 0;
        let breaches: Vec<(String, String, NaiveDateTime, String)> = alerts::table
            .filter(alerts::rule.eq("storage_breach"))
            .filter(alerts::institution_id.is_not_null())
            .select((
                alerts::id,
                alerts::institution_id.assume_not_null(),
                alerts::opened_at,
                alerts::detail,
            ))
            .load(conn)?;
        for (id, inst, at, detail) in breaches {
            let reason = format!("storage breach (贮存超时): {detail}");
            added += put(
                conn,
                &format!("storage_breach:{id}"),
                "storage_breach",
                Subject::Institution(&inst),
                &reason,
                at + Duration::days(r.deadline_days),
                at,
            )?;
        }
        added += missed(conn, r)?;
        let failed: Vec<FailedInspection> = inspections::table
            .filter(inspections::passed.eq(false))
            .select((
                inspections::id,
                inspections::institution_id,
                inspections::org_id,
                inspections::inspected_at,
                inspections::rectification_deadline,
            ))
            .load(conn)?;
        for (id, inst, org, at, deadline) in failed {
            let deadline = deadline.unwrap_or(at + Duration::days(r.deadline_days));
            let subject = match (&inst, &org) {
                (Some(i), _) => Subject::Institution(i),
                (None, Some(o)) => Subject::Company(o, ""),
                (None, None) => continue,
            };
            added += put(
                conn,
                &format!("failed_inspection:{id}"),
                "failed_inspection",
                subject,
                "failed spot check (抽查不合格): rectify by the deadline (限期整改)",
                deadline,
                at,
            )?;
        }
        let open_discrepancies: Vec<DiscrepancyAlert> = alerts::table
            .filter(alerts::rule.eq_any(DISCREPANCY_ALERTS))
            .filter(alerts::status.ne("resolved"))
            .select((
                alerts::id,
                alerts::institution_id,
                alerts::org_id,
                alerts::township,
                alerts::opened_at,
                alerts::detail,
            ))
            .load(conn)?;
        for (id, inst, org, township, at, detail) in open_discrepancies {
            if !discrepancy_due(at, r, now) {
                continue;
            }
            let subject = match (&org, &inst) {
                (Some(o), _) => Subject::Company(o, township.as_deref().unwrap_or("")),
                (None, Some(i)) => Subject::Institution(i),
                (None, None) => continue,
            };
            let reason = format!(
                "discrepancy open over {} days (差异超期未结): {detail}",
                r.discrepancy_days
            );
            added += put(
                conn,
                &format!("discrepancy:{id}"),
                "discrepancy",
                subject,
                &reason,
                now + Duration::days(r.deadline_days),
                now,
            )?;
        }
        let pending: Vec<WatchRow> = watch_list::table
            .filter(watch_list::status.ne(STRUCK_OFF))
            .filter(watch_list::deadline.lt(now))
            .select(WatchRow::as_select())
            .load(conn)?;
        let mut escalated = 0;
        for e in &pending {
            let level = escalation_level(e.deadline, r, now);
            if level <= e.level {
                continue;
            }
            diesel::update(watch_list::table.find(&e.id))
                .set((
                    watch_list::status.eq(ESCALATED),
                    watch_list::level.eq(level),
                    watch_list::escalated_at.eq(e.escalated_at.unwrap_or(now)),
                ))
                .execute(conn)?;
            escalated += 1;
            let (tier, to) = if level == 1 && !e.township.is_empty() {
                ("township", bureau_emails(conn, Some(&e.township))?)
            } else {
                ("county", bureau_emails(conn, None)?)
            };
            let subject = e
                .institution_id
                .as_deref()
                .or(e.org_id.as_deref())
                .unwrap_or("");
            for to in to {
                crate::notify::enqueue(
                    conn,
                    &to,
                    &format!("重点监控名单逾期未销号（{tier}）：{}", e.township),
                    &format!(
                        "An entry of the watch list is past its deadline ({} UTC) and not struck off \
                         (escalation level {level}, {tier} bureau).\n\
                         Subject: {subject}\nReason: {}\nOwner: {}\n",
                        e.deadline, e.reason, e.owner
                    ),
                    Some(&format!("watch-escalation:{}:{level}", e.id)),
                    now,
                )?;
            }
        }
        Ok((added, escalated))
    })
}

type FailedInspection = (
    String,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);
type DiscrepancyAlert = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
    String,
);

/// "Collection missed twice in a period": counts the institution's `not_collected` alerts
/// since its last missed-collection entry was struck off.
fn missed(conn: &mut DbConnection, r: &Rules) -> Result<usize, ApiError> {
    let rows: Vec<(String, String, NaiveDateTime)> = alerts::table
        .filter(alerts::rule.eq("not_collected"))
        .filter(alerts::institution_id.is_not_null())
        .select((
            alerts::id,
            alerts::institution_id.assume_not_null(),
            alerts::opened_at,
        ))
        .order((alerts::institution_id, alerts::opened_at, alerts::id))
        .load(conn)?;
    let mut by_inst: std::collections::BTreeMap<String, Vec<(String, NaiveDateTime)>> =
        Default::default();
    for (id, inst, at) in rows {
        by_inst.entry(inst).or_default().push((id, at));
    }
    let mut added = 0;
    for (inst, misses) in by_inst {
        let entries: Vec<(String, Option<NaiveDateTime>)> = watch_list::table
            .filter(watch_list::rule.eq("missed_collection"))
            .filter(watch_list::institution_id.eq(&inst))
            .select((watch_list::status, watch_list::struck_off_at))
            .load(conn)?;
        if entries.iter().any(|(s, _)| s != STRUCK_OFF) {
            continue;
        }
        let after = entries.iter().filter_map(|(_, t)| *t).max();
        let misses: Vec<&(String, NaiveDateTime)> = misses
            .iter()
            .filter(|(_, t)| after.is_none_or(|a| *t > a))
            .collect();
        let times: Vec<NaiveDateTime> = misses.iter().map(|(_, t)| *t).collect();
        if let Some(&i) = missed_triggers(&times, r).first() {
            let (id, at) = misses[i];
            let reason = format!(
                "collection missed {} times within {} days (多次未按时收运)",
                r.missed_times, r.period_days
            );
            added += put(
                conn,
                &format!("missed_collection:{id}"),
                "missed_collection",
                Subject::Institution(&inst),
                &reason,
                *at + Duration::days(r.deadline_days),
                *at,
            )?;
        }
    }
    Ok(added)
}

fn put(
    conn: &mut DbConnection,
    key: &str,
    rule: &str,
    subject: Subject<'_>,
    reason: &str,
    deadline: NaiveDateTime,
    opened_at: NaiveDateTime,
) -> Result<usize, ApiError> {
    let exists = watch_list::table
        .filter(watch_list::condition_key.eq(key))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(0);
    }
    let (institution_id, org_id, township, owner) = match subject {
        Subject::Institution(i) => {
            let Some((township, owner)) = institutions::table
                .find(i)
                .select((institutions::township, institutions::contact_name))
                .first::<(String, String)>(conn)
                .optional()?
            else {
                return Ok(0);
            };
            (Some(i.to_owned()), None, township, owner)
        }
        Subject::Company(o, township) => {
            let Some(name) = organisations::table
                .find(o)
                .select(organisations::name)
                .first::<String>(conn)
                .optional()?
            else {
                return Ok(0);
            };
            (None, Some(o.to_owned()), township.to_owned(), name)
        }
    };
    diesel::insert_into(watch_list::table)
        .values(WatchRow {
            id: new_id(),
            condition_key: key.to_owned(),
            rule: rule.to_owned(),
            institution_id,
            org_id,
            township,
            reason: reason.to_owned(),
            owner,
            deadline,
            status: OPEN.to_owned(),
            level: 0,
            opened_at,
            escalated_at: None,
            struck_off_at: None,
            struck_off_by: None,
            evidence: None,
            evidence_inspection_id: None,
        })
        .execute(conn)?;
    Ok(1)
}

/// The alert conditions of the list: an entry past its deadline and not struck off is a
/// critical `watch_overdue` alert (through the alert machinery: its emails, its
/// acknowledgement), resolved by itself once the entry is struck off.
pub fn overdue_conditions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<super::alerts::Condition>, ApiError> {
    let rows: Vec<WatchRow> = watch_list::table
        .filter(watch_list::status.ne(STRUCK_OFF))
        .filter(watch_list::deadline.lt(now))
        .select(WatchRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|e| {
            let (subject_type, subject_id) = match (&e.institution_id, &e.org_id) {
                (Some(i), _) => ("institution", i.clone()),
                (None, o) => ("organisation", o.clone().unwrap_or_default()),
            };
            super::alerts::Condition {
                key: format!("watch_overdue:{}", e.id),
                rule: "watch_overdue",
                severity: "critical",
                subject_type,
                subject_id,
                institution_id: e.institution_id.clone(),
                detail: format!(
                    "watch-list entry ({}) past its deadline {} UTC, owner {}: {}",
                    e.rule, e.deadline, e.owner, e.reason
                ),
            }
        })
        .collect())
}

/// Emails of the active bureau staff whose jurisdiction holds the township (`None`: the
/// county's, whose jurisdiction is every township).
fn bureau_emails(conn: &mut DbConnection, township: Option<&str>) -> Result<Vec<String>, ApiError> {
    let staff: Vec<(Option<String>, String)> = users::table
        .inner_join(organisations::table)
        .filter(users::role.eq(Role::BureauStaff.as_str()))
        .filter(users::active.eq(true))
        .filter(users::email.is_not_null())
        .select((users::email, organisations::townships))
        .load(conn)?;
    Ok(staff
        .into_iter()
        .filter(|(_, t)| {
            let t: Vec<String> = serde_json::from_str(t).unwrap_or_default();
            t.is_empty() || township.is_some_and(|x| t.iter().any(|y| y == x))
        })
        .filter_map(|(e, _)| e)
        .collect())
}

fn scope_filter(scope: &Scope) -> Result<Option<Vec<String>>, ApiError> {
    match scope {
        Scope::All => Ok(None),
        Scope::Townships(t) => Ok(Some(t.clone())),
        _ => Err(ApiError::Forbidden("the watch list is the bureau's".into())),
    }
}

/// Filters of the list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub status: Option<String>,
    pub township: Option<String>,
    pub rule: Option<String>,
    pub institution_id: Option<String>,
}

/// The watch list of the caller's jurisdiction, newest first (bureau staff; admin). Entries
/// about the company with no township are the county bureau's.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    f: Filter,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<WatchPage, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    let scope = scope_of(conn, caller)?;
    let townships = scope_filter(&scope)?;
    let mut q = watch_list::table
        .select(WatchRow::as_select())
        .order(watch_list::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(t) = townships {
        q = q.filter(watch_list::township.eq_any(t));
    }
    if let Some(t) = f.township {
        scope.check_township(&t)?;
        q = q.filter(watch_list::township.eq(t));
    }
    if let Some(s) = f.status {
        q = q.filter(watch_list::status.eq(s));
    }
    if let Some(r) = f.rule {
        q = q.filter(watch_list::rule.eq(r));
    }
    if let Some(i) = f.institution_id {
        q = q.filter(watch_list::institution_id.eq(i));
    }
    if let Some(c) = cursor {
        q = q.filter(watch_list::id.lt(c.0));
    }
    let rows: Vec<WatchRow> = q.load(conn)?;
    let (rows, next_cursor) = page(rows, limit, |r| &r.id);
    Ok(WatchPage {
        items: rows.iter().map(WatchRow::to_wire).collect(),
        next_cursor,
    })
}

/// When the condition of an entry last cleared (`None` while it holds): for a storage breach
/// or missed collections, the institution's alerts of that rule; for a discrepancy, its
/// alert.
fn cleared_since(conn: &mut DbConnection, e: &WatchRow) -> Result<Option<NaiveDateTime>, ApiError> {
    let q = alerts::table
        .select((alerts::status, alerts::resolved_at))
        .into_boxed();
    let rows: Vec<(String, Option<NaiveDateTime>)> = match e.rule.as_str() {
        "storage_breach" | "missed_collection" => {
            let rule = if e.rule == "storage_breach" {
                "storage_breach"
            } else {
                "not_collected"
            };
            q.filter(alerts::rule.eq(rule))
                .filter(alerts::institution_id.eq(e.institution_id.clone().unwrap_or_default()))
                .load(conn)?
        }
        "discrepancy" => {
            let id = e
                .condition_key
                .trim_start_matches("discrepancy:")
                .to_owned();
            q.filter(alerts::id.eq(id)).load(conn)?
        }
        _ => return Ok(None),
    };
    Ok(if rows.iter().any(|(s, _)| s != "resolved") {
        None
    } else {
        rows.iter().filter_map(|(_, r)| *r).max()
    })
}

/// 销号: strikes an entry off with evidence (health-bureau staff of its township; admin).
pub fn strike_off(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    req: StrikeOffRequest,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Result<WatchEntry, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    crate::roles::require_acting_bureau(conn, caller)?;
    let townships = scope_filter(&scope_of(conn, caller)?)?;
    let evidence = req.evidence.trim().to_owned();
    let n = evidence.chars().count();
    if n == 0 || n > 2000 || evidence.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::invalid(
            "evidence",
            "say what shows it is fixed, 1 to 2000 characters",
        ));
    }
    let now_n = now.naive_utc();
    write_tx(conn, |conn| {
        let e: WatchRow = watch_list::table
            .find(id)
            .select(WatchRow::as_select())
            .first(conn)
            .optional()?
            .filter(|e| townships.as_ref().is_none_or(|t| t.contains(&e.township)))
            .ok_or_else(|| ApiError::NotFound(format!("no watch-list entry {id}")))?;
        if e.status == STRUCK_OFF {
            return Err(ApiError::Conflict("already struck off".into()));
        }
        let re = match &req.inspection_id {
            Some(i) => Some(
                inspections::table
                    .find(i)
                    .select((
                        inspections::institution_id,
                        inspections::org_id,
                        inspections::inspected_at,
                        inspections::passed,
                    ))
                    .first::<(Option<String>, Option<String>, NaiveDateTime, bool)>(conn)
                    .optional()?
                    .map(
                        |(institution_id, org_id, inspected_at, passed)| Reinspection {
                            institution_id,
                            org_id,
                            inspected_at,
                            passed,
                        },
                    )
                    .ok_or_else(|| ApiError::invalid("inspection_id", "no such inspection"))?,
            ),
            None => None,
        };
        let cleared = cleared_since(conn, &e)?;
        may_strike_off(&e, re.as_ref(), cleared, rules, now_n).map_err(|why| {
            ApiError::invalid(
                if req.inspection_id.is_some() {
                    "inspection_id"
                } else {
                    "evidence"
                },
                why,
            )
        })?;
        diesel::update(watch_list::table.find(id))
            .set((
                watch_list::status.eq(STRUCK_OFF),
                watch_list::struck_off_at.eq(now_n),
                watch_list::struck_off_by.eq(&caller.user_id),
                watch_list::evidence.eq(&evidence),
                watch_list::evidence_inspection_id.eq(&req.inspection_id),
            ))
            .execute(conn)?;
        let row: WatchRow = watch_list::table
            .find(id)
            .select(WatchRow::as_select())
            .first(conn)?;
        Ok(row.to_wire())
    })
}

/// The list as CSV (one writer for every export: no cell becomes a formula).
pub fn csv(p: &WatchPage) -> String {
    use crate::wire::{Cell, CsvWriter};
    let mut w = CsvWriter::new(&[
        "id",
        "rule",
        "institution_id",
        "org_id",
        "township",
        "reason",
        "owner",
        "deadline",
        "status",
        "level",
        "opened_at",
        "escalated_at",
        "struck_off_at",
        "evidence",
    ]);
    let t = |x: Option<DateTime<Utc>>| x.map(|x| x.to_rfc3339()).unwrap_or_default();
    for e in &p.items {
        let (deadline, opened, esc, off, level) = (
            e.deadline.to_rfc3339(),
            e.opened_at.to_rfc3339(),
            t(e.escalated_at),
            t(e.struck_off_at),
            e.level.to_string(),
        );
        w.row(&[
            Cell::Text(&e.id),
            Cell::Text(&e.rule),
            Cell::Text(e.institution_id.as_deref().unwrap_or("")),
            Cell::Text(e.org_id.as_deref().unwrap_or("")),
            Cell::Text(&e.township),
            Cell::Text(&e.reason),
            Cell::Text(&e.owner),
            Cell::Text(&deadline),
            Cell::Text(&e.status),
            Cell::Text(&level),
            Cell::Text(&opened),
            Cell::Text(&esc),
            Cell::Text(&off),
            Cell::Text(e.evidence.as_deref().unwrap_or("")),
        ]);
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(month: u32, day: u32, h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, month, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("t")
    }

    fn t(day: u32) -> NaiveDateTime {
        at(3, day, 0, 0)
    }

    fn entry(rule: &str) -> WatchRow {
        WatchRow {
            id: "w".into(),
            condition_key: "k".into(),
            rule: rule.into(),
            institution_id: Some("i1".into()),
            org_id: None,
            township: "T".into(),
            reason: "r".into(),
            owner: "o".into(),
            deadline: t(9),
            status: OPEN.into(),
            level: 0,
            opened_at: t(2),
            escalated_at: None,
            struck_off_at: None,
            struck_off_by: None,
            evidence: None,
            evidence_inspection_id: None,
        }
    }

    fn re(inst: &str, day: u32, passed: bool) -> Reinspection {
        Reinspection {
            institution_id: Some(inst.into()),
            org_id: None,
            inspected_at: t(day),
            passed,
        }
    }

    #[test]
    fn only_evidence_strikes_an_entry_off() {
        let r = Rules::default();
        let f = entry("failed_inspection");
        assert!(
            may_strike_off(&f, None, Some(t(3)), &r, t(20)).is_err(),
            "words are not evidence"
        );
        assert!(may_strike_off(&f, Some(&re("i1", 5, false)), None, &r, t(20)).is_err());
        assert!(may_strike_off(&f, Some(&re("i2", 5, true)), None, &r, t(20)).is_err());
        assert!(
            may_strike_off(&f, Some(&re("i1", 1, true)), None, &r, t(20)).is_err(),
            "older"
        );
        assert!(may_strike_off(&f, Some(&re("i1", 5, true)), None, &r, t(20)).is_ok());
        let b = entry("storage_breach");
        assert!(
            may_strike_off(&b, None, None, &r, t(20)).is_err(),
            "still open"
        );
        // Cleared at 23:30, overnight: 7 days later at 23:29 is not yet, 23:30 is.
        let cleared = at(3, 10, 23, 30);
        assert!(may_strike_off(&b, None, Some(cleared), &r, at(3, 17, 23, 29)).is_err());
        assert!(may_strike_off(&b, None, Some(cleared), &r, at(3, 17, 23, 30)).is_ok());
        let short = Rules {
            cleared_days: 1,
            ..r
        };
        assert!(may_strike_off(&b, None, Some(cleared), &short, at(3, 11, 23, 30)).is_ok());
        let mut gone = entry("storage_breach");
        gone.status = STRUCK_OFF.into();
        assert!(may_strike_off(&gone, Some(&re("i1", 5, true)), None, &r, t(20)).is_err());
        let mut company = entry("failed_inspection");
        company.institution_id = None;
        company.org_id = Some("co".into());
        let by_co = Reinspection {
            institution_id: None,
            org_id: Some("co".into()),
            inspected_at: t(5),
            passed: true,
        };
        assert!(may_strike_off(&company, Some(&by_co), None, &r, t(20)).is_ok());
        assert!(may_strike_off(&company, Some(&re("co", 5, true)), None, &r, t(20)).is_err());
    }

    #[test]
    fn twice_within_the_period_over_a_month_end() {
        let r = Rules::default();
        // 31 January and 1 March are 29 days apart (February 2026 has 28): within 30 days.
        let a = vec![at(1, 31, 9, 0), at(3, 1, 8, 59)];
        assert_eq!(missed_triggers(&a, &r), vec![1]);
        // Exactly 30 days apart: the first has left the window.
        let b = vec![at(1, 31, 9, 0), at(3, 2, 9, 0)];
        assert!(missed_triggers(&b, &r).is_empty());
        assert!(missed_triggers(&a[..1], &r).is_empty(), "once is not twice");
        let thrice = Rules {
            missed_times: 3,
            ..r
        };
        assert!(missed_triggers(&a, &thrice).is_empty());
    }

    #[test]
    fn a_discrepancy_is_due_at_fifteen_days_exactly() {
        let r = Rules::default();
        let opened = at(3, 1, 22, 0);
        assert!(!discrepancy_due(opened, &r, at(3, 16, 21, 59)));
        assert!(discrepancy_due(opened, &r, at(3, 16, 22, 0)));
    }

    #[test]
    fn escalation_goes_a_level_at_a_time() {
        let r = Rules::default();
        let d = at(3, 9, 23, 0);
        assert_eq!(escalation_level(d, &r, d), 0, "on the deadline is in time");
        assert_eq!(escalation_level(d, &r, at(3, 10, 0, 1)), 1, "overnight");
        assert_eq!(escalation_level(d, &r, at(3, 12, 22, 59)), 1);
        assert_eq!(escalation_level(d, &r, at(3, 12, 23, 0)), 2);
    }
}
