//! Oversight: alert rules and their lifecycle, coverage reports, inspections — what lets the
//! regulator locate, query, track, alert and assess (能定位、能查询、能跟踪、能预警、能考核).

pub mod alerts;
pub mod enforcement;
pub mod evaluator;
pub mod inspections;
pub mod rectifications;
pub mod reports;
pub mod watchlist;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::settings;
use crate::error::ApiError;

const EPIDEMIC_KEY: &str = "epidemic_mode";

/// Whether epidemic mode is on (stored, so every server process agrees).
pub fn epidemic(conn: &mut DbConnection) -> Result<bool, ApiError> {
    let v: Option<String> = settings::table
        .find(EPIDEMIC_KEY)
        .select(settings::value)
        .first(conn)
        .optional()?;
    Ok(v.as_deref() == Some("on"))
}

/// Switches epidemic mode.
pub fn set_epidemic(conn: &mut DbConnection, on: bool) -> Result<(), ApiError> {
    let value = if on { "on" } else { "off" };
    crate::db::write_tx(conn, |conn| {
        let n = diesel::update(settings::table.find(EPIDEMIC_KEY))
            .set(settings::value.eq(value))
            .execute(conn)?;
        if n == 0 {
            diesel::insert_into(settings::table)
                .values((settings::key.eq(EPIDEMIC_KEY), settings::value.eq(value)))
                .execute(conn)?;
        }
        Ok(())
    })
}
