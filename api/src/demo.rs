//! The demo county from `seed/`, loaded into an empty database so that a newcomer can try
//! every role at once.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::Role;

use crate::accounts::{self, NewOrg};
use crate::auth::password;
use crate::db::DbConnection;
use crate::db::schema::{institutions, organisations, users};
use crate::error::ApiError;
use crate::institutions::store::{InstitutionRow, NewUser};
use crate::institutions::{H3_RESOLUTION, cell_of};

/// Loads the demo when the database holds no organisation and no institution yet; returns
/// the lines to print (logins and what to try), or `None` when the database was not empty.
pub fn load_if_empty(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, ApiError> {
    let county =
        yifei_seed::demo_county().map_err(|e| ApiError::Config(format!("demo county: {e}")))?;
    // One hash for the shared demo password: hashing 20 accounts would take seconds.
    let demo_hash = password::hash(yifei_seed::DEMO_PASSWORD)?;
    crate::db::write_tx(conn, |conn| {
        let orgs: i64 = organisations::table.count().get_result(conn)?;
        let insts: i64 = institutions::table.count().get_result(conn)?;
        if orgs + insts > 0 {
            return Ok(None);
        }
        let company = county
            .organisation_of_kind("disposal_company")
            .map(|o| o.id.clone());
        for o in &county.organisations {
            let (lat, lng) = if Some(&o.id) == company.as_ref() {
                (Some(county.plant.lat), Some(county.plant.lng))
            } else {
                (o.lat, o.lng)
            };
            accounts::create_org_with_id(
                conn,
                o.id.clone(),
                NewOrg {
                    kind: o.kind.clone(),
                    name: o.name.clone(),
                    lat,
                    lng,
                    townships: o.townships.clone(),
                },
                now,
            )?;
        }
        // Hubs first: a via-hub institution references its hub.
        let mut seeds: Vec<&yifei_seed::InstitutionSeed> = county.institutions.iter().collect();
        seeds.sort_by_key(|i| i.hub_id.is_some());
        for i in seeds {
            let mut errors = Vec::new();
            let cell = cell_of(
                &yifei_contract::LatLng {
                    lat: i.lat,
                    lng: i.lng,
                },
                "location",
                &mut errors,
            )
            .ok_or_else(|| {
                ApiError::Config(format!("demo institution {} has a bad position", i.id))
            })?;
            debug_assert_eq!(cell.resolution(), H3_RESOLUTION);
            let row = InstitutionRow {
                id: i.id.clone(),
                name: i.name.clone(),
                kind: i.kind.clone(),
                licence_no: i.licence_no.clone(),
                township: i.township.clone(),
                village: i.village.clone(),
                address: i.address.clone(),
                lat: i.lat,
                lng: i.lng,
                h3_cell: i64::try_from(u64::from(cell)).unwrap_or_default(),
                beds: i.beds,
                contact_name: i.contact.name.clone(),
                contact_phone: i.contact.phone.clone(),
                contact_email: i.contact.email.clone(),
                status: i.status.clone(),
                status_reason: None,
                service_mode: i.service_mode.clone(),
                hub_id: i.hub_id.clone(),
                collection_interval_h: i.collection_interval_h,
                opening_hours: serde_json::to_string(&i.opening_hours)
                    .map_err(|e| ApiError::Config(format!("opening hours: {e}")))?,
                created_at: now.naive_utc(),
                updated_at: now.naive_utc(),
            };
            diesel::insert_into(institutions::table)
                .values(&row)
                .execute(conn)?;
        }
        let mut lines = vec![
            format!(
                "Loaded the demo county {} ({}): {} institutions ({} pending approval), {} organisations, {} vehicles.",
                county.name,
                county.name_en,
                county.institutions.len(),
                county
                    .institutions
                    .iter()
                    .filter(|i| i.status == "pending")
                    .count(),
                county.organisations.len(),
                county.vehicles.len()
            ),
            format!(
                "Demo logins (password for all: {}):",
                yifei_seed::DEMO_PASSWORD
            ),
        ];
        for u in &county.users {
            let role = Role::parse(&u.role).ok_or_else(|| {
                ApiError::Config(format!("demo user {} has unknown role {}", u.login, u.role))
            })?;
            let at_institution = matches!(role, Role::ClinicStaff | Role::HubKeeper);
            diesel::insert_into(users::table)
                .values(NewUser {
                    id: u.id.clone(),
                    login: u.login.to_lowercase(),
                    password_hash: demo_hash.clone(),
                    role: role.as_str().to_owned(),
                    org_id: if at_institution {
                        None
                    } else {
                        u.org_id.clone()
                    },
                    institution_id: if at_institution {
                        u.org_id.clone()
                    } else {
                        None
                    },
                    display_name: Some(u.display_name.clone()),
                    email: Some(u.email.clone()),
                    active: true,
                    created_at: now.naive_utc(),
                })
                .execute(conn)?;
            lines.push(format!(
                "  {:<10} {:<15} {}",
                u.login,
                role.as_str(),
                u.note
            ));
        }
        Ok(Some(lines))
    })
}
