//! The disposal company's vehicles and their drivers.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use yifei_contract::{Driver, FieldError, NewVehicle, Role, Vehicle, VehicleUpdate};

use crate::auth::Caller;
use crate::db::schema::{users, vehicles};
use crate::db::{DbConnection, is_unique_violation, new_id};
use crate::error::ApiError;
use crate::institutions::parse_hhmm;

/// A vehicle row.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = vehicles)]
pub struct VehicleRow {
    pub id: String,
    pub org_id: String,
    pub plate: String,
    pub capacity_kg: i32,
    pub capacity_units: i32,
    pub refrigerated: bool,
    pub shift_start: String,
    pub shift_end: String,
    pub driver_id: Option<String>,
    pub active: bool,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

impl VehicleRow {
    pub fn to_wire(&self) -> Vehicle {
        Vehicle {
            id: self.id.clone(),
            plate: self.plate.clone(),
            capacity_kg: self.capacity_kg,
            capacity_units: self.capacity_units,
            refrigerated: self.refrigerated,
            shift_start: self.shift_start.clone(),
            shift_end: self.shift_end.clone(),
            driver_id: self.driver_id.clone(),
            active: self.active,
        }
    }
}

fn fe(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn check(v: &VehicleRow, errors: &mut Vec<FieldError>) {
    if !(1..=40_000).contains(&v.capacity_kg) {
        errors.push(fe("capacity_kg", "must be 1 to 40000"));
    }
    if !(1..=10_000).contains(&v.capacity_units) {
        errors.push(fe("capacity_units", "must be 1 to 10000"));
    }
    match (parse_hhmm(&v.shift_start), parse_hhmm(&v.shift_end)) {
        (Some(a), Some(b)) if a < b => {}
        _ => errors.push(fe("shift_end", "the shift is HH:MM to a later HH:MM")),
    }
    let plate = v.plate.trim();
    if plate.is_empty() || plate.chars().count() > 20 {
        errors.push(fe("plate", "must be 1 to 20 characters"));
    }
}

fn check_driver(conn: &mut DbConnection, org: &str, driver: Option<&str>) -> Result<(), ApiError> {
    let Some(d) = driver else { return Ok(()) };
    let ok = users::table
        .filter(users::id.eq(d))
        .filter(users::org_id.eq(org))
        .filter(users::role.eq(Role::Driver.as_str()))
        .count()
        .get_result::<i64>(conn)?
        == 1;
    if !ok {
        return Err(ApiError::invalid(
            "driver_id",
            "must be a driver of the company",
        ));
    }
    Ok(())
}

/// Adds a vehicle to the dispatcher's company.
pub fn create(
    conn: &mut DbConnection,
    caller: &Caller,
    v: NewVehicle,
    now: DateTime<Utc>,
) -> Result<Vehicle, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    let org = caller.tenant_id()?.to_owned();
    let row = VehicleRow {
        id: new_id(),
        org_id: org.clone(),
        plate: v.plate.trim().to_uppercase(),
        capacity_kg: v.capacity_kg,
        capacity_units: v.capacity_units,
        refrigerated: v.refrigerated,
        shift_start: v.shift_start.unwrap_or_else(|| "07:30".into()),
        shift_end: v.shift_end.unwrap_or_else(|| "17:30".into()),
        driver_id: v.driver_id.filter(|d| !d.is_empty()),
        active: true,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    let mut errors = Vec::new();
    check(&row, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let result = crate::db::write_tx(conn, |conn| {
        check_driver(conn, &org, row.driver_id.as_deref())?;
        diesel::insert_into(vehicles::table)
            .values(&row)
            .execute(conn)?;
        Ok(row.to_wire())
    });
    match result {
        Err(ApiError::Db(e)) if is_unique_violation(&e) => Err(ApiError::Conflict(format!(
            "plate {} is already registered",
            row.plate
        ))),
        other => other,
    }
}

/// The company's vehicles (dispatchers; drivers see theirs; admin every company's).
pub fn list(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<Vehicle>, ApiError> {
    caller.require(&[Role::Dispatcher, Role::Driver, Role::Admin])?;
    let mut q = vehicles::table.select(VehicleRow::as_select()).into_boxed();
    if caller.role != Role::Admin {
        q = q.filter(vehicles::org_id.eq(caller.tenant_id()?.to_owned()));
    }
    if caller.role == Role::Driver {
        q = q.filter(vehicles::driver_id.eq(caller.user_id.clone()));
    }
    Ok(q.order(vehicles::plate.asc())
        .load::<VehicleRow>(conn)?
        .iter()
        .map(VehicleRow::to_wire)
        .collect())
}

/// The company's drivers with the plates assigned to each, so that a dispatcher can give a
/// vehicle its driver (dispatchers; admin: every company's). Deactivated drivers are listed
/// too, marked, as a vehicle may still name one.
pub fn drivers(conn: &mut DbConnection, caller: &Caller) -> Result<Vec<Driver>, ApiError> {
    caller.require(&[Role::Dispatcher, Role::Admin])?;
    let mut q = users::table
        .filter(users::role.eq(Role::Driver.as_str()))
        .select((users::id, users::login, users::display_name, users::active))
        .into_boxed();
    let mut v = vehicles::table
        .filter(vehicles::driver_id.is_not_null())
        .select((vehicles::driver_id, vehicles::plate))
        .into_boxed();
    if caller.role != Role::Admin {
        let org = caller.tenant_id()?.to_owned();
        q = q.filter(users::org_id.eq(org.clone()));
        v = v.filter(vehicles::org_id.eq(org));
    }
    let rows: Vec<(String, String, Option<String>, bool)> =
        q.order(users::login.asc()).load(conn)?;
    let plates: Vec<(Option<String>, String)> = v.order(vehicles::plate.asc()).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, login, display_name, active)| Driver {
            plates: plates
                .iter()
                .filter(|(d, _)| d.as_deref() == Some(id.as_str()))
                .map(|(_, p)| p.clone())
                .collect(),
            id,
            login,
            display_name,
            active,
        })
        .collect())
}

/// Changes a vehicle of the dispatcher's company.
pub fn update(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &str,
    u: VehicleUpdate,
    now: DateTime<Utc>,
) -> Result<Vehicle, ApiError> {
    caller.require(&[Role::Dispatcher])?;
    let org = caller.tenant_id()?.to_owned();
    crate::db::write_tx(conn, |conn| {
        let mut row: VehicleRow = vehicles::table
            .filter(vehicles::id.eq(id))
            .filter(vehicles::org_id.eq(&org))
            .select(VehicleRow::as_select())
            .first(conn)
            .optional()?
            .ok_or_else(|| ApiError::NotFound(format!("no vehicle {id}")))?;
        if let Some(v) = u.capacity_kg {
            row.capacity_kg = v;
        }
        if let Some(v) = u.capacity_units {
            row.capacity_units = v;
        }
        if let Some(v) = u.refrigerated {
            row.refrigerated = v;
        }
        if let Some(v) = u.shift_start {
            row.shift_start = v;
        }
        if let Some(v) = u.shift_end {
            row.shift_end = v;
        }
        if let Some(v) = u.active {
            row.active = v;
        }
        if let Some(d) = u.driver_id {
            row.driver_id = Some(d).filter(|d| !d.is_empty());
        }
        let mut errors = Vec::new();
        check(&row, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        check_driver(conn, &org, row.driver_id.as_deref())?;
        row.updated_at = now.naive_utc();
        diesel::update(vehicles::table.find(&row.id))
            .set((
                vehicles::capacity_kg.eq(row.capacity_kg),
                vehicles::capacity_units.eq(row.capacity_units),
                vehicles::refrigerated.eq(row.refrigerated),
                vehicles::shift_start.eq(&row.shift_start),
                vehicles::shift_end.eq(&row.shift_end),
                vehicles::driver_id.eq(&row.driver_id),
                vehicles::active.eq(row.active),
                vehicles::updated_at.eq(row.updated_at),
            ))
            .execute(conn)?;
        Ok(row.to_wire())
    })
}
