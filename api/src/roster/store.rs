//! Persistence of the roster, its matching to sign-ups, and its counts for the reports.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    Invitation, LatLng, Role, RosterChange, RosterEntry, RosterImportReport, RosterPage,
    RosterRowError, RosterStatus, RosterTownship,
};

use super::{Raw, SELF_DISPOSAL, Stored, Valid};
use crate::auth::Caller;
use crate::db::schema::{institutions, organisations, roster_entries};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::institutions::Scope;
use crate::institutions::store::scope_of;
use crate::wire::{Cursor, page, parse_enum};

/// A roster row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = roster_entries)]
pub struct RosterEntryRow {
    pub id: String,
    pub licence_no: String,
    pub name: String,
    pub kind: String,
    pub township: String,
    pub village: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub beds: i32,
    pub disposal: String,
    pub self_disposal_basis: Option<String>,
    pub institution_id: Option<String>,
    pub invite_code_hash: Option<String>,
    pub invited_at: Option<NaiveDateTime>,
    pub invited_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl RosterEntryRow {
    fn stored(&self) -> Stored<'_> {
        Stored {
            name: &self.name,
            kind: &self.kind,
            township: &self.township,
            village: &self.village,
            address: &self.address,
            lat: self.lat,
            lng: self.lng,
            beds: self.beds,
            disposal: &self.disposal,
            self_disposal_basis: self.self_disposal_basis.as_deref(),
        }
    }

    /// Where the entry stands, given the status of the institution with its licence number.
    pub fn status(&self, institution: Option<&str>) -> RosterStatus {
        match institution {
            Some("active" | "suspended") => RosterStatus::SignedUp,
            Some("pending") => RosterStatus::Pending,
            _ if self.disposal == SELF_DISPOSAL => RosterStatus::SelfDisposal,
            _ => RosterStatus::NotSignedUp,
        }
    }

    fn to_wire(&self, inst: Option<&(String, String)>) -> Result<RosterEntry, ApiError> {
        Ok(RosterEntry {
            id: self.id.clone(),
            licence_no: self.licence_no.clone(),
            name: self.name.clone(),
            kind: parse_enum(&self.kind)?,
            township: self.township.clone(),
            village: self.village.clone(),
            address: self.address.clone(),
            location: self.lat.zip(self.lng).map(|(lat, lng)| LatLng { lat, lng }),
            beds: self.beds,
            status: self.status(inst.map(|i| i.1.as_str())),
            self_disposal_basis: self.self_disposal_basis.clone(),
            institution_id: inst.map(|i| i.0.clone()),
            invited_at: self.invited_at.map(|t| t.and_utc()),
        })
    }
}

/// Bureau staff (both bureaus read; the health bureau also imports and invites) and admin.
fn reader_scope(conn: &mut DbConnection, caller: &Caller) -> Result<Scope, ApiError> {
    caller.require(&[Role::BureauStaff, Role::Admin])?;
    scope_of(conn, caller)
}

fn writer_scope(conn: &mut DbConnection, caller: &Caller) -> Result<Scope, ApiError> {
    let scope = reader_scope(conn, caller)?;
    crate::roles::require_acting_bureau(conn, caller)?;
    Ok(scope)
}

fn in_scope(scope: &Scope, township: &str) -> bool {
    match scope {
        Scope::All => true,
        Scope::Townships(t) => t.iter().any(|x| x == township),
        _ => false,
    }
}

/// Imports rows for a caller: bureau staff of the health bureau, their jurisdiction only.
pub fn import_as(
    conn: &mut DbConnection,
    caller: &Caller,
    rows: Vec<Raw>,
    now: DateTime<Utc>,
) -> Result<RosterImportReport, ApiError> {
    let scope = writer_scope(conn, caller)?;
    import(conn, &scope, rows, now)
}

/// Imports rows within `scope` (the CLI passes `Scope::All`). Rows that cannot be read are
/// reported by row and field and left out; the rest are written in one transaction. An entry
/// is keyed by licence number, so importing the same list twice changes nothing.
pub fn import(
    conn: &mut DbConnection,
    scope: &Scope,
    rows: Vec<Raw>,
    now: DateTime<Utc>,
) -> Result<RosterImportReport, ApiError> {
    let mut report = RosterImportReport {
        rows: rows.len() as u64,
        added: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
        matched: Vec::new(),
        errors: Vec::new(),
    };
    let mut valid: Vec<Valid> = Vec::new();
    let mut first_row: HashMap<String, u64> = HashMap::new();
    for raw in &rows {
        match super::validate(raw) {
            Err(mut e) => report.errors.append(&mut e),
            Ok(v) => {
                let refuse = |field: &str, message: String| RosterRowError {
                    row: v.row,
                    licence_no: v.licence_no.clone(),
                    field: field.into(),
                    message,
                };
                if !in_scope(scope, &v.township) {
                    report.errors.push(refuse(
                        "township",
                        format!("{} is outside your jurisdiction", v.township),
                    ));
                } else if let Some(first) = first_row.get(&v.licence_no) {
                    report.errors.push(refuse(
                        "licence_no",
                        format!("appears twice: also on row {first}"),
                    ));
                } else {
                    first_row.insert(v.licence_no.clone(), v.row);
                    valid.push(v);
                }
            }
        }
    }
    crate::db::write_tx(conn, |conn| write(conn, scope, &valid, &mut report, now))?;
    report.errors.sort_by_key(|e| e.row);
    Ok(report)
}

/// Like [`import`], inside the caller's transaction (the demo loader's).
pub fn import_in_tx(
    conn: &mut DbConnection,
    rows: Vec<Raw>,
    now: DateTime<Utc>,
) -> Result<RosterImportReport, ApiError> {
    let mut report = RosterImportReport {
        rows: rows.len() as u64,
        added: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
        matched: Vec::new(),
        errors: Vec::new(),
    };
    let mut valid = Vec::new();
    for raw in &rows {
        match super::validate(raw) {
            Err(mut e) => report.errors.append(&mut e),
            Ok(v) => valid.push(v),
        }
    }
    write(conn, &Scope::All, &valid, &mut report, now)?;
    Ok(report)
}

fn write(
    conn: &mut DbConnection,
    scope: &Scope,
    valid: &[Valid],
    report: &mut RosterImportReport,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let naive = now.naive_utc();
    {
        let mut existing: HashMap<String, RosterEntryRow> = HashMap::new();
        let mut inst_of: HashMap<String, String> = HashMap::new();
        let licences: Vec<String> = valid.iter().map(|v| v.licence_no.clone()).collect();
        for chunk in licences.chunks(500) {
            for r in roster_entries::table
                .filter(roster_entries::licence_no.eq_any(chunk))
                .select(RosterEntryRow::as_select())
                .load(conn)?
            {
                existing.insert(r.licence_no.clone(), r);
            }
            for (licence, id) in institutions::table
                .filter(institutions::licence_no.eq_any(chunk))
                .select((institutions::licence_no, institutions::id))
                .load::<(String, String)>(conn)?
            {
                inst_of.insert(licence, id);
            }
        }
        for v in valid {
            let inst = inst_of.get(&v.licence_no).cloned();
            match existing.get(&v.licence_no) {
                None => {
                    diesel::insert_into(roster_entries::table)
                        .values(RosterEntryRow {
                            id: new_id(),
                            licence_no: v.licence_no.clone(),
                            name: v.name.clone(),
                            kind: v.kind.clone(),
                            township: v.township.clone(),
                            village: v.village.clone(),
                            address: v.address.clone(),
                            lat: v.lat,
                            lng: v.lng,
                            beds: v.beds,
                            disposal: v.disposal.to_owned(),
                            self_disposal_basis: v.self_disposal_basis.clone(),
                            institution_id: inst.clone(),
                            invite_code_hash: None,
                            invited_at: None,
                            invited_by: None,
                            created_at: naive,
                            updated_at: naive,
                        })
                        .execute(conn)?;
                    report.added.push(v.licence_no.clone());
                    if inst.is_some() {
                        report.matched.push(v.licence_no.clone());
                    }
                }
                Some(old) if !in_scope(scope, &old.township) => {
                    report.errors.push(RosterRowError {
                        row: v.row,
                        licence_no: v.licence_no.clone(),
                        field: "licence_no".into(),
                        message:
                            "this licence is on the roster of a township outside your jurisdiction"
                                .into(),
                    });
                }
                Some(old) => {
                    let fields = super::changes(&old.stored(), v);
                    let link_changed = old.institution_id != inst;
                    if fields.is_empty() && !link_changed {
                        report.unchanged += 1;
                        continue;
                    }
                    diesel::update(roster_entries::table.find(&old.id))
                        .set((
                            roster_entries::name.eq(&v.name),
                            roster_entries::kind.eq(&v.kind),
                            roster_entries::township.eq(&v.township),
                            roster_entries::village.eq(&v.village),
                            roster_entries::address.eq(&v.address),
                            roster_entries::lat.eq(v.lat),
                            roster_entries::lng.eq(v.lng),
                            roster_entries::beds.eq(v.beds),
                            roster_entries::disposal.eq(v.disposal),
                            roster_entries::self_disposal_basis.eq(&v.self_disposal_basis),
                            roster_entries::institution_id.eq(&inst),
                            roster_entries::updated_at.eq(naive),
                        ))
                        .execute(conn)?;
                    if fields.is_empty() {
                        report.unchanged += 1;
                    } else {
                        report.changed.push(RosterChange {
                            licence_no: v.licence_no.clone(),
                            fields,
                        });
                    }
                    if inst.is_some() && link_changed {
                        report.matched.push(v.licence_no.clone());
                    }
                }
            }
        }
        Ok(())
    }
}

/// Filters of the roster list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub township: Option<String>,
    /// One status, or `None`; `not_in_centralised_disposal` is pending or not signed up.
    pub status: Option<Vec<RosterStatus>>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// An entry with the id and status of the institution holding its licence number.
type Joined = (RosterEntryRow, Option<(String, String)>);

/// Entries with the id and status of the institution holding their licence number.
fn entries_in(
    conn: &mut DbConnection,
    scope: &Scope,
    township: Option<&str>,
    after: Option<&str>,
) -> Result<Vec<Joined>, ApiError> {
    let mut q = roster_entries::table
        .left_join(institutions::table.on(institutions::licence_no.eq(roster_entries::licence_no)))
        .select((
            RosterEntryRow::as_select(),
            (institutions::id, institutions::status).nullable(),
        ))
        .order(roster_entries::licence_no.asc())
        .into_boxed();
    if let Scope::Townships(t) = scope {
        q = q.filter(roster_entries::township.eq_any(t.clone()));
    }
    if let Some(t) = township {
        q = q.filter(roster_entries::township.eq(t.to_owned()));
    }
    if let Some(a) = after {
        q = q.filter(roster_entries::licence_no.gt(a.to_owned()));
    }
    Ok(q.load(conn)?)
}

/// The roster in the caller's jurisdiction, by licence number.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    f: ListFilter,
) -> Result<RosterPage, ApiError> {
    let scope = reader_scope(conn, caller)?;
    if let Some(t) = &f.township {
        scope.check_township(t)?;
    }
    // Status depends on the joined institution; a county's roster is hundreds of rows, so
    // the page is cut after filtering.
    let rows = entries_in(
        conn,
        &scope,
        f.township.as_deref(),
        f.cursor.as_ref().map(|c| c.0.as_str()),
    )?;
    let mut items = Vec::new();
    for (r, inst) in &rows {
        let e = r.to_wire(inst.as_ref())?;
        if f.status.as_ref().is_none_or(|s| s.contains(&e.status)) {
            items.push(e);
            if items.len() as i64 > f.limit {
                break;
            }
        }
    }
    let (items, next_cursor) = page(items, f.limit, |e| &e.licence_no);
    Ok(RosterPage { items, next_cursor })
}

/// Counts per township: on the roster, signed up, pending, not signed up, self-disposal.
pub fn townships(
    conn: &mut DbConnection,
    caller: &Caller,
) -> Result<Vec<RosterTownship>, ApiError> {
    let scope = reader_scope(conn, caller)?;
    let mut by: BTreeMap<String, RosterTownship> = BTreeMap::new();
    for (r, inst) in entries_in(conn, &scope, None, None)? {
        let t = by
            .entry(r.township.clone())
            .or_insert_with(|| RosterTownship {
                township: r.township.clone(),
                ..Default::default()
            });
        t.on_roster += 1;
        match r.status(inst.as_ref().map(|i| i.1.as_str())) {
            RosterStatus::SignedUp => t.signed_up += 1,
            RosterStatus::Pending => t.pending += 1,
            RosterStatus::NotSignedUp => t.not_signed_up += 1,
            RosterStatus::SelfDisposal => t.self_disposal += 1,
        }
        t.not_in_centralised_disposal = t.pending + t.not_signed_up;
    }
    Ok(by.into_values().collect())
}

/// Invites an entry that has not signed up: a new single-use code (the previous one stops
/// working), the letter, and with `email` the letter through the outbox.
pub fn invite(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    email: Option<String>,
    now: DateTime<Utc>,
    tz: chrono::FixedOffset,
) -> Result<Invitation, ApiError> {
    let scope = writer_scope(conn, caller)?;
    let email = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    if let Some(e) = &email
        && !crate::notify::is_valid_address(e)
    {
        return Err(ApiError::invalid(
            "email",
            "must be an email address like name@example.org",
        ));
    }
    let bureau: String = match &caller.tenant {
        Some(org) => organisations::table
            .find(org)
            .select(organisations::name)
            .first(conn)
            .optional()?
            .unwrap_or_default(),
        None => String::new(),
    };
    let code = super::new_code(crate::auth::tokens::random_bytes::<8>()?);
    let hash = super::code_hash(&super::normalise_code(&code).unwrap_or_default());
    crate::db::write_tx(conn, |conn| {
        let row: RosterEntryRow = roster_entries::table
            .find(id)
            .select(RosterEntryRow::as_select())
            .first(conn)
            .optional()?
            .filter(|r| in_scope(&scope, &r.township))
            .ok_or_else(|| ApiError::NotFound(format!("no roster entry {id}")))?;
        let status: Option<String> = institutions::table
            .filter(institutions::licence_no.eq(&row.licence_no))
            .select(institutions::status)
            .first(conn)
            .optional()?;
        if row.status(status.as_deref()) == RosterStatus::SignedUp {
            return Err(ApiError::Conflict(format!(
                "{} has already signed up",
                row.licence_no
            )));
        }
        diesel::update(roster_entries::table.find(id))
            .set((
                roster_entries::invite_code_hash.eq(&hash),
                roster_entries::invited_at.eq(now.naive_utc()),
                roster_entries::invited_by.eq(&caller.user_id),
            ))
            .execute(conn)?;
        let date = now.with_timezone(&tz).format("%Y年%m月%d日").to_string();
        let letter = super::letter(&row.name, &row.licence_no, &bureau, &code, &date);
        if let Some(to) = &email {
            crate::notify::enqueue(
                conn,
                to,
                &format!("医疗废物集中处置注册邀请：{}", row.name),
                &letter,
                Some(&format!(
                    "roster-invite:{}:{}",
                    row.id,
                    now.timestamp_micros()
                )),
                now.naive_utc(),
            )?;
        }
        Ok(Invitation {
            entry_id: row.id,
            code: code.clone(),
            emailed_to: email.clone(),
            letter,
        })
    })
}

/// Inside a sign-up's transaction: links the new institution to the roster entry of its code
/// (422 for a code that is unknown, used, or of another licence), else to the entry with its
/// licence number, if any. The code is single use.
pub fn link_sign_up(
    conn: &mut DbConnection,
    code: Option<&str>,
    licence_no: &str,
    institution_id: &str,
) -> Result<(), ApiError> {
    if let Some(code) = code {
        let bad = || ApiError::invalid("signup_code", "is not a valid sign-up code");
        let n = super::normalise_code(code).ok_or_else(bad)?;
        let row: RosterEntryRow = roster_entries::table
            .filter(roster_entries::invite_code_hash.eq(super::code_hash(&n)))
            .select(RosterEntryRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(bad)?;
        if row.licence_no != licence_no {
            return Err(ApiError::invalid(
                "licence_no",
                "must be the licence number of the invitation letter",
            ));
        }
        diesel::update(roster_entries::table.find(&row.id))
            .set((
                roster_entries::institution_id.eq(institution_id),
                roster_entries::invite_code_hash.eq(None::<String>),
            ))
            .execute(conn)?;
        return Ok(());
    }
    diesel::update(roster_entries::table.filter(roster_entries::licence_no.eq(licence_no)))
        .set(roster_entries::institution_id.eq(institution_id))
        .execute(conn)?;
    Ok(())
}

/// A roster entry as the coverage report counts it.
#[derive(Debug, Clone)]
pub struct Counted {
    pub licence_no: String,
    pub township: String,
    pub kind: String,
    pub self_disposal: bool,
}

/// The roster entries of a scope (and township), for the report to tell which signed up.
pub fn for_report(
    conn: &mut DbConnection,
    scope: &Scope,
    township: Option<&str>,
) -> Result<Vec<Counted>, ApiError> {
    let mut q = roster_entries::table
        .select((
            roster_entries::licence_no,
            roster_entries::township,
            roster_entries::kind,
            roster_entries::disposal,
        ))
        .into_boxed();
    if let Scope::Townships(t) = scope {
        q = q.filter(roster_entries::township.eq_any(t.clone()));
    }
    if let Some(t) = township {
        q = q.filter(roster_entries::township.eq(t.to_owned()));
    }
    Ok(q.load::<(String, String, String, String)>(conn)?
        .into_iter()
        .map(|(licence_no, township, kind, disposal)| Counted {
            licence_no,
            township,
            kind,
            self_disposal: disposal == SELF_DISPOSAL,
        })
        .collect())
}

/// Roster entries without a signed-up institution among `signed_up` (licence numbers).
pub fn missing<'a>(
    roster: &'a [Counted],
    signed_up: &HashSet<&str>,
) -> impl Iterator<Item = &'a Counted> {
    roster
        .iter()
        .filter(move |c| !signed_up.contains(c.licence_no.as_str()))
}
