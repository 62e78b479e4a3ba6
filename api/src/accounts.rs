//! Organisations (disposal company, health bureau) and staff accounts, created by the
//! operator from the CLI. Clinic accounts come from sign-up instead.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{FieldError, Role};

use crate::auth::password;
use crate::db::schema::{institutions, organisations, users};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;
use crate::institutions::store::{NewUser, ensure_login_free};
use crate::institutions::{check_email, normalise_login};

/// Kinds of organisation: the company collects and disposes; both bureaus (health, and
/// ecology and environment) supervise.
pub const ORG_KINDS: [&str; 3] = [
    "disposal_company",
    "health_bureau",
    "eco_environment_bureau",
];

/// A new organisation.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub kind: String,
    pub name: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// A bureau's jurisdiction; empty means the whole county.
    pub townships: Vec<String>,
}

/// Validates and stores an organisation; returns its id.
pub fn create_org(
    conn: &mut DbConnection,
    org: NewOrg,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    create_org_with_id(conn, new_id(), org, now)
}

/// As [`create_org`] with a chosen id (the demo county has stable ids).
pub fn create_org_with_id(
    conn: &mut DbConnection,
    id: String,
    org: NewOrg,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    if !ORG_KINDS.contains(&org.kind.as_str()) {
        errors.push(FieldError {
            field: "kind".into(),
            message: format!("must be one of {}", ORG_KINDS.join(", ")),
        });
    }
    let name = org.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError {
            field: "name".into(),
            message: "must be 1 to 200 characters".into(),
        });
    }
    match (org.lat, org.lng) {
        (Some(lat), Some(lng)) => {
            let loc = yifei_contract::LatLng { lat, lng };
            crate::institutions::cell_of(&loc, "location", &mut errors);
        }
        (None, None) => {}
        _ => errors.push(FieldError {
            field: "location".into(),
            message: "give both lat and lng, or neither".into(),
        }),
    }
    let townships: Vec<String> = org
        .townships
        .iter()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    diesel::insert_into(organisations::table)
        .values((
            organisations::id.eq(&id),
            organisations::kind.eq(&org.kind),
            organisations::name.eq(&name),
            organisations::lat.eq(org.lat),
            organisations::lng.eq(org.lng),
            organisations::townships
                .eq(serde_json::to_string(&townships).unwrap_or_else(|_| "[]".into())),
            organisations::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A new staff account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub login: String,
    pub role: Role,
    pub org_id: Option<String>,
    pub institution_id: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub password: String,
}

/// Which organisation kinds a role may belong to (empty: an institution, or nothing).
fn org_kinds_of(role: Role) -> &'static [&'static str] {
    match role {
        Role::BureauStaff => &["health_bureau", "eco_environment_bureau"],
        Role::Dispatcher | Role::Driver | Role::PlantOperator => &["disposal_company"],
        Role::Admin | Role::ClinicStaff | Role::HubKeeper => &[],
    }
}

/// Validates the account against its tenant and stores it; returns its id.
pub fn create_user(
    conn: &mut DbConnection,
    a: NewAccount,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    create_user_with_id(conn, new_id(), a, now)
}

/// As [`create_user`] with a chosen id.
pub fn create_user_with_id(
    conn: &mut DbConnection,
    id: String,
    a: NewAccount,
    now: DateTime<Utc>,
) -> Result<String, ApiError> {
    let mut errors = Vec::new();
    let login = normalise_login(&a.login, "login", &mut errors);
    let email = check_email(a.email.as_deref(), "email", &mut errors);
    if let Some(why) = password::policy_violation(&a.password) {
        errors.push(FieldError {
            field: "password".into(),
            message: why,
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    match (a.role, &a.org_id, &a.institution_id) {
        (Role::Admin, None, None) => {}
        (Role::Admin, _, _) => {
            return Err(ApiError::invalid(
                "org",
                "an admin belongs to no organisation",
            ));
        }
        (Role::ClinicStaff | Role::HubKeeper, _, Some(inst)) => {
            let kind: Option<String> = institutions::table
                .find(inst)
                .select(institutions::kind)
                .first(conn)
                .optional()?;
            match kind.as_deref() {
                None => {
                    return Err(ApiError::invalid(
                        "institution",
                        format!("no institution {inst}"),
                    ));
                }
                Some(k) if a.role == Role::HubKeeper && k != "township_health_centre" => {
                    return Err(ApiError::invalid(
                        "institution",
                        "hub keepers work at a township health centre",
                    ));
                }
                Some(_) => {}
            }
        }
        (Role::ClinicStaff | Role::HubKeeper, _, None) => {
            return Err(ApiError::invalid(
                "institution",
                "clinic staff and hub keepers need --institution",
            ));
        }
        (role, Some(org), None) => {
            let kind: Option<String> = organisations::table
                .find(org)
                .select(organisations::kind)
                .first(conn)
                .optional()?;
            let want = org_kinds_of(role);
            match kind.as_deref() {
                None => return Err(ApiError::invalid("org", format!("no organisation {org}"))),
                Some(k) if !want.contains(&k) => {
                    return Err(ApiError::invalid(
                        "org",
                        format!(
                            "a {} belongs to a {}, not a {k}",
                            role.as_str(),
                            want.join(" or ")
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        (_, _, _) => {
            return Err(ApiError::invalid(
                "org",
                "this role needs --org (and no --institution)",
            ));
        }
    }
    ensure_login_free(conn, &login)?;
    let hash = password::hash(&a.password)?;
    diesel::insert_into(users::table)
        .values(NewUser {
            id: id.clone(),
            login,
            password_hash: hash,
            role: a.role.as_str().to_owned(),
            org_id: if matches!(a.role, Role::ClinicStaff | Role::HubKeeper) {
                None
            } else {
                a.org_id
            },
            institution_id: a.institution_id,
            display_name: a.display_name,
            email,
            active: true,
            created_at: now.naive_utc(),
        })
        .execute(conn)?;
    Ok(id)
}
