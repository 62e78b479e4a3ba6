//! The README's role table where a role alone does not decide: bureau staff of the
//! eco-environment bureau (区生态环境分局) supervise read-only, those of the health bureau
//! (区卫健局) also act (approve, suspend, change registry settings, acknowledge and resolve
//! alerts, record inspections, switch epidemic mode).
//!
//! Both are `bureau_staff`; the organisation's kind tells them apart. It is read (one
//! primary-key lookup) only on a bureau caller's writes, so reads and every other role pay
//! nothing, and the token format stays as it is.

use diesel::prelude::*;
use yifei_contract::Role;

use crate::auth::Caller;
use crate::db::DbConnection;
use crate::db::schema::organisations;
use crate::error::ApiError;

/// Organisation kind of the eco-environment bureau.
pub const ECO_BUREAU: &str = "eco_environment_bureau";

/// Whether a bureau of this organisation kind may act, not only read.
pub fn bureau_kind_acts(kind: &str) -> bool {
    kind != ECO_BUREAU
}

/// 403 for bureau staff whose organisation only reads. Call it before looking up the record
/// acted on, so that the refusal says nothing about whether it exists.
pub fn require_acting_bureau(conn: &mut DbConnection, caller: &Caller) -> Result<(), ApiError> {
    if caller.role != Role::BureauStaff {
        return Ok(());
    }
    let kind: Option<String> = organisations::table
        .find(caller.tenant_id()?)
        .select(organisations::kind)
        .first(conn)
        .optional()?;
    match kind {
        Some(k) if bureau_kind_acts(&k) => Ok(()),
        Some(_) => Err(ApiError::Forbidden(
            "the eco-environment bureau supervises read-only: it sees, it does not decide".into(),
        )),
        None => Err(ApiError::Forbidden(
            "your organisation no longer exists".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_eco_bureau_is_read_only() {
        assert!(bureau_kind_acts("health_bureau"));
        assert!(!bureau_kind_acts(ECO_BUREAU));
    }
}
