//! Corrections in the database: requests, the parties' decisions, and an approved
//! correction applied as a chained `correct` event (see `custody::corrections`).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    Category, Correction, CorrectionDecision, CorrectionField, CorrectionStatus, NewCorrection,
    Role, ScanAction,
};

use super::{EventRow, append, get_visible, lock, places, refold};
use crate::auth::Caller;
use crate::custody::corrections::{Parties, VoteError, decide, weight_correctable};
use crate::custody::{MAX_WEIGHT_KG, grams, kg, micros, rules};
use crate::db::schema::{containers, correction_votes, corrections, scan_events, users};
use crate::db::{DbConnection, new_id, write_tx};
use crate::error::ApiError;
use crate::wire::{enum_str, parse_enum};

/// Roles that speak for a party of a container's custody.
const PARTY_ROLES: [Role; 5] = [
    Role::ClinicStaff,
    Role::HubKeeper,
    Role::Driver,
    Role::Dispatcher,
    Role::PlantOperator,
];

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = corrections)]
struct CorrectionRow {
    id: String,
    container_id: String,
    event_id: Option<String>,
    field: String,
    old_value: String,
    new_value: String,
    reason: String,
    requested_by: String,
    requested_party: String,
    requested_at: NaiveDateTime,
    status: String,
    decided_at: Option<NaiveDateTime>,
    applied_event_id: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = correction_votes)]
struct VoteRow {
    correction_id: String,
    party: String,
    user_id: String,
    decision: String,
    note: Option<String>,
    at: NaiveDateTime,
}

/// The parties of a container: its institution and the companies of the staff who scanned it.
fn parties(
    conn: &mut DbConnection,
    container_id: &str,
    institution: &str,
) -> Result<Parties, ApiError> {
    let companies: Vec<Option<String>> = scan_events::table
        .inner_join(users::table.on(users::id.eq(scan_events::actor_id)))
        .filter(scan_events::container_id.eq(container_id))
        .filter(scan_events::actor_role.eq_any(["driver", "dispatcher", "plant_operator"]))
        .select(users::org_id)
        .distinct()
        .load(conn)?;
    Ok(Parties {
        institution: institution.to_owned(),
        companies: companies.into_iter().flatten().collect(),
    })
}

/// A short text that must be there: trimmed, 1 to 200 printable characters.
fn text(field: &str, s: &str) -> Result<String, ApiError> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "give 1 to 200 printable characters",
        ));
    }
    Ok(t.to_owned())
}

fn kg_text(g: i32) -> String {
    format!("{:.3}", kg(g))
}

/// Asks the other parties to correct a field of `code` (201 with the request).
pub fn request(
    conn: &mut DbConnection,
    caller: &Caller,
    code: &str,
    body: &NewCorrection,
    now: DateTime<Utc>,
) -> Result<Correction, ApiError> {
    caller.require(&PARTY_ROLES)?;
    let reason = text("reason", &body.reason)?;
    let now = micros(now);
    write_tx(conn, |conn| {
        let (c, _) = get_visible(conn, caller, code)?;
        let ps = parties(conn, &c.id, &c.institution_id)?;
        let party = ps
            .of_caller(caller.role, caller.tenant.as_deref())
            .ok_or_else(|| {
                ApiError::Forbidden(
                    "only a party of the container's custody asks for a correction".into(),
                )
            })?;
        if ps.others(&party).is_empty() {
            return Err(ApiError::Conflict(
                "no other party has handled this container yet: there is nobody to approve".into(),
            ));
        }
        let (event_id, old, new) = match body.field {
            CorrectionField::WeightKg => {
                let id = body
                    .event_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| ApiError::invalid("event_id", "name the scan to correct"))?;
                let e: Option<EventRow> = scan_events::table
                    .filter(scan_events::id.eq(id))
                    .filter(scan_events::container_id.eq(&c.id))
                    .select(EventRow::as_select())
                    .first(conn)
                    .optional()?;
                let e = e
                    .filter(|e| weight_correctable(&e.action) && e.weight_g.is_some())
                    .ok_or_else(|| {
                        ApiError::invalid(
                            "event_id",
                            "not a weighed seal, collect or receive scan of this container",
                        )
                    })?;
                let w = body
                    .weight_kg
                    .filter(|w| w.is_finite() && *w > 0.0 && *w <= MAX_WEIGHT_KG)
                    .ok_or_else(|| {
                        ApiError::invalid("weight_kg", "give the right weight, 0 to 2000 kg")
                    })?;
                let current = current_weight(conn, &e)?;
                if grams(w) == current {
                    return Err(ApiError::invalid("weight_kg", "is the recorded weight"));
                }
                (Some(e.id), kg_text(current), kg_text(grams(w)))
            }
            CorrectionField::Category => {
                let cat = body
                    .category
                    .ok_or_else(|| ApiError::invalid("category", "give the right category"))?;
                let new = enum_str(&cat);
                if new == c.category {
                    return Err(ApiError::invalid("category", "is the recorded category"));
                }
                rules::check(cat, parse_enum(&c.packaging)?, c.note.as_deref())?;
                (None, c.category.clone(), new)
            }
        };
        let field = enum_str(&body.field);
        let pending = corrections::table
            .filter(corrections::container_id.eq(&c.id))
            .filter(corrections::field.eq(&field))
            .filter(corrections::status.eq("pending"))
            .filter(
                corrections::event_id
                    .eq(event_id.clone().unwrap_or_default())
                    .or(corrections::event_id.is_null()),
            )
            .count()
            .get_result::<i64>(conn)?;
        if pending > 0 {
            return Err(ApiError::Conflict(
                "a correction of this field is already waiting for approval".into(),
            ));
        }
        let row = CorrectionRow {
            id: new_id(),
            container_id: c.id.clone(),
            event_id,
            field,
            old_value: old,
            new_value: new,
            reason,
            requested_by: caller.user_id.clone(),
            requested_party: party,
            requested_at: now,
            status: "pending".into(),
            decided_at: None,
            applied_event_id: None,
        };
        diesel::insert_into(corrections::table)
            .values(&row)
            .execute(conn)?;
        to_wire(conn, &row, &c.code, &ps)
    })
}

/// The weight a scan stands at: its latest applied correction's, else its own.
fn current_weight(conn: &mut DbConnection, e: &EventRow) -> Result<i32, ApiError> {
    let fixed: Option<Option<i32>> = scan_events::table
        .filter(scan_events::container_id.eq(&e.container_id))
        .filter(scan_events::corrects.eq(&e.id))
        .order(scan_events::seq.desc())
        .select(scan_events::weight_g)
        .first(conn)
        .optional()?;
    Ok(fixed.flatten().or(e.weight_g).unwrap_or(0))
}

/// Records the caller's party's decision; the last approval applies the correction.
pub fn vote(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    approve: bool,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Correction, ApiError> {
    caller.require(&PARTY_ROLES)?;
    let note = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| text("note", n))
        .transpose()?;
    let now = micros(now);
    let not_found = || ApiError::NotFound(format!("no correction {id}"));
    write_tx(conn, |conn| {
        let row: CorrectionRow = corrections::table
            .find(id)
            .select(CorrectionRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(not_found)?;
        let code: String = containers::table
            .find(&row.container_id)
            .select(containers::code)
            .first(conn)?;
        // Another tenant's correction answers like an unknown one.
        let (c, inst) = get_visible(conn, caller, &code).map_err(|_| not_found())?;
        let ps = parties(conn, &c.id, &c.institution_id)?;
        let voter = ps
            .of_caller(caller.role, caller.tenant.as_deref())
            .ok_or_else(not_found)?;
        let decided: BTreeSet<String> = correction_votes::table
            .filter(correction_votes::correction_id.eq(&row.id))
            .select(correction_votes::party)
            .load::<String>(conn)?
            .into_iter()
            .collect();
        let status: CorrectionStatus = parse_enum(&row.status)?;
        let asked = ps.others(&row.requested_party);
        let after = decide(
            status,
            &row.requested_party,
            &asked,
            &decided,
            &voter,
            approve,
        )
        .map_err(|e| match e {
            VoteError::Decided => ApiError::Conflict(format!("the correction is {}", row.status)),
            VoteError::OwnRequest => {
                ApiError::Forbidden("nobody approves or refuses their own correction".into())
            }
            VoteError::NotAsked => ApiError::Forbidden("your party is not asked".into()),
            VoteError::AlreadyDecided => {
                ApiError::Conflict("your party has decided already".into())
            }
        })?;
        diesel::insert_into(correction_votes::table)
            .values(&VoteRow {
                correction_id: row.id.clone(),
                party: voter,
                user_id: caller.user_id.clone(),
                decision: if approve { "approve" } else { "refuse" }.into(),
                note,
                at: now,
            })
            .execute(conn)?;
        let mut row = row;
        if after != CorrectionStatus::Pending {
            row.status = enum_str(&after);
            row.decided_at = Some(now);
        }
        if after == CorrectionStatus::Approved {
            let mut locked = lock(conn, &c.id, now)?;
            let event_id = new_id();
            let category = (row.field == "category").then(|| row.new_value.clone());
            let weight_g = if row.field == "weight_kg" {
                row.new_value.parse::<f64>().ok().map(grams)
            } else {
                None
            };
            append(
                conn,
                &mut locked,
                EventRow {
                    id: event_id.clone(),
                    container_id: String::new(),
                    seq: 0,
                    action: enum_str(&ScanAction::Correct),
                    occurred_at: now,
                    received_at: now,
                    actor_id: caller.user_id.clone(),
                    actor_role: caller.role.as_str().into(),
                    weight_g,
                    lat: None,
                    lng: None,
                    run_id: None,
                    reason: Some(row.id.clone()),
                    method: Some(row.field.clone()),
                    device_id: None,
                    via_parent: None,
                    parent_code: None,
                    prev_hash: String::new(),
                    hash: String::new(),
                    weight_source: None,
                    batch: None,
                    disposed_at: None,
                    corrects: row.event_id.clone(),
                    new_value: category.clone(),
                },
            )?;
            if let Some(cat) = &category {
                let _: Category = parse_enum(cat)?;
                diesel::update(containers::table.find(&c.id))
                    .set(containers::category.eq(cat))
                    .execute(conn)?;
                locked.category = cat.clone();
            }
            let p = places(conn, &inst)?;
            refold(conn, &mut locked, p, now)?;
            row.applied_event_id = Some(event_id);
        }
        diesel::update(corrections::table.find(&row.id))
            .set((
                corrections::status.eq(&row.status),
                corrections::decided_at.eq(row.decided_at),
                corrections::applied_event_id.eq(&row.applied_event_id),
            ))
            .execute(conn)?;
        to_wire(conn, &row, &c.code, &ps)
    })
}

fn to_wire(
    conn: &mut DbConnection,
    row: &CorrectionRow,
    code: &str,
    ps: &Parties,
) -> Result<Correction, ApiError> {
    let votes: Vec<VoteRow> = correction_votes::table
        .filter(correction_votes::correction_id.eq(&row.id))
        .order(correction_votes::at.asc())
        .select(VoteRow::as_select())
        .load(conn)?;
    let status: CorrectionStatus = parse_enum(&row.status)?;
    let decided: BTreeSet<&str> = votes.iter().map(|v| v.party.as_str()).collect();
    let awaiting = if status == CorrectionStatus::Pending {
        ps.others(&row.requested_party)
            .into_iter()
            .filter(|p| !decided.contains(p.as_str()))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Correction {
        id: row.id.clone(),
        code: code.to_owned(),
        field: parse_enum(&row.field)?,
        event_id: row.event_id.clone(),
        old_value: row.old_value.clone(),
        new_value: row.new_value.clone(),
        reason: row.reason.clone(),
        requested_by: row.requested_by.clone(),
        requested_party: row.requested_party.clone(),
        requested_at: row.requested_at.and_utc(),
        status,
        awaiting,
        decisions: votes
            .into_iter()
            .map(|v| CorrectionDecision {
                party: v.party,
                user_id: v.user_id,
                decision: v.decision,
                note: v.note,
                at: v.at.and_utc(),
            })
            .collect(),
        decided_at: row.decided_at.map(|t| t.and_utc()),
        applied_event_id: row.applied_event_id.clone(),
    })
}

/// The corrections of the given containers (ids with their codes), oldest first; the
/// caller's right to see the containers is checked by the caller of this function.
pub fn of_containers(
    conn: &mut DbConnection,
    containers_: &[(String, String, String)],
) -> Result<Vec<Correction>, ApiError> {
    let ids: Vec<&String> = containers_.iter().map(|(id, _, _)| id).collect();
    let rows: Vec<CorrectionRow> = corrections::table
        .filter(corrections::container_id.eq_any(&ids))
        .order((corrections::requested_at.asc(), corrections::id.asc()))
        .select(CorrectionRow::as_select())
        .load(conn)?;
    let by_id: HashMap<&str, (&str, &str)> = containers_
        .iter()
        .map(|(id, code, inst)| (id.as_str(), (code.as_str(), inst.as_str())))
        .collect();
    let mut out = Vec::new();
    for r in &rows {
        let (code, inst) = by_id
            .get(r.container_id.as_str())
            .copied()
            .ok_or_else(|| ApiError::Internal("correction of an unknown container".into()))?;
        let ps = parties(conn, &r.container_id, inst)?;
        out.push(to_wire(conn, r, code, &ps)?);
    }
    Ok(out)
}

/// The corrections of a container the caller may see (404 otherwise).
pub fn of_container(
    conn: &mut DbConnection,
    caller: &Caller,
    code: &str,
) -> Result<Vec<Correction>, ApiError> {
    let (c, _) = get_visible(conn, caller, code)?;
    of_containers(conn, &[(c.id, c.code, c.institution_id)])
}

/// The corrections of a manifest's containers (the manifest's read rules apply: 404).
pub fn of_manifest(
    conn: &mut DbConnection,
    caller: &Caller,
    number: &str,
) -> Result<Vec<Correction>, ApiError> {
    let m = crate::manifests::get(conn, caller, number)?;
    let codes: Vec<&str> = m.lines.iter().map(|l| l.code.as_str()).collect();
    let found: Vec<(String, String, String)> = containers::table
        .filter(containers::code.eq_any(&codes))
        .select((containers::id, containers::code, containers::institution_id))
        .load(conn)?;
    of_containers(conn, &found)
}
