//! Persistence of the registry.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{
    Contact, DecisionResponse, Institution, InstitutionPage, InstitutionStatus, LatLng, Role,
    ServiceMode,
};

use super::{DEFAULT_COLLECTION_INTERVAL_H, DEFAULT_OPENING_HOURS, Decision, Scope, ValidSignUp};
use crate::auth::Caller;
use crate::db::schema::{institutions, organisations, users};
use crate::db::{DbConnection, is_unique_violation, new_id};
use crate::error::ApiError;
use crate::wire::{Cursor, enum_str, page, parse_enum};

/// An institution row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = institutions)]
pub struct InstitutionRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub licence_no: String,
    pub township: String,
    pub village: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub h3_cell: i64,
    pub beds: i32,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: Option<String>,
    pub status: String,
    pub status_reason: Option<String>,
    pub service_mode: String,
    pub hub_id: Option<String>,
    pub collection_interval_h: i32,
    pub opening_hours: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl InstitutionRow {
    pub fn status(&self) -> Result<InstitutionStatus, ApiError> {
        super::parse_status(&self.status).ok_or_else(|| {
            ApiError::Internal(format!(
                "institution {} has status {}",
                self.id, self.status
            ))
        })
    }

    pub fn to_wire(&self) -> Result<Institution, ApiError> {
        Ok(Institution {
            id: self.id.clone(),
            name: self.name.clone(),
            kind: parse_enum(&self.kind)?,
            licence_no: self.licence_no.clone(),
            township: self.township.clone(),
            village: self.village.clone(),
            address: self.address.clone(),
            location: LatLng {
                lat: self.lat,
                lng: self.lng,
            },
            h3_cell: format!("{:x}", self.h3_cell),
            beds: self.beds,
            contact: Contact {
                name: self.contact_name.clone(),
                phone: self.contact_phone.clone(),
                email: self.contact_email.clone(),
            },
            status: self.status()?,
            status_reason: self.status_reason.clone(),
            service_mode: parse_enum(&self.service_mode)?,
            hub_id: self.hub_id.clone(),
            collection_interval_h: self.collection_interval_h,
            opening_hours: self.hours(),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }

    /// Opening hours; stored text that does not parse falls back to the default.
    pub fn hours(&self) -> Vec<yifei_contract::OpeningWindow> {
        serde_json::from_str(&self.opening_hours)
            .or_else(|_| serde_json::from_str(DEFAULT_OPENING_HOURS))
            .unwrap_or_default()
    }

    fn admitted_by(&self, scope: &Scope) -> Result<bool, ApiError> {
        Ok(scope.admits(
            &self.id,
            &self.township,
            self.status()?,
            self.hub_id.as_deref(),
        ))
    }
}

/// Builds the row of a validated sign-up (also used by the demo loader).
pub fn row_from_sign_up(
    v: &ValidSignUp,
    id: String,
    status: InstitutionStatus,
    now: DateTime<Utc>,
) -> InstitutionRow {
    let r = &v.req;
    InstitutionRow {
        id,
        name: r.name.clone(),
        kind: enum_str(&r.kind),
        licence_no: r.licence_no.clone(),
        township: r.township.clone(),
        village: r.village.clone(),
        address: r.address.clone(),
        lat: r.location.lat,
        lng: r.location.lng,
        h3_cell: i64::try_from(u64::from(v.cell)).unwrap_or_default(),
        beds: r.beds,
        contact_name: r.contact.name.clone(),
        contact_phone: r.contact.phone.clone(),
        contact_email: r.contact.email.clone(),
        status: super::status_str(status).to_owned(),
        status_reason: None,
        service_mode: enum_str(&ServiceMode::Direct),
        hub_id: None,
        collection_interval_h: DEFAULT_COLLECTION_INTERVAL_H,
        opening_hours: v.hours.clone(),
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    }
}

/// A new user row.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: String,
    pub login: String,
    pub password_hash: String,
    pub role: String,
    pub org_id: Option<String>,
    pub institution_id: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// Registers a pending institution and its first clinic-staff account in one transaction;
/// returns the institution and the login the account signs in with (see
/// [`super::login_with_number`]: never the requested login itself).
pub fn sign_up(
    conn: &mut DbConnection,
    v: ValidSignUp,
    password_hash: String,
    now: DateTime<Utc>,
) -> Result<(Institution, String), ApiError> {
    // A login drawn at the same moment by a concurrent sign-up fails the unique index: draw
    // again (the licence check then tells a real licence clash apart).
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_sign_up(conn, &v, &password_hash, now) {
            Err(ApiError::Db(e)) if is_unique_violation(&e) && attempt < 3 => continue,
            Err(ApiError::Db(e)) if is_unique_violation(&e) => {
                return Err(ApiError::Conflict(
                    "licence number is already registered".into(),
                ));
            }
            other => return other,
        }
    }
}

fn try_sign_up(
    conn: &mut DbConnection,
    v: &ValidSignUp,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<(Institution, String), ApiError> {
    crate::db::write_tx(conn, |conn| {
        let licence_taken = institutions::table
            .filter(institutions::licence_no.eq(&v.req.licence_no))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if licence_taken {
            return Err(ApiError::Conflict(format!(
                "licence number {} is already registered",
                v.req.licence_no
            )));
        }
        let login = free_numbered_login(conn, &v.req.account.login)?;
        let row = row_from_sign_up(v, new_id(), InstitutionStatus::Pending, now);
        diesel::insert_into(institutions::table)
            .values(&row)
            .execute(conn)?;
        crate::roster::store::link_sign_up(
            conn,
            v.req.signup_code.as_deref(),
            &row.licence_no,
            &row.id,
        )?;
        diesel::insert_into(users::table)
            .values(NewUser {
                id: new_id(),
                login: login.clone(),
                password_hash: password_hash.to_owned(),
                role: Role::ClinicStaff.as_str().to_owned(),
                org_id: None,
                institution_id: Some(row.id.clone()),
                display_name: Some(v.req.contact.name.clone()),
                email: v.req.contact.email.clone(),
                active: true,
                created_at: now.naive_utc(),
            })
            .execute(conn)?;
        Ok((row.to_wire()?, login))
    })
}

/// `stem-NNNN` with a random number that no account has yet. Which numbers were tried is
/// never shown, so the answer depends on no existing login.
fn free_numbered_login(conn: &mut DbConnection, stem: &str) -> Result<String, ApiError> {
    for attempt in 0..40 {
        let random = u32::from_le_bytes(crate::auth::tokens::random_bytes::<4>()?);
        let login = super::login_with_number(stem, random, attempt >= 20);
        let taken = users::table
            .filter(users::login.eq(&login))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !taken {
            return Ok(login);
        }
    }
    Err(ApiError::Conflict(
        "choose another login: this one is very common".into(),
    ))
}

/// 409 when a login is taken.
pub fn ensure_login_free(conn: &mut DbConnection, login: &str) -> Result<(), ApiError> {
    let taken = users::table
        .filter(users::login.eq(login))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if taken {
        return Err(ApiError::Conflict(format!(
            "login {login} is already taken"
        )));
    }
    Ok(())
}

/// The caller's scope; bureau staff's jurisdiction comes from their organisation.
pub fn scope_of(conn: &mut DbConnection, caller: &Caller) -> Result<Scope, ApiError> {
    let townships = if caller.role == Role::BureauStaff {
        let raw: Option<String> = organisations::table
            .find(caller.tenant_id()?)
            .select(organisations::townships)
            .first(conn)
            .optional()?;
        let raw =
            raw.ok_or_else(|| ApiError::Forbidden("your organisation no longer exists".into()))?;
        serde_json::from_str(&raw).unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok(Scope::of(caller.role, caller.tenant.as_deref(), townships))
}

/// The ids of the institutions a scope admits (`None`: all of them). Lists of anything that
/// belongs to an institution filter on these, so the scope rules live in one place.
pub fn visible_ids(
    conn: &mut DbConnection,
    scope: &Scope,
) -> Result<Option<Vec<String>>, ApiError> {
    let mut q = institutions::table.select(institutions::id).into_boxed();
    match scope {
        Scope::All => return Ok(None),
        Scope::Own(id) => return Ok(Some(vec![id.clone()])),
        Scope::Nothing => return Ok(Some(Vec::new())),
        Scope::Townships(t) => q = q.filter(institutions::township.eq_any(t.clone())),
        Scope::Served => q = q.filter(institutions::status.eq_any(["active", "suspended"])),
        Scope::Hub(id) => {
            q = q.filter(
                institutions::id
                    .eq(id.clone())
                    .or(institutions::hub_id.eq(id.clone())),
            )
        }
    }
    Ok(Some(q.load(conn)?))
}

/// Loads an institution the caller may see; anything else is 404 (existence is not leaked).
pub fn get_visible(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
) -> Result<InstitutionRow, ApiError> {
    let scope = scope_of(conn, caller)?;
    let row: Option<InstitutionRow> = institutions::table
        .find(id)
        .select(InstitutionRow::as_select())
        .first(conn)
        .optional()?;
    match row {
        Some(r) if r.admitted_by(&scope)? => Ok(r),
        _ => Err(ApiError::NotFound(format!("no institution {id}"))),
    }
}

/// Filters of the registry list.
#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<InstitutionStatus>,
    pub township: Option<String>,
    pub kind: Option<String>,
    pub cursor: Option<Cursor>,
    pub limit: i64,
}

/// One page of the institutions the caller may see, in sign-up order.
pub fn list(
    conn: &mut DbConnection,
    caller: &Caller,
    f: ListFilter,
) -> Result<InstitutionPage, ApiError> {
    let scope = scope_of(conn, caller)?;
    let mut q = institutions::table
        .select(InstitutionRow::as_select())
        .into_boxed();
    if let Some(ids) = visible_ids(conn, &scope)? {
        q = q.filter(institutions::id.eq_any(ids));
    }
    if let Some(s) = f.status {
        q = q.filter(institutions::status.eq(super::status_str(s)));
    }
    if let Some(t) = f.township {
        scope.check_township(&t)?;
        q = q.filter(institutions::township.eq(t));
    }
    if let Some(k) = f.kind {
        q = q.filter(institutions::kind.eq(k));
    }
    if let Some(c) = f.cursor {
        q = q.filter(institutions::id.gt(c.0));
    }
    let rows: Vec<InstitutionRow> = q
        .order(institutions::id.asc())
        .limit(f.limit + 1)
        .load(conn)?;
    let (rows, next_cursor) = page(rows, f.limit, |r| &r.id);
    Ok(InstitutionPage {
        items: rows
            .iter()
            .map(InstitutionRow::to_wire)
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// Applies a registry decision by admin or bureau staff of the institution's jurisdiction.
pub fn decide(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    decision: Decision,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<DecisionResponse, ApiError> {
    caller.require(&super::DECIDERS)?;
    crate::roles::require_acting_bureau(conn, caller)?;
    crate::db::write_tx(conn, |conn| {
        let row = get_visible(conn, caller, id)?;
        let next = super::decide(row.status()?, decision, reason.as_deref())?;
        diesel::update(institutions::table.find(id))
            .set((
                institutions::status.eq(super::status_str(next)),
                institutions::status_reason.eq(reason.map(|r| r.trim().to_owned())),
                institutions::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        tracing::info!(institution_id = %id, status = super::status_str(next), by = %caller.user_id, "registry decision");
        Ok(DecisionResponse {
            id: id.to_owned(),
            status: next,
        })
    })
}

/// Changes registry settings (admin, bureau staff of the jurisdiction) or the contact (also
/// the institution's own staff).
pub fn update(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    u: yifei_contract::InstitutionUpdate,
    now: DateTime<Utc>,
) -> Result<Institution, ApiError> {
    let registry_change =
        u.service_mode.is_some() || u.hub_id.is_some() || u.collection_interval_h.is_some();
    if registry_change {
        caller.require(&super::DECIDERS)?;
    } else {
        caller.require(&[
            Role::Admin,
            Role::BureauStaff,
            Role::ClinicStaff,
            Role::HubKeeper,
        ])?;
    }
    crate::roles::require_acting_bureau(conn, caller)?;
    crate::db::write_tx(conn, |conn| {
        let mut row = get_visible(conn, caller, id)?;
        if matches!(caller.role, Role::HubKeeper)
            && row.id != caller.tenant.clone().unwrap_or_default()
        {
            return Err(ApiError::Forbidden(
                "a hub keeper edits only the hub's own record".into(),
            ));
        }
        let mut errors = Vec::new();
        if let Some(h) = u.collection_interval_h {
            if (1..=48).contains(&h) {
                row.collection_interval_h = h;
            } else {
                errors.push(yifei_contract::FieldError {
                    field: "collection_interval_h".into(),
                    message: "must be 1 to 48 hours (条例 Art.25: at most 48 h)".into(),
                });
            }
        }
        if let Some(w) = &u.opening_hours {
            row.opening_hours = super::check_hours(w, "opening_hours", &mut errors);
        }
        if let Some(mut c) = u.contact {
            let mut e = Vec::new();
            c.name = c.name.trim().to_owned();
            if c.name.is_empty() || c.name.chars().count() > 100 {
                e.push(yifei_contract::FieldError {
                    field: "contact.name".into(),
                    message: "must be 1 to 100 characters".into(),
                });
            }
            let digits = c.phone.chars().filter(char::is_ascii_digit).count();
            if !(5..=20).contains(&digits) {
                e.push(yifei_contract::FieldError {
                    field: "contact.phone".into(),
                    message: "must be a phone number of 5 to 20 digits".into(),
                });
            }
            c.email = super::check_email(c.email.as_deref(), "contact.email", &mut e);
            errors.extend(e);
            row.contact_name = c.name;
            row.contact_phone = c.phone.trim().to_owned();
            row.contact_email = c.email;
        }
        let mode = u.service_mode.unwrap_or(parse_enum(&row.service_mode)?);
        match mode {
            ServiceMode::Direct => {
                // Dropping it silently would let a caller believe a hub was set.
                if u.hub_id.is_some() {
                    errors.push(yifei_contract::FieldError {
                        field: "hub_id".into(),
                        message: "a direct-service institution has no hub; send \
                                  service_mode via_hub with it"
                            .into(),
                    });
                }
                row.service_mode = enum_str(&ServiceMode::Direct);
                row.hub_id = None;
            }
            ServiceMode::ViaHub => {
                let hub_id = u.hub_id.clone().or(row.hub_id.clone());
                let hub: Option<InstitutionRow> = match &hub_id {
                    Some(h) => institutions::table
                        .find(h)
                        .select(InstitutionRow::as_select())
                        .first(conn)
                        .optional()?,
                    None => None,
                };
                match hub {
                    None => errors.push(yifei_contract::FieldError {
                        field: "hub_id".into(),
                        message: "via_hub needs the id of a hub".into(),
                    }),
                    Some(h)
                        if h.id == row.id || h.status != "active" || h.township != row.township =>
                    {
                        errors.push(yifei_contract::FieldError {
                            field: "hub_id".into(),
                            message:
                                "the hub must be another active institution of the same township"
                                    .into(),
                        })
                    }
                    Some(h) => {
                        row.service_mode = enum_str(&ServiceMode::ViaHub);
                        row.hub_id = Some(h.id);
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        row.updated_at = now.naive_utc();
        diesel::update(institutions::table.find(&row.id))
            .set((
                institutions::service_mode.eq(&row.service_mode),
                institutions::hub_id.eq(&row.hub_id),
                institutions::collection_interval_h.eq(row.collection_interval_h),
                institutions::contact_name.eq(&row.contact_name),
                institutions::contact_phone.eq(&row.contact_phone),
                institutions::contact_email.eq(&row.contact_email),
                institutions::opening_hours.eq(&row.opening_hours),
                institutions::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        row.to_wire()
    })
}
