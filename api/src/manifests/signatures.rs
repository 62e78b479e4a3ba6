//! The shipper's confirmation of a hand-over and the ordered signatures of a manifest (issue
//! #17 parts 1 and 3).
//!
//! Offline, the institution's staff type their confirmation code on the driver's phone; the
//! app computes an HMAC-SHA256 keyed by the code over [`canonical`] (institution, run,
//! containers, count, grams, phone time) and forgets the code. The server recomputes it at
//! sync: the driver alone cannot forge it (no code), and a replay onto another pickup fails
//! (the message differs). A confirmation that does not verify is stored with a flag, never
//! dropped. Signatures follow [`ORDER`]; each seals what it covers (see [`sealed_by`]).

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use yifei_contract::{
    HandoverConfirmation, HandoverSettings, HandoverSettingsUpdate, ManifestSignature,
    NewSignature, OfflineConfirmation, Role, ShipperConfirmation, SignatureParty,
};

use crate::auth::Caller;
use crate::db::schema::{
    containers, handover_confirmations, handover_settings, manifests, runs, scan_events, users,
};
use crate::db::{DbConnection, new_id};
use crate::error::ApiError;

type HmacSha256 = Hmac<sha2_v11::Sha256>;

/// Signing order of a manifest's parties.
pub const ORDER: [SignatureParty; 4] = [
    SignatureParty::Shipper,
    SignatureParty::Carrier,
    SignatureParty::Receiver,
    SignatureParty::Disposal,
];

/// How far a signature's time may run ahead of the server's clock (phones drift).
pub const FUTURE_SLACK_MIN: i64 = 5;

/// Wire name of a party.
pub fn party_name(p: SignatureParty) -> &'static str {
    match p {
        SignatureParty::Shipper => "shipper",
        SignatureParty::Carrier => "carrier",
        SignatureParty::Receiver => "receiver",
        SignatureParty::Disposal => "disposal",
    }
}

fn party_of(s: &str) -> Result<SignatureParty, ApiError> {
    ORDER
        .into_iter()
        .find(|p| party_name(*p) == s)
        .ok_or_else(|| ApiError::Internal(format!("stored party {s}")))
}

/// The string the app signs, byte for byte (see `mobile-contract/README.md`): UTF-8 lines
/// joined by `\n`, no trailing newline; container codes sorted by byte and deduplicated;
/// the phone time in UTC to the second with `Z`.
pub fn canonical(
    institution_id: &str,
    run_id: &str,
    containers: &[String],
    count: i32,
    weight_g: i64,
    device_at: DateTime<Utc>,
) -> String {
    let mut codes: Vec<&str> = containers.iter().map(String::as_str).collect();
    codes.sort_unstable();
    codes.dedup();
    format!(
        "yifei-handover-v1\ninstitution:{institution_id}\nrun:{run_id}\ncontainers:{}\ncount:{count}\nweight_g:{weight_g}\ndevice_at:{}",
        codes.join(","),
        device_at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// HMAC-SHA256 of `message` keyed by the code's UTF-8 bytes, as 64 lowercase hex digits.
pub fn mac_hex(code: &str, message: &str) -> String {
    let mut m = HmacSha256::new_from_slice(code.as_bytes()).expect("HMAC takes any key length");
    m.update(message.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `mac` (hex) is the code's MAC of `message`, compared in constant time.
pub fn verify_mac(code: &str, message: &str, mac: &str) -> bool {
    let Some(bytes) = unhex(mac) else {
        return false;
    };
    let mut m = HmacSha256::new_from_slice(code.as_bytes()).expect("HMAC takes any key length");
    m.update(message.as_bytes());
    m.verify_slice(&bytes).is_ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    (0..32)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// A confirmation code: 8 to 32 ASCII letters or digits (about 40 bits at the least, which
/// is what stands between a driver holding a MAC and a guessed code; see docs/SIGNATURES.md).
pub fn valid_code(code: &str) -> bool {
    (8..=32).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Why a confirmation that verified by code still disagrees with the scans, if it does.
pub fn mismatch(
    confirmed: (&[String], i32, i64),
    scanned: (&[String], i64),
) -> Option<&'static str> {
    let mut a: Vec<&String> = confirmed.0.iter().collect();
    let mut b: Vec<&String> = scanned.0.iter().collect();
    a.sort();
    a.dedup();
    b.sort();
    if a != b {
        Some("containers_mismatch")
    } else if usize::try_from(confirmed.1).ok() != Some(b.len()) {
        Some("count_mismatch")
    } else if confirmed.2 != scanned.1 {
        Some("weight_mismatch")
    } else {
        None
    }
}

/// Whether `party` may sign after `signed` (in order, with their times) at `at`: the next
/// party in [`ORDER`], not dated before the previous signature, not in the future. Times are
/// instants (UTC), so a signature just after local midnight follows one just before it.
pub fn check_order(
    signed: &[(SignatureParty, DateTime<Utc>)],
    party: SignatureParty,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if signed.iter().any(|(p, _)| *p == party) {
        return Err(ApiError::Conflict(format!(
            "the {} has already signed this manifest",
            party_name(party)
        )));
    }
    let next = ORDER[signed.len().min(ORDER.len() - 1)];
    if signed.len() >= ORDER.len() || next != party {
        return Err(ApiError::invalid(
            "party",
            format!(
                "signatures go shipper, carrier, receiver, disposal: the {} signs next, not the {}",
                party_name(next),
                party_name(party)
            ),
        ));
    }
    if at > now + Duration::minutes(FUTURE_SLACK_MIN) {
        return Err(ApiError::invalid(
            "signed_at",
            "a signature cannot be dated in the future",
        ));
    }
    if let Some((p, prev)) = signed.last()
        && at < *prev
    {
        return Err(ApiError::invalid(
            "signed_at",
            format!(
                "dated {} before the {}'s signature of {}",
                at.to_rfc3339(),
                party_name(*p),
                prev.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

/// The signature that seals a scan `action` on a manifest's containers, if any of `signed`
/// does: a pickup (`collect`) is sealed by the shipper's or carrier's signature, a receipt or
/// refusal at the plant by the receiver's, a disposal by the disposal signature. A sealed
/// part changes only by an approved correction, never by a later scan.
pub fn sealed_by(signed: &[SignatureParty], action: &str) -> Option<SignatureParty> {
    let covering: &[SignatureParty] = match action {
        "collect" => &[SignatureParty::Carrier, SignatureParty::Shipper],
        "receive" | "reject" => &[SignatureParty::Receiver],
        "dispose" => &[SignatureParty::Disposal],
        _ => &[],
    };
    covering.iter().copied().find(|p| signed.contains(p))
}

/// Whether a signature can cover a scan with `action` at all: the ingest asks this first, so
/// that the scans no signature covers (seal, label, nest, ...) cost no query.
pub fn sealable(action: &str) -> bool {
    matches!(action, "collect" | "receive" | "reject" | "dispose")
}

/// The seal on a scan of container `container_id` with `action` on run `run_id`, if a
/// signature of its manifest covers it (for the ingest checks and corrections to call).
pub fn seal_for(
    conn: &mut DbConnection,
    container_id: &str,
    inst: &str,
    run_id: Option<&str>,
    action: &str,
) -> Result<Option<SignatureParty>, ApiError> {
    use crate::db::schema::manifest_signatures as ms;
    if !sealable(action) {
        return Ok(None);
    }
    // The manifest: the scan's run, or else the run the container was collected on.
    let run = match run_id {
        Some(r) => Some(r.to_owned()),
        None => scan_events::table
            .filter(scan_events::container_id.eq(container_id))
            .filter(scan_events::action.eq("collect"))
            .filter(scan_events::run_id.is_not_null())
            .select(scan_events::run_id)
            .first::<Option<String>>(conn)
            .optional()?
            .flatten(),
    };
    let Some(run) = run else { return Ok(None) };
    let parties: Vec<String> = ms::table
        .inner_join(manifests::table.on(manifests::id.eq(ms::manifest_id)))
        .filter(manifests::run_id.eq(&run))
        .filter(manifests::institution_id.eq(inst))
        .select(ms::party)
        .load(conn)?;
    let signed: Vec<SignatureParty> = parties
        .iter()
        .map(|p| party_of(p))
        .collect::<Result<_, _>>()?;
    Ok(sealed_by(&signed, action))
}

// ---------------------------------------------------------------- settings

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = handover_settings)]
#[diesel(treat_none_as_null = true)]
struct SettingsRow {
    institution_id: String,
    confirm_code: Option<String>,
    unattended_consent: bool,
    updated_at: NaiveDateTime,
    updated_by: String,
}

fn settings_row(
    conn: &mut DbConnection,
    institution_id: &str,
) -> Result<Option<SettingsRow>, ApiError> {
    Ok(handover_settings::table
        .find(institution_id)
        .select(SettingsRow::as_select())
        .first(conn)
        .optional()?)
}

fn own_institution(caller: &Caller, institution_id: &str) -> Result<(), ApiError> {
    caller.require(&[Role::ClinicStaff, Role::HubKeeper])?;
    if caller.tenant.as_deref() != Some(institution_id) {
        return Err(ApiError::NotFound(format!(
            "no institution {institution_id}"
        )));
    }
    Ok(())
}

fn settings_wire(institution_id: &str, row: Option<&SettingsRow>) -> HandoverSettings {
    HandoverSettings {
        institution_id: institution_id.to_owned(),
        code_set: row.is_some_and(|r| r.confirm_code.is_some()),
        unattended_consent: row.is_some_and(|r| r.unattended_consent),
        updated_at: row.map(|r| r.updated_at.and_utc()),
    }
}

/// The institution's hand-over settings (its own staff).
pub fn settings(
    conn: &mut DbConnection,
    caller: &Caller,
    institution_id: &str,
) -> Result<HandoverSettings, ApiError> {
    own_institution(caller, institution_id)?;
    let row = settings_row(conn, institution_id)?;
    Ok(settings_wire(institution_id, row.as_ref()))
}

/// Sets or rotates the confirmation code and the consent to unattended pickups.
pub fn update_settings(
    conn: &mut DbConnection,
    caller: &Caller,
    institution_id: &str,
    body: HandoverSettingsUpdate,
    now: DateTime<Utc>,
) -> Result<HandoverSettings, ApiError> {
    own_institution(caller, institution_id)?;
    if let Some(c) = &body.code
        && !valid_code(c)
    {
        return Err(ApiError::invalid("code", "8 to 32 letters or digits"));
    }
    crate::db::write_tx(conn, |conn| {
        let old = settings_row(conn, institution_id)?;
        let row = SettingsRow {
            institution_id: institution_id.to_owned(),
            confirm_code: body
                .code
                .clone()
                .or_else(|| old.as_ref().and_then(|o| o.confirm_code.clone())),
            unattended_consent: body.unattended_consent,
            updated_at: now.naive_utc(),
            updated_by: caller.user_id.clone(),
        };
        if old.is_some() {
            diesel::update(handover_settings::table.find(institution_id))
                .set(&row)
                .execute(conn)?;
        } else {
            diesel::insert_into(handover_settings::table)
                .values(&row)
                .execute(conn)?;
        }
        Ok(settings_wire(institution_id, Some(&row)))
    })
}

// ---------------------------------------------------------------- confirmations

/// The manifest a caller acts on: (id, number, run, institution, run's org, run's driver).
struct Target {
    id: String,
    run_id: String,
    institution_id: String,
    org_id: String,
    driver_id: Option<String>,
}

fn target(conn: &mut DbConnection, caller: &Caller, number: &str) -> Result<Target, ApiError> {
    let m = super::get_row(conn, caller, number)?;
    let (org_id, driver_id): (String, Option<String>) = runs::table
        .find(&m.run_id)
        .select((runs::org_id, runs::driver_id))
        .first(conn)?;
    Ok(Target {
        id: m.id,
        run_id: m.run_id,
        institution_id: m.institution_id,
        org_id,
        driver_id,
    })
}

/// Containers, grams collected on a manifest now (from the collect scans).
fn scanned(conn: &mut DbConnection, t: &Target) -> Result<(Vec<String>, i64), ApiError> {
    let rows: Vec<(String, Option<i32>)> = scan_events::table
        .inner_join(containers::table)
        .filter(scan_events::run_id.eq(&t.run_id))
        .filter(scan_events::action.eq("collect"))
        .filter(containers::institution_id.eq(&t.institution_id))
        .select((containers::code, containers::collect_weight_g))
        .distinct()
        .load(conn)?;
    let grams = rows.iter().filter_map(|(_, g)| g.map(i64::from)).sum();
    let mut codes: Vec<String> = rows.into_iter().map(|(c, _)| c).collect();
    codes.sort();
    codes.dedup();
    Ok((codes, grams))
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = handover_confirmations)]
struct ConfirmationRow {
    id: String,
    manifest_id: String,
    method: String,
    containers: String,
    container_count: i32,
    weight_g: i64,
    device_at: NaiveDateTime,
    mac: String,
    verified: bool,
    flag: Option<String>,
    submitted_by: String,
    recorded_at: NaiveDateTime,
}

impl ConfirmationRow {
    fn to_wire(&self) -> HandoverConfirmation {
        HandoverConfirmation {
            id: self.id.clone(),
            method: self.method.clone(),
            containers: self
                .containers
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            count: self.container_count,
            weight_g: self.weight_g,
            confirmed_at: self.device_at.and_utc(),
            verified: self.verified,
            flag: self.flag.clone(),
            submitted_by: self.submitted_by.clone(),
            recorded_at: self.recorded_at.and_utc(),
        }
    }
}

/// Stores `row` unless the same MAC was already stored for this manifest (then the stored
/// one is returned, `false`): a second sync of the same confirmation changes nothing.
fn store(
    conn: &mut DbConnection,
    row: ConfirmationRow,
) -> Result<(HandoverConfirmation, bool), ApiError> {
    crate::db::write_tx(conn, |conn| {
        let old: Option<ConfirmationRow> = handover_confirmations::table
            .filter(handover_confirmations::manifest_id.eq(&row.manifest_id))
            .filter(handover_confirmations::mac.eq(&row.mac))
            .select(ConfirmationRow::as_select())
            .first(conn)
            .optional()?;
        if let Some(old) = old {
            return Ok((old.to_wire(), false));
        }
        diesel::insert_into(handover_confirmations::table)
            .values(&row)
            .execute(conn)?;
        Ok((row.to_wire(), true))
    })
}

fn valid_container_code(c: &str) -> bool {
    (1..=64).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Records a confirmation computed offline on the driver's phone (the run's driver sends
/// it). Verified when the MAC is the institution's code over the canonical string of *this*
/// manifest and it agrees with the collect scans; else stored with a flag. Returns the
/// confirmation and whether it is new.
pub fn confirm_offline(
    conn: &mut DbConnection,
    caller: &Caller,
    number: &str,
    body: OfflineConfirmation,
    now: DateTime<Utc>,
) -> Result<(HandoverConfirmation, bool), ApiError> {
    caller.require(&[Role::Driver])?;
    let t = target(conn, caller, number)?;
    if t.driver_id.as_deref() != Some(caller.user_id.as_str()) {
        return Err(ApiError::Forbidden(
            "only the run's driver sends the shipper's confirmation".into(),
        ));
    }
    if body.containers.is_empty() || body.containers.len() > 500 {
        return Err(ApiError::invalid("containers", "1 to 500 container codes"));
    }
    if let Some(i) = body
        .containers
        .iter()
        .position(|c| !valid_container_code(c))
    {
        return Err(ApiError::invalid(
            format!("containers.{i}"),
            "a container code (letters, digits, -)",
        ));
    }
    if body.count < 0 {
        return Err(ApiError::invalid("count", "not negative"));
    }
    if !(0..=100_000_000).contains(&body.weight_g) {
        return Err(ApiError::invalid("weight_g", "0 to 100 000 000 g"));
    }
    if unhex(&body.mac).is_none() {
        return Err(ApiError::invalid("mac", "64 lowercase hex digits"));
    }
    let device_at = body.device_at.with_nanosecond_zeroed();
    let message = canonical(
        &t.institution_id,
        &t.run_id,
        &body.containers,
        body.count,
        body.weight_g,
        device_at,
    );
    let code = settings_row(conn, &t.institution_id)?.and_then(|s| s.confirm_code);
    let flag = match &code {
        None => Some("no_code_set"),
        Some(c) if !verify_mac(c, &message, &body.mac) => Some("bad_code"),
        Some(_) => {
            let (codes, grams) = scanned(conn, &t)?;
            mismatch(
                (&body.containers, body.count, body.weight_g),
                (&codes, grams),
            )
        }
    };
    let mut codes = body.containers.clone();
    codes.sort();
    codes.dedup();
    store(
        conn,
        ConfirmationRow {
            id: new_id(),
            manifest_id: t.id,
            method: "code".into(),
            containers: codes.join(","),
            container_count: body.count,
            weight_g: body.weight_g,
            device_at: device_at.naive_utc(),
            mac: body.mac,
            verified: flag.is_none(),
            flag: flag.map(str::to_owned),
            submitted_by: caller.user_id.clone(),
            recorded_at: now.naive_utc(),
        },
    )
}

trait ZeroNanos {
    fn with_nanosecond_zeroed(self) -> Self;
}

impl ZeroNanos for DateTime<Utc> {
    fn with_nanosecond_zeroed(self) -> Self {
        use chrono::Timelike;
        self.with_nanosecond(0).unwrap_or(self)
    }
}

/// The shipper confirms later from its own login: what the scans say now is confirmed (its
/// staff read the manifest first). Confirming the same content again changes nothing.
pub fn confirm_by_login(
    conn: &mut DbConnection,
    caller: &Caller,
    number: &str,
    now: DateTime<Utc>,
) -> Result<(HandoverConfirmation, bool), ApiError> {
    caller.require(&[Role::ClinicStaff, Role::HubKeeper])?;
    let t = target(conn, caller, number)?;
    if caller.tenant.as_deref() != Some(t.institution_id.as_str()) {
        return Err(ApiError::NotFound(format!("no manifest {number}")));
    }
    let (codes, grams) = scanned(conn, &t)?;
    if codes.is_empty() {
        return Err(ApiError::Conflict(
            "nothing was collected on this manifest".into(),
        ));
    }
    let count = i32::try_from(codes.len()).unwrap_or(i32::MAX);
    // The "MAC" of a login confirmation names the user and what they confirmed, so the same
    // content confirmed twice is one row and a changed content a new one.
    let content = canonical(
        &t.institution_id,
        &t.run_id,
        &codes,
        count,
        grams,
        DateTime::UNIX_EPOCH,
    );
    let key = format!(
        "login:{}:{}",
        caller.user_id,
        super::sha256_hex(content.as_bytes())
    );
    store(
        conn,
        ConfirmationRow {
            id: new_id(),
            manifest_id: t.id,
            method: "login".into(),
            containers: codes.join(","),
            container_count: count,
            weight_g: grams,
            device_at: now.naive_utc(),
            mac: key,
            verified: true,
            flag: None,
            submitted_by: caller.user_id.clone(),
            recorded_at: now.naive_utc(),
        },
    )
}

/// Status from the confirmations and the consent (see `ShipperConfirmation::status`).
pub fn confirmation_status(verified: &[bool], consent: bool) -> &'static str {
    if verified.iter().any(|v| *v) {
        "confirmed"
    } else if !verified.is_empty() {
        "flagged"
    } else if consent {
        "unattended"
    } else {
        "unconfirmed"
    }
}

/// The shipper confirmation of a manifest.
pub fn confirmation_of(
    conn: &mut DbConnection,
    manifest_id: &str,
    institution_id: &str,
) -> Result<ShipperConfirmation, ApiError> {
    let rows: Vec<ConfirmationRow> = handover_confirmations::table
        .filter(handover_confirmations::manifest_id.eq(manifest_id))
        .order((
            handover_confirmations::recorded_at.asc(),
            handover_confirmations::id.asc(),
        ))
        .select(ConfirmationRow::as_select())
        .load(conn)?;
    let consent = settings_row(conn, institution_id)?.is_some_and(|s| s.unattended_consent);
    let verified: Vec<bool> = rows.iter().map(|r| r.verified).collect();
    Ok(ShipperConfirmation {
        status: confirmation_status(&verified, consent).to_owned(),
        confirmations: rows.iter().map(ConfirmationRow::to_wire).collect(),
    })
}

/// Alert conditions: a manifest of the last 30 days, older than an hour (time for the batch
/// to sync), whose shipper confirmation is `unconfirmed` or `flagged`. The alert names the
/// institution, so its clinic is told (and emailed through the outbox).
pub fn alert_conditions(
    conn: &mut DbConnection,
    now: NaiveDateTime,
) -> Result<Vec<crate::oversight::alerts::Condition>, ApiError> {
    let rows: Vec<(String, String, String)> = manifests::table
        .filter(manifests::created_at.ge(now - Duration::days(30)))
        .filter(manifests::created_at.le(now - Duration::hours(1)))
        .select((manifests::id, manifests::number, manifests::institution_id))
        .load(conn)?;
    let mut out = Vec::new();
    for (id, number, inst) in rows {
        let c = confirmation_of(conn, &id, &inst)?;
        let (rule, detail) = match c.status.as_str() {
            "unconfirmed" => (
                "unconfirmed_handover",
                "the institution has not confirmed this pickup and does not consent to unattended pickups",
            ),
            "flagged" => (
                "handover_not_verified",
                "the shipper's confirmation of this pickup does not verify",
            ),
            _ => continue,
        };
        out.push(crate::oversight::alerts::Condition {
            key: format!("{rule}:{number}"),
            rule,
            severity: "warning",
            subject_type: "manifest",
            subject_id: number,
            institution_id: Some(inst),
            detail: detail.to_owned(),
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- signatures

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crate::db::schema::manifest_signatures)]
struct SignatureRow {
    id: String,
    manifest_id: String,
    party: String,
    seq: i32,
    user_id: String,
    signer_name: String,
    signer_role: String,
    signed_at: NaiveDateTime,
    recorded_at: NaiveDateTime,
    covers: String,
}

/// A manifest's signatures in order.
pub fn of_manifest(
    conn: &mut DbConnection,
    manifest_id: &str,
) -> Result<Vec<ManifestSignature>, ApiError> {
    use crate::db::schema::manifest_signatures as ms;
    let rows: Vec<SignatureRow> = ms::table
        .filter(ms::manifest_id.eq(manifest_id))
        .order(ms::seq.asc())
        .select(SignatureRow::as_select())
        .load(conn)?;
    rows.into_iter()
        .map(|r| {
            Ok(ManifestSignature {
                party: party_of(&r.party)?,
                user_id: r.user_id,
                name: r.signer_name,
                role: r.signer_role,
                signed_at: r.signed_at.and_utc(),
                recorded_at: r.recorded_at.and_utc(),
                covers: r.covers,
            })
        })
        .collect()
}

/// Adds the caller's signature as `body.party`: the shipper's staff, the run's driver for
/// the carrier, a plant operator of the company for receiver and disposal; in order, not
/// backdated; the receiver once everything arrived, the disposal once the manifest closed.
pub fn sign(
    conn: &mut DbConnection,
    caller: &Caller,
    number: &str,
    body: NewSignature,
    now: DateTime<Utc>,
) -> Result<ManifestSignature, ApiError> {
    use crate::db::schema::manifest_signatures as ms;
    caller.require(&[
        Role::ClinicStaff,
        Role::HubKeeper,
        Role::Driver,
        Role::PlantOperator,
    ])?;
    let t = target(conn, caller, number)?;
    let allowed = match body.party {
        SignatureParty::Shipper => {
            matches!(caller.role, Role::ClinicStaff | Role::HubKeeper)
                && caller.tenant.as_deref() == Some(t.institution_id.as_str())
        }
        SignatureParty::Carrier => {
            caller.role == Role::Driver && t.driver_id.as_deref() == Some(caller.user_id.as_str())
        }
        SignatureParty::Receiver | SignatureParty::Disposal => {
            caller.role == Role::PlantOperator
                && caller.tenant.as_deref() == Some(t.org_id.as_str())
        }
    };
    if !allowed {
        return Err(ApiError::Forbidden(format!(
            "a {} cannot sign as the {}",
            caller.role.as_str(),
            party_name(body.party)
        )));
    }
    crate::db::write_tx(conn, |conn| {
        let m = super::get(conn, caller, number)?;
        let signed: Vec<(SignatureParty, DateTime<Utc>)> = m
            .signatures
            .iter()
            .map(|s| (s.party, s.signed_at))
            .collect();
        check_order(&signed, body.party, body.signed_at, now)?;
        let ready = match body.party {
            SignatureParty::Shipper | SignatureParty::Carrier => !m.lines.is_empty(),
            SignatureParty::Receiver => ["received", "closed"].contains(&m.status.as_str()),
            SignatureParty::Disposal => m.status == "closed",
        };
        if !ready {
            return Err(ApiError::Conflict(format!(
                "the {} cannot sign a manifest that is {} ({} of {} containers received)",
                party_name(body.party),
                m.status,
                m.count_received,
                m.count_collected
            )));
        }
        let (login, display): (String, Option<String>) = users::table
            .find(&caller.user_id)
            .select((users::login, users::display_name))
            .first(conn)?;
        let row = SignatureRow {
            id: new_id(),
            manifest_id: t.id.clone(),
            party: party_name(body.party).to_owned(),
            seq: i32::try_from(signed.len()).unwrap_or(i32::MAX) + 1,
            user_id: caller.user_id.clone(),
            signer_name: display.filter(|d| !d.trim().is_empty()).unwrap_or(login),
            signer_role: caller.role.as_str().to_owned(),
            signed_at: body.signed_at.naive_utc(),
            recorded_at: now.naive_utc(),
            covers: m.custody_digest.clone(),
        };
        diesel::insert_into(ms::table).values(&row).execute(conn)?;
        Ok(ManifestSignature {
            party: body.party,
            user_id: row.user_id,
            name: row.signer_name,
            role: row.signer_role,
            signed_at: body.signed_at,
            recorded_at: now,
            covers: row.covers,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").to_utc()
    }

    /// The worked example of mobile-contract/README.md; the app team checks their code with it.
    #[test]
    fn canonical_string_and_test_vector() {
        let msg = canonical(
            "inst-0001",
            "run-0042",
            &["YF-B-0002".into(), "YF-A-0001".into(), "YF-B-0002".into()],
            2,
            3750,
            at("2026-03-02T08:10:05.900+08:00"),
        );
        assert_eq!(
            msg,
            "yifei-handover-v1\ninstitution:inst-0001\nrun:run-0042\ncontainers:YF-A-0001,YF-B-0002\ncount:2\nweight_g:3750\ndevice_at:2026-03-02T00:10:05Z"
        );
        let mac = mac_hex("K7Q2M9X4", &msg);
        assert_eq!(
            mac,
            include_str!("../../../mobile-contract/handover-test-vector.txt").trim()
        );
        assert!(verify_mac("K7Q2M9X4", &msg, &mac));
        assert!(!verify_mac("K7Q2M9X5", &msg, &mac), "another code");
        assert!(!verify_mac(
            "K7Q2M9X4",
            &msg.replace("count:2", "count:3"),
            &mac
        ));
        assert!(
            !verify_mac("K7Q2M9X4", &msg, &mac.to_uppercase()),
            "hex is lowercase"
        );
        assert!(!verify_mac("K7Q2M9X4", &msg, "00"));
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        assert_eq!(
            mac_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn codes_are_long_enough() {
        assert!(valid_code("K7Q2M9X4"));
        assert!(!valid_code("1234567"));
        assert!(!valid_code("K7Q2 M9X4"));
        assert!(!valid_code(&"a".repeat(33)));
    }

    #[test]
    fn mismatches_name_what_differs() {
        let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        let scanned = s(&["A", "B"]);
        assert_eq!(mismatch((&s(&["B", "A"]), 2, 100), (&scanned, 100)), None);
        assert_eq!(
            mismatch((&s(&["A"]), 1, 100), (&scanned, 100)),
            Some("containers_mismatch")
        );
        assert_eq!(
            mismatch((&s(&["A", "B"]), 3, 100), (&scanned, 100)),
            Some("count_mismatch")
        );
        assert_eq!(
            mismatch((&s(&["A", "B"]), 2, 99), (&scanned, 100)),
            Some("weight_mismatch")
        );
    }

    #[test]
    fn signatures_go_in_order_across_midnight() {
        let now = at("2026-03-03T09:00:00+08:00");
        // The shipper signed at 23:58 local, the carrier at 00:03 the next day: in order.
        let shipper = (SignatureParty::Shipper, at("2026-03-02T23:58:00+08:00"));
        assert!(check_order(&[], SignatureParty::Shipper, shipper.1, now).is_ok());
        assert!(
            check_order(
                &[shipper],
                SignatureParty::Carrier,
                at("2026-03-03T00:03:00+08:00"),
                now
            )
            .is_ok()
        );
        // Dated 23:50 the evening before: backdated, 422.
        let back = check_order(
            &[shipper],
            SignatureParty::Carrier,
            at("2026-03-02T23:50:00+08:00"),
            now,
        );
        assert!(
            matches!(back, Err(ApiError::Validation(ref e)) if e[0].field == "signed_at"),
            "{back:?}"
        );
        // The same minute is fine (a shipper and driver sign together).
        assert!(check_order(&[shipper], SignatureParty::Carrier, shipper.1, now).is_ok());
        // Out of order: the receiver before the carrier.
        let skip = check_order(&[shipper], SignatureParty::Receiver, now, now);
        assert!(
            matches!(skip, Err(ApiError::Validation(ref e)) if e[0].field == "party"),
            "{skip:?}"
        );
        assert!(check_order(&[], SignatureParty::Carrier, now, now).is_err());
        // Twice: conflict. In the future: 422.
        assert!(matches!(
            check_order(&[shipper], SignatureParty::Shipper, now, now),
            Err(ApiError::Conflict(_))
        ));
        assert!(
            check_order(
                &[],
                SignatureParty::Shipper,
                now + Duration::minutes(6),
                now
            )
            .is_err()
        );
        assert!(
            check_order(
                &[],
                SignatureParty::Shipper,
                now + Duration::minutes(5),
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn seals_cover_their_part() {
        use SignatureParty::*;
        assert_eq!(sealed_by(&[], "collect"), None);
        assert_eq!(sealed_by(&[Shipper], "collect"), Some(Shipper));
        assert_eq!(sealed_by(&[Shipper, Carrier], "collect"), Some(Carrier));
        assert_eq!(sealed_by(&[Shipper, Carrier], "receive"), None);
        assert_eq!(
            sealed_by(&[Shipper, Carrier, Receiver], "reject"),
            Some(Receiver)
        );
        assert_eq!(sealed_by(&[Shipper, Carrier, Receiver], "dispose"), None);
        assert_eq!(sealed_by(&ORDER, "dispose"), Some(Disposal));
    }

    #[test]
    fn statuses_of_a_confirmation() {
        assert_eq!(confirmation_status(&[], false), "unconfirmed");
        assert_eq!(confirmation_status(&[], true), "unattended");
        assert_eq!(confirmation_status(&[false], true), "flagged");
        assert_eq!(confirmation_status(&[false, true], false), "confirmed");
    }
}
