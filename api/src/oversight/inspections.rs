//! Spot checks (规范化管理抽查) recorded by bureau staff; the reports show their pass rate
//! against the 95 % target.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Checklist, Inspection, InspectionList, NewInspection, Role};

use crate::auth::Caller;
use crate::db::schema::{inspections, organisations};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::{get_visible, scope_of};

/// The pass-rate target of the district plan.
pub const TARGET: f64 = 0.95;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = inspections)]
pub struct InspectionRow {
    pub id: String,
    pub institution_id: Option<String>,
    pub org_id: Option<String>,
    pub township: Option<String>,
    pub inspector_id: String,
    pub inspected_at: NaiveDateTime,
    pub packaging: bool,
    pub labels: bool,
    pub storage_time: bool,
    pub register: bool,
    pub signage: bool,
    pub passed: bool,
    pub notes: Option<String>,
    pub rectification_deadline: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl InspectionRow {
    fn to_wire(&self) -> Inspection {
        Inspection {
            id: self.id.clone(),
            institution_id: self.institution_id.clone(),
            org_id: self.org_id.clone(),
            township: self.township.clone(),
            inspector_id: self.inspector_id.clone(),
            inspected_at: self.inspected_at.and_utc(),
            checklist: Checklist {
                packaging: self.packaging,
                labels: self.labels,
                storage_time: self.storage_time,
                register: self.register,
                signage: self.signage,
            },
            passed: self.passed,
            notes: self.notes.clone(),
            rectification_deadline: self.rectification_deadline.map(|t| t.and_utc()),
        }
    }
}

/// Records an inspection of an institution of the caller's jurisdiction, or of the company.
pub fn record(
    conn: &mut DbConnection,
    caller: &Caller,
    n: NewInspection,
    now: DateTime<Utc>,
) -> Result<Inspection, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    crate::roles::require_acting_bureau(conn, caller)?;
    let c = &n.checklist;
    let passed = c.packaging && c.labels && c.storage_time && c.register && c.signage;
    if !passed && n.rectification_deadline.is_none() {
        return Err(ApiError::invalid(
            "rectification_deadline",
            "a failed inspection needs a rectification deadline",
        ));
    }
    if n.notes.as_ref().is_some_and(|x| x.chars().count() > 2000) {
        return Err(ApiError::invalid(
            "notes",
            "must be at most 2000 characters",
        ));
    }
    let at = n.inspected_at.unwrap_or(now);
    if at > now + chrono::Duration::minutes(5) {
        return Err(ApiError::invalid("inspected_at", "is in the future"));
    }
    write_tx(conn, |conn| {
        let (institution_id, org_id, township) = match (&n.institution_id, &n.org_id) {
            (Some(i), None) => {
                let inst = get_visible(conn, caller, i)?;
                (Some(inst.id), None, Some(inst.township))
            }
            (None, Some(o)) => {
                let exists = organisations::table
                    .find(o)
                    .count()
                    .get_result::<i64>(conn)?
                    == 1;
                if !exists {
                    return Err(ApiError::NotFound(format!("no organisation {o}")));
                }
                (None, Some(o.clone()), None)
            }
            _ => {
                return Err(ApiError::invalid(
                    "institution_id",
                    "give either institution_id or org_id",
                ));
            }
        };
        let row = InspectionRow {
            id: new_id(),
            institution_id,
            org_id,
            township,
            inspector_id: caller.user_id.clone(),
            inspected_at: at.naive_utc(),
            packaging: c.packaging,
            labels: c.labels,
            storage_time: c.storage_time,
            register: c.register,
            signage: c.signage,
            passed,
            notes: n
                .notes
                .as_ref()
                .map(|x| x.trim().to_owned())
                .filter(|x| !x.is_empty()),
            rectification_deadline: n.rectification_deadline.map(|t| t.naive_utc()),
            created_at: now.naive_utc(),
        };
        diesel::insert_into(inspections::table)
            .values(&row)
            .execute(conn)?;
        super::rectifications::on_inspection(conn, &row)?;
        Ok(row.to_wire())
    })
}

/// Inspections in `[from, to)` within the caller's jurisdiction (company inspections are
/// county-wide and shown to everyone who sees reports).
///
/// `township` keeps only that township's (refused outside the caller's jurisdiction); the
/// company's inspections belong to no township and drop out then, as in the coverage report.
pub fn in_scope(
    conn: &mut DbConnection,
    caller: &Caller,
    from: NaiveDateTime,
    to: NaiveDateTime,
    township: Option<&str>,
) -> Result<Vec<InspectionRow>, ApiError> {
    let mut q = inspections::table
        .filter(inspections::inspected_at.ge(from))
        .filter(inspections::inspected_at.lt(to))
        .select(InspectionRow::as_select())
        .into_boxed();
    let scope = scope_of(conn, caller)?;
    if let Some(t) = township {
        scope.check_township(t)?;
        q = q.filter(inspections::township.eq(t.to_owned()));
    }
    if let Scope::Townships(t) = scope {
        q = q.filter(
            inspections::township
                .eq_any(t)
                .or(inspections::township.is_null()),
        );
    }
    Ok(q.order(inspections::inspected_at.desc()).load(conn)?)
}

/// The list with its pass rate.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    from: NaiveDateTime,
    to: NaiveDateTime,
    township: Option<&str>,
) -> Result<InspectionList, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    let rows = in_scope(conn, caller, from, to, township)?;
    let passed = rows.iter().filter(|r| r.passed).count();
    Ok(InspectionList {
        pass_rate: (!rows.is_empty()).then(|| passed as f64 / rows.len() as f64),
        items: rows.iter().map(InspectionRow::to_wire).collect(),
        target: TARGET,
    })
}
