//! The watch list (重点监控名单) and its 挂单销号 rules: a storage breach or a failed inspection
//! puts the institution on it with a reason, an owner and a deadline; only health-bureau staff
//! strike an entry off, and only with evidence (a passed re-inspection after it opened, or, for
//! a storage breach, the condition cleared for [`CLEARED_FOR_DAYS`]); an entry past its
//! deadline escalates to the bureau staff of its township.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Role, StrikeOffRequest, WatchEntry, WatchPage};

use crate::auth::Caller;
use crate::db::schema::{alerts, inspections, institutions, organisations, users, watch_list};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::scope_of;
use crate::wire::{Cursor, page};

/// Days a storage breach has to be over before it may be struck off without a re-inspection.
pub const CLEARED_FOR_DAYS: i64 = 7;
/// Days an institution has to end a storage breach for good.
pub const BREACH_DEADLINE_DAYS: i64 = 7;

pub const OPEN: &str = "open";
pub const ESCALATED: &str = "escalated";
pub const STRUCK_OFF: &str = "struck_off";

/// A watch-list row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = watch_list)]
pub struct WatchRow {
    pub id: String,
    pub condition_key: String,
    pub rule: String,
    pub institution_id: String,
    pub township: String,
    pub reason: String,
    pub owner: String,
    pub deadline: NaiveDateTime,
    pub status: String,
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
            township: self.township.clone(),
            reason: self.reason.clone(),
            owner: self.owner.clone(),
            deadline: self.deadline.and_utc(),
            status: self.status.clone(),
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
    pub inspected_at: NaiveDateTime,
    pub passed: bool,
}

/// Whether the evidence strikes an entry off. `breach_cleared_since`: for a storage breach,
/// when the last breach alert of the institution was resolved (`None` while one is open).
pub fn may_strike_off(
    e: &WatchRow,
    reinspection: Option<&Reinspection>,
    breach_cleared_since: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<(), String> {
    if e.status == STRUCK_OFF {
        return Err("already struck off".into());
    }
    if let Some(r) = reinspection {
        if r.institution_id.as_deref() != Some(e.institution_id.as_str()) {
            return Err("the inspection is of another institution".into());
        }
        if r.inspected_at < e.opened_at {
            return Err("the inspection is older than the entry: a re-inspection is needed".into());
        }
        if !r.passed {
            return Err("the re-inspection did not pass".into());
        }
        return Ok(());
    }
    match (e.rule.as_str(), breach_cleared_since) {
        ("storage_breach", Some(t)) if t + chrono::Duration::days(CLEARED_FOR_DAYS) <= now => {
            Ok(())
        }
        ("storage_breach", Some(_)) => Err(format!(
            "the breach has not been cleared for {CLEARED_FOR_DAYS} days yet: wait, or give a passed re-inspection"
        )),
        ("storage_breach", None) => {
            Err("the storage breach is still open: give a passed re-inspection".into())
        }
        _ => Err(
            "a failed inspection is struck off only by a passed re-inspection (inspection_id)"
                .into(),
        ),
    }
}

/// Puts institutions on the list from the conditions (storage-breach alerts, failed
/// inspections), once per condition, and escalates open entries past their deadline (an
/// email to the bureau staff of the township, through the outbox). Run after each alert
/// evaluation.
pub fn evaluate(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<(usize, usize), ApiError> {
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
            let deadline = at + chrono::Duration::days(BREACH_DEADLINE_DAYS);
            added += put(
                conn,
                &format!("storage_breach:{id}"),
                "storage_breach",
                &inst,
                &reason,
                deadline,
                at,
            )?;
        }
        let failed: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> =
            inspections::table
                .filter(inspections::passed.eq(false))
                .filter(inspections::institution_id.is_not_null())
                .select((
                    inspections::id,
                    inspections::institution_id.assume_not_null(),
                    inspections::inspected_at,
                    inspections::rectification_deadline,
                ))
                .load(conn)?;
        for (id, inst, at, deadline) in failed {
            let deadline = deadline.unwrap_or(at + chrono::Duration::days(15));
            added += put(
                conn,
                &format!("failed_inspection:{id}"),
                "failed_inspection",
                &inst,
                "failed spot check (抽查不合格): rectify by the deadline (限期整改)",
                deadline,
                at,
            )?;
        }
        let overdue: Vec<WatchRow> = watch_list::table
            .filter(watch_list::status.eq(OPEN))
            .filter(watch_list::deadline.lt(now))
            .select(WatchRow::as_select())
            .load(conn)?;
        for e in &overdue {
            diesel::update(watch_list::table.find(&e.id))
                .set((
                    watch_list::status.eq(ESCALATED),
                    watch_list::escalated_at.eq(now),
                ))
                .execute(conn)?;
            for to in bureau_emails(conn, &e.township)? {
                crate::notify::enqueue(
                    conn,
                    &to,
                    &format!("重点监控名单逾期未销号：{}", e.township),
                    &format!(
                        "An entry of the watch list is past its deadline ({} UTC) and not struck off.\n\
                         Institution: {}\nReason: {}\nOwner: {}\n",
                        e.deadline, e.institution_id, e.reason, e.owner
                    ),
                    Some(&format!("watch-escalation:{}", e.id)),
                    now,
                )?;
            }
        }
        Ok((added, overdue.len()))
    })
}

fn put(
    conn: &mut DbConnection,
    key: &str,
    rule: &str,
    institution_id: &str,
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
    let Some((township, owner)) = institutions::table
        .find(institution_id)
        .select((institutions::township, institutions::contact_name))
        .first::<(String, String)>(conn)
        .optional()?
    else {
        return Ok(0);
    };
    diesel::insert_into(watch_list::table)
        .values(WatchRow {
            id: new_id(),
            condition_key: key.to_owned(),
            rule: rule.to_owned(),
            institution_id: institution_id.to_owned(),
            township,
            reason: reason.to_owned(),
            owner,
            deadline,
            status: OPEN.to_owned(),
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

/// Emails of the active bureau staff whose jurisdiction holds the township.
fn bureau_emails(conn: &mut DbConnection, township: &str) -> Result<Vec<String>, ApiError> {
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
            t.is_empty() || t.iter().any(|x| x == township)
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

/// The watch list of the caller's jurisdiction, newest first (bureau staff; admin).
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    status: Option<String>,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<WatchPage, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    let townships = scope_filter(&scope_of(conn, caller)?)?;
    let mut q = watch_list::table
        .select(WatchRow::as_select())
        .order(watch_list::id.desc())
        .limit(limit + 1)
        .into_boxed();
    if let Some(t) = townships {
        q = q.filter(watch_list::township.eq_any(t));
    }
    if let Some(s) = status {
        q = q.filter(watch_list::status.eq(s));
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

/// 销号: strikes an entry off with evidence (health-bureau staff of its township; admin).
pub fn strike_off(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    req: StrikeOffRequest,
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
                        inspections::inspected_at,
                        inspections::passed,
                    ))
                    .first::<(Option<String>, NaiveDateTime, bool)>(conn)
                    .optional()?
                    .map(|(institution_id, inspected_at, passed)| Reinspection {
                        institution_id,
                        inspected_at,
                        passed,
                    })
                    .ok_or_else(|| ApiError::invalid("inspection_id", "no such inspection"))?,
            ),
            None => None,
        };
        let breach: Vec<(String, Option<NaiveDateTime>)> = alerts::table
            .filter(alerts::rule.eq("storage_breach"))
            .filter(alerts::institution_id.eq(&e.institution_id))
            .select((alerts::status, alerts::resolved_at))
            .load(conn)?;
        let cleared = if breach.iter().any(|(s, _)| s != "resolved") {
            None
        } else {
            breach.iter().filter_map(|(_, r)| *r).max()
        };
        may_strike_off(&e, re.as_ref(), cleared, now_n).map_err(|why| {
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
        "township",
        "reason",
        "owner",
        "deadline",
        "status",
        "opened_at",
        "escalated_at",
        "struck_off_at",
        "evidence",
    ]);
    let t = |x: Option<DateTime<Utc>>| x.map(|x| x.to_rfc3339()).unwrap_or_default();
    for e in &p.items {
        let (deadline, opened, esc, off) = (
            e.deadline.to_rfc3339(),
            e.opened_at.to_rfc3339(),
            t(e.escalated_at),
            t(e.struck_off_at),
        );
        w.row(&[
            Cell::Text(&e.id),
            Cell::Text(&e.rule),
            Cell::Text(&e.institution_id),
            Cell::Text(&e.township),
            Cell::Text(&e.reason),
            Cell::Text(&e.owner),
            Cell::Text(&deadline),
            Cell::Text(&e.status),
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

    fn t(day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("t")
    }

    fn entry(rule: &str) -> WatchRow {
        WatchRow {
            id: "w".into(),
            condition_key: "k".into(),
            rule: rule.into(),
            institution_id: "i1".into(),
            township: "T".into(),
            reason: "r".into(),
            owner: "o".into(),
            deadline: t(9),
            status: OPEN.into(),
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
            inspected_at: t(day),
            passed,
        }
    }

    #[test]
    fn only_evidence_strikes_an_entry_off() {
        let f = entry("failed_inspection");
        assert!(
            may_strike_off(&f, None, None, t(20)).is_err(),
            "words are not evidence"
        );
        assert!(may_strike_off(&f, Some(&re("i1", 5, false)), None, t(20)).is_err());
        assert!(may_strike_off(&f, Some(&re("i2", 5, true)), None, t(20)).is_err());
        assert!(
            may_strike_off(&f, Some(&re("i1", 1, true)), None, t(20)).is_err(),
            "older"
        );
        assert!(may_strike_off(&f, Some(&re("i1", 5, true)), None, t(20)).is_ok());
        let b = entry("storage_breach");
        assert!(may_strike_off(&b, None, None, t(20)).is_err(), "still open");
        assert!(
            may_strike_off(&b, None, Some(t(10)), t(16)).is_err(),
            "6 days"
        );
        assert!(
            may_strike_off(&b, None, Some(t(10)), t(17)).is_ok(),
            "7 days"
        );
        let mut gone = entry("storage_breach");
        gone.status = STRUCK_OFF.into();
        assert!(may_strike_off(&gone, Some(&re("i1", 5, true)), None, t(20)).is_err());
    }
}
