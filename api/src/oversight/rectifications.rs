//! Rectification (限期整改): a failed inspection opens one with its deadline; a passed
//! re-inspection of the same institution (or company) closes it; one still open past its
//! deadline is a critical `rectification_overdue` alert until it closes.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use yifei_contract::{Rectification, RectificationList, Role};

use crate::auth::Caller;
use crate::db::schema::rectifications;
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{get_visible, scope_of};

use super::inspections::InspectionRow;

pub const OPEN: &str = "open";
pub const CLOSED: &str = "closed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = rectifications)]
pub struct RectificationRow {
    pub id: String,
    pub inspection_id: String,
    pub institution_id: Option<String>,
    pub org_id: Option<String>,
    pub township: Option<String>,
    pub deadline: NaiveDateTime,
    pub status: String,
    pub opened_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub closed_by_inspection_id: Option<String>,
}

impl RectificationRow {
    fn to_wire(&self, now: NaiveDateTime) -> Rectification {
        Rectification {
            id: self.id.clone(),
            inspection_id: self.inspection_id.clone(),
            institution_id: self.institution_id.clone(),
            org_id: self.org_id.clone(),
            township: self.township.clone(),
            deadline: self.deadline.and_utc(),
            status: self.status.clone(),
            overdue: is_overdue(self, now),
            opened_at: self.opened_at.and_utc(),
            closed_at: self.closed_at.map(|t| t.and_utc()),
            closed_by_inspection_id: self.closed_by_inspection_id.clone(),
        }
    }
}

/// Open and past its deadline (on the deadline itself is in time).
pub fn is_overdue(r: &RectificationRow, now: NaiveDateTime) -> bool {
    r.status == OPEN && now > r.deadline
}

/// Whether an inspection closes a rectification: a pass, of the same subject, no older than
/// the failed inspection that opened it.
pub fn closes(r: &RectificationRow, i: &InspectionRow) -> bool {
    let same = match (&r.institution_id, &r.org_id) {
        (Some(x), _) => i.institution_id.as_ref() == Some(x),
        (None, Some(o)) => i.org_id.as_ref() == Some(o),
        (None, None) => false,
    };
    r.status == OPEN && i.passed && same && i.inspected_at >= r.opened_at
}

/// Follows an inspection just recorded (inside its transaction): a failure opens a
/// rectification, a pass closes the subject's open ones.
pub fn on_inspection(conn: &mut DbConnection, i: &InspectionRow) -> Result<(), ApiError> {
    if !i.passed {
        let Some(deadline) = i.rectification_deadline else {
            return Ok(());
        };
        diesel::insert_into(rectifications::table)
            .values(RectificationRow {
                id: new_id(),
                inspection_id: i.id.clone(),
                institution_id: i.institution_id.clone(),
                org_id: i.org_id.clone(),
                township: i.township.clone(),
                deadline,
                status: OPEN.into(),
                opened_at: i.inspected_at,
                closed_at: None,
                closed_by_inspection_id: None,
            })
            .execute(conn)?;
        return Ok(());
    }
    let open: Vec<RectificationRow> = rectifications::table
        .filter(rectifications::status.eq(OPEN))
        .select(RectificationRow::as_select())
        .load(conn)?;
    for r in open.iter().filter(|r| closes(r, i)) {
        diesel::update(rectifications::table.find(&r.id))
            .set((
                rectifications::status.eq(CLOSED),
                rectifications::closed_at.eq(i.inspected_at),
                rectifications::closed_by_inspection_id.eq(&i.id),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The alert conditions: each open rectification past its deadline.
pub fn overdue_conditions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<super::alerts::Condition>, ApiError> {
    let rows: Vec<RectificationRow> = rectifications::table
        .filter(rectifications::status.eq(OPEN))
        .filter(rectifications::deadline.lt(now))
        .select(RectificationRow::as_select())
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let (subject_type, subject_id) = match (&r.institution_id, &r.org_id) {
                (Some(i), _) => ("institution", i.clone()),
                (None, o) => ("organisation", o.clone().unwrap_or_default()),
            };
            super::alerts::Condition {
                key: format!("rectification_overdue:{}", r.id),
                rule: "rectification_overdue",
                severity: "critical",
                subject_type,
                subject_id,
                institution_id: r.institution_id.clone(),
                detail: format!(
                    "rectification (限期整改) of inspection {} not closed by its deadline {} UTC",
                    r.inspection_id, r.deadline
                ),
            }
        })
        .collect())
}

/// Rectifications the caller may see, newest first: bureau staff of the jurisdiction (the
/// company's are county-wide, like its inspections), the institution's own staff, the
/// company's own staff; `institution_id` narrows to one institution.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    institution_id: Option<String>,
    status: Option<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RectificationList, ApiError> {
    if caller.role == Role::Driver {
        return Err(ApiError::Forbidden(
            "drivers do not follow rectifications".into(),
        ));
    }
    let mut q = rectifications::table
        .select(RectificationRow::as_select())
        .order(rectifications::opened_at.desc())
        .limit(500)
        .into_boxed();
    if let Some(i) = &institution_id {
        let inst = get_visible(conn, caller, i)?;
        q = q.filter(rectifications::institution_id.eq(inst.id));
    }
    match (caller.role, scope_of(conn, caller)?) {
        (Role::Admin, _) | (Role::BureauStaff, Scope::All) => {}
        (Role::BureauStaff, Scope::Townships(t)) => {
            q = q.filter(
                rectifications::township
                    .eq_any(t)
                    .or(rectifications::township.is_null()),
            );
        }
        (Role::ClinicStaff | Role::HubKeeper, _) => {
            q = q.filter(rectifications::institution_id.eq(caller.tenant_id()?.to_owned()));
        }
        (Role::Dispatcher | Role::PlantOperator, _) => {
            q = q.filter(rectifications::org_id.eq(caller.tenant_id()?.to_owned()));
        }
        _ => return Err(ApiError::Forbidden("not yours to see".into())),
    }
    if let Some(s) = status {
        q = q.filter(rectifications::status.eq(s));
    }
    let now = now.naive_utc();
    Ok(RectificationList {
        items: q
            .load::<RectificationRow>(conn)?
            .iter()
            .map(|r| r.to_wire(now))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32, h: u32, m: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(h, m, 0))
            .expect("t")
    }

    fn rect() -> RectificationRow {
        RectificationRow {
            id: "r".into(),
            inspection_id: "i0".into(),
            institution_id: Some("a".into()),
            org_id: None,
            township: Some("T".into()),
            deadline: at(10, 23, 59),
            status: OPEN.into(),
            opened_at: at(1, 10, 0),
            closed_at: None,
            closed_by_inspection_id: None,
        }
    }

    fn insp(inst: &str, when: NaiveDateTime, passed: bool) -> InspectionRow {
        InspectionRow {
            id: "i1".into(),
            institution_id: Some(inst.into()),
            org_id: None,
            township: Some("T".into()),
            inspector_id: "u".into(),
            inspected_at: when,
            packaging: passed,
            labels: true,
            storage_time: true,
            register: true,
            signage: true,
            passed,
            notes: None,
            rectification_deadline: None,
            created_at: when,
        }
    }

    #[test]
    fn a_passed_reinspection_of_the_same_institution_closes_it() {
        let r = rect();
        assert!(closes(&r, &insp("a", at(5, 9, 0), true)));
        assert!(!closes(&r, &insp("a", at(5, 9, 0), false)), "failed again");
        assert!(!closes(&r, &insp("b", at(5, 9, 0), true)), "another");
        assert!(!closes(&r, &insp("a", at(1, 9, 59), true)), "older");
    }

    #[test]
    fn overdue_only_after_the_deadline_overnight() {
        let r = rect();
        assert!(!is_overdue(&r, at(10, 23, 59)), "on the deadline");
        assert!(is_overdue(&r, at(11, 0, 0)), "past midnight");
        let closed = RectificationRow {
            status: CLOSED.into(),
            ..rect()
        };
        assert!(!is_overdue(&closed, at(20, 0, 0)));
    }
}
