//! What a scan is checked for before and beside the database: its own fields and times, the
//! caller's role and tenant, the batch's size; and the answers a refusal or an outcome gives.

use chrono::{DateTime, Utc};
use yifei_contract::{Role, ScanAction, ScanEvent, ScanResult, ScanStatus};

use super::TimeLimits;
use super::read::Site;
use crate::auth::Caller;
use crate::custody::{MAX_BATCH, MAX_WEIGHT_KG, codes, role_may};
use crate::error::ApiError;

/// Longest free-text field of a scan.
pub(super) const MAX_TEXT: usize = 200;

/// Actions a big box passes on to the small boxes inside it.
pub(super) fn propagates(a: ScanAction) -> bool {
    matches!(
        a,
        ScanAction::HubIn
            | ScanAction::Collect
            | ScanAction::Receive
            | ScanAction::Reject
            | ScanAction::Dispose
            | ScanAction::Refuse
    )
}

pub(super) fn reject(event_id: &str, reason: &'static str) -> ScanResult {
    refuse(event_id, (reason, None))
}

/// Why an event is refused, and the field at fault where one is named.
pub(super) type Refusal = (&'static str, Option<&'static str>);

pub(super) fn refuse(event_id: &str, (reason, field): Refusal) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status: ScanStatus::Rejected,
        state: None,
        reason: Some(reason.to_owned()),
        field: field.map(str::to_owned),
    }
}

/// The first text field of an event holding what a database cannot store (a NUL, which is
/// also what the body's parser turns half a surrogate pair into: `http::hygiene`).
pub(super) fn bad_text(e: &ScanEvent) -> Option<&'static str> {
    let bad = |s: &Option<String>| s.as_deref().is_some_and(|s| s.contains('\0'));
    if e.code.contains('\0') {
        return Some("code");
    }
    [
        ("run_id", &e.run_id),
        ("reason", &e.reason),
        ("method", &e.method),
        ("device_id", &e.device_id),
        ("batch", &e.batch),
    ]
    .into_iter()
    .find(|(_, v)| bad(v))
    .map(|(f, _)| f)
}

/// Checks what can be checked without the database; `Err` is the rejection reason.
pub(super) fn precheck(
    caller: &Caller,
    e: &ScanEvent,
    now: DateTime<Utc>,
    limits: TimeLimits,
) -> Result<String, Refusal> {
    if let Some(field) = bad_text(e) {
        return Err(("invalid_text", Some(field)));
    }
    // What only a disposal records.
    if e.action != ScanAction::Dispose {
        if e.batch.is_some() {
            return Err(("not_for_action", Some("batch")));
        }
        if e.disposed_at.is_some() {
            return Err(("not_for_action", Some("disposed_at")));
        }
    }
    precheck_clean(caller, e, now, limits).map_err(|reason| (reason, None))
}

pub(super) fn precheck_clean(
    caller: &Caller,
    e: &ScanEvent,
    now: DateTime<Utc>,
    TimeLimits { skew, max_age }: TimeLimits,
) -> Result<String, &'static str> {
    let code = codes::parse(&e.code).map_err(|err| match err {
        codes::CodeError::Mistyped => "mistyped_code",
        codes::CodeError::Malformed => "unknown_code",
    })?;
    if !role_may(caller.role, e.action) {
        return Err("action_not_allowed");
    }
    if e.occurred_at > now + skew {
        return Err("future_timestamp");
    }
    if e.occurred_at < now - max_age {
        return Err("stale_timestamp");
    }
    let needs_weight = matches!(
        e.action,
        ScanAction::Seal | ScanAction::Collect | ScanAction::Receive
    );
    match e.weight_kg {
        None if needs_weight => return Err("weight_required"),
        Some(w) if !w.is_finite() || w <= 0.0 || w > MAX_WEIGHT_KG => {
            return Err("weight_out_of_range");
        }
        _ => {}
    }
    let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
    if e.weight_source.is_some() && e.weight_kg.is_none() {
        return Err("weight_source_without_weight");
    }
    if matches!(e.action, ScanAction::Reject | ScanAction::Refuse) && blank(&e.reason) {
        return Err("reason_required");
    }
    if e.action == ScanAction::Refuse {
        if !crate::custody::refusal::is_valid(e.reason.as_deref().unwrap_or("")) {
            return Err("unknown_reason");
        }
        if blank(&e.run_id) {
            return Err("run_required");
        }
    }
    if e.action == ScanAction::Dispose && blank(&e.method) {
        return Err("method_required");
    }
    if e.action == ScanAction::Dispose
        && !crate::custody::disposal::is_valid(e.method.as_deref().unwrap_or(""))
    {
        return Err("unknown_method");
    }
    if e.batch
        .as_deref()
        .is_some_and(|b| crate::custody::disposal::clean_batch(b).is_none())
    {
        return Err("invalid_batch");
    }
    if let Some(t) = e.disposed_at
        && !crate::custody::disposal::time_fits(t, e.occurred_at, now, skew, max_age)
    {
        return Err("invalid_disposed_at");
    }
    if let Some(l) = &e.location
        && (!(-90.0..=90.0).contains(&l.lat)
            || !(-180.0..=180.0).contains(&l.lng)
            || !l.lat.is_finite()
            || !l.lng.is_finite())
    {
        return Err("invalid_location");
    }
    let too_long = |s: &Option<String>| s.as_ref().is_some_and(|s| s.chars().count() > MAX_TEXT);
    if too_long(&e.reason) || too_long(&e.method) || too_long(&e.device_id) || too_long(&e.run_id) {
        return Err("text_too_long");
    }
    Ok(code)
}

/// Whether the caller's tenant may scan this institution's container for this action.
/// Another tenant's container answers like an unknown code (existence is not leaked).
pub(super) fn tenant_may(caller: &Caller, action: ScanAction, inst: &Site) -> bool {
    let tenant = caller.tenant.as_deref();
    match (caller.role, action) {
        (Role::ClinicStaff | Role::HubKeeper, ScanAction::Seal) => tenant == Some(inst.id.as_str()),
        (Role::HubKeeper, ScanAction::HubIn) => {
            tenant.is_some() && inst.hub_id.as_deref() == tenant
        }
        // One disposal company serves the county: its drivers and plant handle every container.
        (Role::Driver | Role::PlantOperator, _) => tenant.is_some(),
        _ => false,
    }
}

/// Refuses empty and oversized batches before any work.
pub fn check_batch(events: &[ScanEvent]) -> Result<(), ApiError> {
    if events.is_empty() || events.len() > MAX_BATCH {
        return Err(ApiError::invalid("events", "give 1 to 500 events"));
    }
    Ok(())
}

pub(super) fn outcome(event_id: &str, status: ScanStatus) -> ScanResult {
    ScanResult {
        event_id: event_id.to_owned(),
        status,
        state: None,
        reason: None,
        field: None,
    }
}
