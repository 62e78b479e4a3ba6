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

/// Who changes an account: a signed-in user through the API, or the operator at the server
/// through the CLI (who has the database anyway).
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    Operator,
    User(&'a crate::auth::Caller),
}

/// Changes to another account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    Deactivate,
    Reactivate,
    ResetPassword,
}

/// The rule of who may change which account, as a plain function:
/// - only an admin (or the operator) changes other accounts: 403 for every other role;
/// - nobody deactivates or resets *themselves* through the API (their own password has
///   `POST /me/password`, which asks for the current one; an admin locking themselves out
///   by mistake cannot happen);
/// - the last active admin cannot be deactivated, not even by the operator, so that the
///   deployment always has someone to manage it (create another admin first).
pub fn check_change(
    actor: Actor<'_>,
    target_id: &str,
    target_role: Role,
    target_active: bool,
    change: AccountChange,
    active_admins: i64,
) -> Result<(), ApiError> {
    if let Actor::User(caller) = actor {
        caller.require(&[Role::Admin])?;
        if caller.user_id == target_id {
            return Err(ApiError::Conflict(match change {
                AccountChange::ResetPassword => {
                    "change your own password with POST /api/v1/me/password".into()
                }
                _ => "you cannot deactivate your own account; another admin can".into(),
            }));
        }
    }
    if change == AccountChange::Deactivate
        && target_role == Role::Admin
        && target_active
        && active_admins <= 1
    {
        return Err(ApiError::Conflict(
            "this is the last active admin; create another admin before deactivating it".into(),
        ));
    }
    Ok(())
}

fn account_of(u: &crate::auth::sessions::UserRow) -> Result<yifei_contract::UserAccount, ApiError> {
    Ok(yifei_contract::UserAccount {
        id: u.id.clone(),
        login: u.login.clone(),
        role: u.role()?,
        org_id: u.tenant(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        active: u.active,
        created_at: u.created_at.and_utc(),
    })
}

fn load_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<crate::auth::sessions::UserRow, ApiError> {
    use crate::auth::sessions::UserRow;
    users::table
        .find(user_id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no user {user_id}")))
}

/// The id of the account with this login (the CLI names accounts by login).
pub fn user_id_by_login(conn: &mut DbConnection, login: &str) -> Result<String, ApiError> {
    let login = login.trim().to_lowercase();
    users::table
        .filter(users::login.eq(&login))
        .select(users::id)
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no user with login {login}")))
}

/// Deactivates or reactivates an account. Deactivation ends every session of the user in the
/// same transaction; the caller of this function forgets them from its session cache.
/// Reactivation opens no session: the user signs in again.
pub fn set_active(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    user_id: &str,
    active: bool,
    now: DateTime<Utc>,
) -> Result<yifei_contract::UserAccount, ApiError> {
    if let Actor::User(c) = actor {
        // Refuse a non-admin before looking anything up: a refusal says nothing about ids.
        c.require(&[Role::Admin])?;
    }
    let change = if active {
        AccountChange::Reactivate
    } else {
        AccountChange::Deactivate
    };
    crate::db::write_tx(conn, |conn| {
        let mut user = load_user(conn, user_id)?;
        let admins: i64 = users::table
            .filter(users::role.eq(Role::Admin.as_str()))
            .filter(users::active.eq(true))
            .count()
            .get_result(conn)?;
        check_change(actor, &user.id, user.role()?, user.active, change, admins)?;
        diesel::update(users::table.find(user_id))
            .set(users::active.eq(active))
            .execute(conn)?;
        if !active {
            crate::auth::sessions::revoke_user_sessions(conn, user_id, now)?;
        }
        user.active = active;
        tracing::info!(user_id, active, "account state changed");
        account_of(&user)
    })
}

/// Sets another user's password (admin, operator) and ends all their sessions. Hashes before
/// the write transaction, so the database's writer is not held for the hashing.
pub fn reset_password(
    conn: &mut DbConnection,
    actor: Actor<'_>,
    user_id: &str,
    new_password: &str,
    now: DateTime<Utc>,
) -> Result<yifei_contract::UserAccount, ApiError> {
    if let Actor::User(c) = actor {
        c.require(&[Role::Admin])?;
    }
    if let Some(why) = password::policy_violation(new_password) {
        return Err(ApiError::invalid("new_password", why));
    }
    let user = load_user(conn, user_id)?;
    check_change(
        actor,
        &user.id,
        user.role()?,
        user.active,
        AccountChange::ResetPassword,
        i64::MAX,
    )?;
    let hash = password::hash(new_password)?;
    crate::db::write_tx(conn, |conn| {
        diesel::update(users::table.find(user_id))
            .set(users::password_hash.eq(&hash))
            .execute(conn)?;
        crate::auth::sessions::revoke_user_sessions(conn, user_id, now)
    })?;
    tracing::info!(user_id, "password reset; sessions ended");
    account_of(&user)
}

/// Creates a staff account through the API (admin only), under the same rules as
/// `yifei user create`: the role's tenant, login and password policy of [`create_user`].
/// A login taken meanwhile by a concurrent request is the same 409 as one taken before.
pub fn create_by_admin(
    conn: &mut DbConnection,
    caller: &crate::auth::Caller,
    a: NewAccount,
    now: DateTime<Utc>,
) -> Result<yifei_contract::UserAccount, ApiError> {
    caller.require(&[Role::Admin])?;
    let login = a.login.trim().to_lowercase();
    let id = match create_user(conn, a, now) {
        Err(ApiError::Db(e)) if crate::db::is_unique_violation(&e) => {
            return Err(ApiError::Conflict(format!(
                "login {login} is already taken"
            )));
        }
        other => other?,
    };
    tracing::info!(user_id = %id, by = %caller.user_id, "account created");
    account_of(&load_user(conn, &id)?)
}

/// One page of organisations, in creation order, with their active accounts (admin only).
pub fn list_orgs(
    conn: &mut DbConnection,
    caller: &crate::auth::Caller,
    cursor: Option<crate::wire::Cursor>,
    limit: i64,
) -> Result<yifei_contract::OrganisationPage, ApiError> {
    caller.require(&[Role::Admin])?;
    type OrgRow = (
        String,
        String,
        String,
        Option<f64>,
        Option<f64>,
        String,
        chrono::NaiveDateTime,
    );
    let mut q = organisations::table
        .select((
            organisations::id,
            organisations::kind,
            organisations::name,
            organisations::lat,
            organisations::lng,
            organisations::townships,
            organisations::created_at,
        ))
        .into_boxed();
    if let Some(c) = cursor {
        q = q.filter(organisations::id.gt(c.0));
    }
    let rows: Vec<OrgRow> = q
        .order(organisations::id.asc())
        .limit(limit + 1)
        .load(conn)?;
    let (rows, next_cursor) = crate::wire::page(rows, limit, |r| &r.0);
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    let counts: Vec<(Option<String>, i64)> = users::table
        .filter(users::org_id.eq_any(ids))
        .filter(users::active.eq(true))
        .group_by(users::org_id)
        .select((users::org_id, diesel::dsl::count_star()))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(id, kind, name, lat, lng, townships, created_at)| {
            let active_users = counts
                .iter()
                .find(|(o, _)| o.as_deref() == Some(id.as_str()))
                .map_or(0, |(_, n)| *n);
            yifei_contract::Organisation {
                location: lat
                    .zip(lng)
                    .map(|(lat, lng)| yifei_contract::LatLng { lat, lng }),
                townships: serde_json::from_str(&townships).unwrap_or_default(),
                id,
                kind,
                name,
                active_users,
                created_at: created_at.and_utc(),
            }
        })
        .collect();
    Ok(yifei_contract::OrganisationPage { items, next_cursor })
}

/// One page of every account, in creation order (admin only).
pub fn list_users(
    conn: &mut DbConnection,
    caller: &crate::auth::Caller,
    cursor: Option<crate::wire::Cursor>,
    limit: i64,
) -> Result<yifei_contract::UserPage, ApiError> {
    use crate::auth::sessions::UserRow;
    caller.require(&[Role::Admin])?;
    let mut q = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(c) = cursor {
        q = q.filter(users::id.gt(c.0));
    }
    let rows: Vec<UserRow> = q.order(users::id.asc()).limit(limit + 1).load(conn)?;
    let (rows, next_cursor) = crate::wire::page(rows, limit, |r| &r.id);
    Ok(yifei_contract::UserPage {
        items: rows.iter().map(account_of).collect::<Result<_, _>>()?,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Caller;

    fn caller(id: &str, role: Role) -> Caller {
        Caller {
            user_id: id.into(),
            role,
            tenant: None,
        }
    }

    fn status(r: Result<(), ApiError>) -> u16 {
        use actix_web::ResponseError;
        match r {
            Ok(()) => 200,
            Err(e) => e.status_code().as_u16(),
        }
    }

    #[test]
    fn only_admins_change_other_accounts() {
        let d = AccountChange::Deactivate;
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
            let c = caller("u1", role);
            assert_eq!(
                status(check_change(
                    Actor::User(&c),
                    "u2",
                    Role::Driver,
                    true,
                    d,
                    2
                )),
                403,
                "{role:?}"
            );
        }
        let clinic = caller("c1", Role::ClinicStaff);
        assert_eq!(
            status(check_change(
                Actor::User(&clinic),
                "d1",
                Role::Driver,
                true,
                AccountChange::ResetPassword,
                2
            )),
            403
        );
        let admin = caller("a1", Role::Admin);
        assert_eq!(
            status(check_change(
                Actor::User(&admin),
                "u2",
                Role::Driver,
                true,
                d,
                1
            )),
            200
        );
        assert_eq!(
            status(check_change(
                Actor::Operator,
                "u2",
                Role::Driver,
                true,
                d,
                0
            )),
            200
        );
    }

    #[test]
    fn nobody_deactivates_themselves_nor_the_last_admin() {
        let admin = caller("a1", Role::Admin);
        for change in [AccountChange::Deactivate, AccountChange::ResetPassword] {
            assert_eq!(
                status(check_change(
                    Actor::User(&admin),
                    "a1",
                    Role::Admin,
                    true,
                    change,
                    5
                )),
                409
            );
        }
        // Another admin, when two are active: allowed; the last one: refused, even to the
        // operator.
        assert_eq!(
            status(check_change(
                Actor::User(&admin),
                "a2",
                Role::Admin,
                true,
                AccountChange::Deactivate,
                2
            )),
            200
        );
        assert_eq!(
            status(check_change(
                Actor::Operator,
                "a1",
                Role::Admin,
                true,
                AccountChange::Deactivate,
                1
            )),
            409
        );
        // An already inactive admin is not the last active one.
        assert_eq!(
            status(check_change(
                Actor::Operator,
                "a1",
                Role::Admin,
                false,
                AccountChange::Deactivate,
                1
            )),
            200
        );
        assert_eq!(
            status(check_change(
                Actor::Operator,
                "a1",
                Role::Admin,
                false,
                AccountChange::Reactivate,
                0
            )),
            200
        );
    }
}
