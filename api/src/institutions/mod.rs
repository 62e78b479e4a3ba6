//! Sign-up, approval and the registry of waste-producing institutions.
//!
//! The rules (what a valid sign-up is, who may see or decide what, which status changes are
//! allowed) are plain functions here; `store` persists them.

pub mod store;

use yifei_contract::{FieldError, InstitutionStatus, LatLng, Role, SignUpRequest};

use crate::error::ApiError;

/// H3 resolution stored for each institution: cells of ~0.1 km^2 tell houses apart in a
/// village while still grouping a township's institutions under a few parent cells.
pub const H3_RESOLUTION: h3o::Resolution = h3o::Resolution::Nine;

/// Default collection interval (条例 Art.25, Shandong 2020: at most 48 h).
pub const DEFAULT_COLLECTION_INTERVAL_H: i32 = 48;

/// Default opening hours with a lunch break, as routing time windows (local time).
pub const DEFAULT_OPENING_HOURS: &str =
    r#"[{"from":"08:00","to":"12:00"},{"from":"14:00","to":"17:30"}]"#;

/// Validates a WGS-84 position and returns its H3 cell (h3o itself accepts latitude 200).
pub fn cell_of(loc: &LatLng, field: &str, errors: &mut Vec<FieldError>) -> Option<h3o::CellIndex> {
    let mut ok = true;
    if !loc.lat.is_finite() || !(-90.0..=90.0).contains(&loc.lat) {
        errors.push(fe(
            &format!("{field}.lat"),
            "must be a latitude within -90..=90",
        ));
        ok = false;
    }
    if !loc.lng.is_finite() || !(-180.0..=180.0).contains(&loc.lng) {
        errors.push(fe(
            &format!("{field}.lng"),
            "must be a longitude within -180..=180",
        ));
        ok = false;
    }
    if !ok {
        return None;
    }
    match h3o::LatLng::new(loc.lat, loc.lng) {
        Ok(ll) => Some(ll.to_cell(H3_RESOLUTION)),
        Err(_) => {
            errors.push(fe(field, "is not a valid position"));
            None
        }
    }
}

fn fe(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// Trims `value` and checks its length in characters.
fn text(field: &str, value: &str, min: usize, max: usize, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    let n = v.chars().count();
    if n < min {
        errors.push(fe(
            field,
            if min == 1 {
                "must not be empty"
            } else {
                "is too short"
            },
        ));
    } else if n > max {
        errors.push(fe(field, &format!("must be at most {max} characters")));
    } else if v.chars().any(char::is_control) {
        errors.push(fe(field, "must not contain control characters"));
    }
    v.to_owned()
}

/// A normalised login: lower case, 3..=64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn normalise_login(login: &str, field: &str, errors: &mut Vec<FieldError>) -> String {
    let l = login.trim().to_lowercase();
    let n = l.chars().count();
    if !(3..=64).contains(&n) {
        errors.push(fe(field, "must be 3 to 64 characters"));
    } else if !l
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        errors.push(fe(
            field,
            "may contain only letters, digits, '.', '_', '-', '@'",
        ));
    }
    l
}

/// Checks an optional email address (shape only; delivery proves the rest).
pub fn check_email(
    email: Option<&str>,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let e = email.map(str::trim).filter(|e| !e.is_empty())?;
    let valid = e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if !valid {
        errors.push(fe(field, "must be an email address like name@example.org"));
    }
    Some(e.to_owned())
}

/// Minutes after local midnight of `HH:MM`.
pub fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && s.trim().len() == 5)
        .then_some(h * 60 + m)
        .or((h == 24 && m == 0).then_some(1440))
}

/// Checks opening hours (at most 4 ordered, non-overlapping windows) and returns them as the
/// stored JSON text.
pub fn check_hours(
    w: &[yifei_contract::OpeningWindow],
    field: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    let mut last_end = 0;
    let mut ok = !w.is_empty() && w.len() <= 4;
    if !ok {
        errors.push(fe(field, "give 1 to 4 windows"));
    }
    for (i, win) in w.iter().enumerate() {
        match (parse_hhmm(&win.from), parse_hhmm(&win.to)) {
            (Some(a), Some(b)) if a < b && a >= last_end => last_end = b,
            _ => {
                if ok {
                    errors.push(fe(
                        &format!("{field}[{i}]"),
                        "windows are HH:MM-HH:MM, in order, not overlapping",
                    ));
                }
                ok = false;
            }
        }
    }
    serde_json::to_string(w).unwrap_or_else(|_| DEFAULT_OPENING_HOURS.to_owned())
}

/// A sign-up after validation and normalisation.
#[derive(Debug, Clone)]
pub struct ValidSignUp {
    pub req: SignUpRequest,
    pub cell: h3o::CellIndex,
    /// Opening hours as stored.
    pub hours: String,
}

/// Validates every field at once so that the form can show all mistakes together.
pub fn validate_sign_up(mut req: SignUpRequest) -> Result<ValidSignUp, ApiError> {
    let mut errors = Vec::new();
    req.name = text("name", &req.name, 1, 200, &mut errors);
    req.licence_no = text("licence_no", &req.licence_no, 4, 64, &mut errors).to_uppercase();
    if req.licence_no.chars().any(char::is_whitespace) {
        errors.push(fe("licence_no", "must not contain spaces"));
    }
    req.township = text("township", &req.township, 1, 100, &mut errors);
    req.village = text("village", &req.village, 0, 100, &mut errors);
    req.address = text("address", &req.address, 1, 300, &mut errors);
    if !(0..=10_000).contains(&req.beds) {
        errors.push(fe("beds", "must be between 0 and 10000"));
    }
    let cell = cell_of(&req.location, "location", &mut errors);
    req.contact.name = text("contact.name", &req.contact.name, 1, 100, &mut errors);
    req.contact.phone = req.contact.phone.trim().to_owned();
    let digits = req
        .contact
        .phone
        .chars()
        .filter(char::is_ascii_digit)
        .count();
    if !(5..=20).contains(&digits)
        || !req
            .contact
            .phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '(' | ')'))
    {
        errors.push(fe(
            "contact.phone",
            "must be a phone number of 5 to 20 digits",
        ));
    }
    req.contact.email = check_email(req.contact.email.as_deref(), "contact.email", &mut errors);
    req.account.login = normalise_login(&req.account.login, "account.login", &mut errors);
    if req.account.login.chars().count() > MAX_LOGIN_STEM {
        errors.push(fe(
            "account.login",
            &format!("must be at most {MAX_LOGIN_STEM} characters (a number is appended to it)"),
        ));
    }
    if let Some(why) = crate::auth::password::policy_violation(&req.account.password) {
        errors.push(fe("account.password", &why));
    }
    if req
        .signup_code
        .as_deref()
        .is_some_and(|c| crate::roster::normalise_code(c).is_none())
    {
        errors.push(fe("signup_code", "is not a valid sign-up code"));
    }
    let hours = match &req.opening_hours {
        Some(w) => check_hours(w, "opening_hours", &mut errors),
        None => DEFAULT_OPENING_HOURS.to_owned(),
    };
    match cell {
        Some(cell) if errors.is_empty() => Ok(ValidSignUp { req, cell, hours }),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The longest login a sign-up may ask for: the server appends `-` and up to eight digits.
pub const MAX_LOGIN_STEM: usize = 55;

/// The login a sign-up's account gets: the requested stem, `-`, and a random number
/// (`beimiaozi-4821`). Sign-up never uses the requested login as it is, so its answer is the
/// same whether that login is taken or free, and says nothing about which logins exist (a
/// staff login, say). Four digits normally; `wide` (eight) when four keep colliding.
pub fn login_with_number(stem: &str, random: u32, wide: bool) -> String {
    if wide {
        format!("{stem}-{:08}", random % 100_000_000)
    } else {
        format!("{stem}-{:04}", random % 10_000)
    }
}

/// Which institutions a caller may see; everything else answers 404.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Admin, or bureau staff of the whole county.
    All,
    /// Bureau staff of some townships.
    Townships(Vec<String>),
    /// Disposal-company roles: the institutions they serve (active or suspended).
    Served,
    /// Clinic staff: their own institution.
    Own(String),
    /// Hub keeper: their own institution and those delivering to it.
    Hub(String),
    /// An account without a tenant sees nothing.
    Nothing,
}

impl Scope {
    /// The scope of a caller; `townships` is the bureau's jurisdiction (empty = whole county).
    pub fn of(role: Role, tenant: Option<&str>, townships: Vec<String>) -> Scope {
        match (role, tenant) {
            (Role::Admin, _) => Scope::All,
            (Role::BureauStaff, _) if townships.is_empty() => Scope::All,
            (Role::BureauStaff, _) => Scope::Townships(townships),
            (Role::Dispatcher | Role::Driver | Role::PlantOperator, _) => Scope::Served,
            (Role::ClinicStaff, Some(t)) => Scope::Own(t.to_owned()),
            (Role::HubKeeper, Some(t)) => Scope::Hub(t.to_owned()),
            // A clinic account without an institution sees nothing.
            (Role::ClinicStaff | Role::HubKeeper, None) => Scope::Nothing,
        }
    }

    /// Refuses a `township` filter outside a bureau's jurisdiction (403: the caller asked for
    /// what its role may never see there; saying so leaks nothing, the jurisdiction is its
    /// own). Other scopes filter within what they see.
    pub fn check_township(&self, township: &str) -> Result<(), ApiError> {
        match self {
            Scope::Townships(t) if !t.iter().any(|x| x == township) => {
                Err(ApiError::Forbidden(format!(
                    "township {township} is outside your jurisdiction ({})",
                    t.join(", ")
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether an institution falls inside the scope.
    pub fn admits(
        &self,
        id: &str,
        township: &str,
        status: InstitutionStatus,
        hub_id: Option<&str>,
    ) -> bool {
        match self {
            Scope::All => true,
            Scope::Townships(t) => t.iter().any(|x| x == township),
            Scope::Served => matches!(
                status,
                InstitutionStatus::Active | InstitutionStatus::Suspended
            ),
            Scope::Own(own) => own == id,
            Scope::Hub(own) => own == id || hub_id == Some(own.as_str()),
            Scope::Nothing => false,
        }
    }
}

/// A registry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
    Suspend,
}

/// The status after `decision`, or why it is not allowed. Repeating a decision already in
/// effect is accepted (a retried request must not fail).
pub fn decide(
    current: InstitutionStatus,
    decision: Decision,
    reason: Option<&str>,
) -> Result<InstitutionStatus, ApiError> {
    use InstitutionStatus::*;
    let needs_reason = matches!(decision, Decision::Reject | Decision::Suspend);
    if needs_reason && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(ApiError::invalid("reason", "a reason is required"));
    }
    if reason.is_some_and(|r| r.chars().count() > 1000) {
        return Err(ApiError::invalid(
            "reason",
            "must be at most 1000 characters",
        ));
    }
    match (decision, current) {
        (Decision::Approve, Pending | Suspended | Active) => Ok(Active),
        (Decision::Reject, Pending | Rejected) => Ok(Rejected),
        (Decision::Suspend, Active | Suspended) => Ok(Suspended),
        (d, s) => Err(ApiError::Conflict(format!(
            "cannot {} an institution that is {}",
            match d {
                Decision::Approve => "approve",
                Decision::Reject => "reject",
                Decision::Suspend => "suspend",
            },
            status_str(s)
        ))),
    }
}

/// Roles that decide on sign-ups.
pub const DECIDERS: [Role; 2] = [Role::Admin, Role::BureauStaff];

/// Wire name of a status (also the stored value).
pub fn status_str(s: InstitutionStatus) -> &'static str {
    match s {
        InstitutionStatus::Pending => "pending",
        InstitutionStatus::Active => "active",
        InstitutionStatus::Rejected => "rejected",
        InstitutionStatus::Suspended => "suspended",
    }
}

/// Parses a stored or queried status.
pub fn parse_status(s: &str) -> Option<InstitutionStatus> {
    [
        InstitutionStatus::Pending,
        InstitutionStatus::Active,
        InstitutionStatus::Rejected,
        InstitutionStatus::Suspended,
    ]
    .into_iter()
    .find(|x| status_str(*x) == s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use yifei_contract::{Contact, InstitutionKind, NewAccount};

    fn sign_up() -> SignUpRequest {
        SignUpRequest {
            name: " 王家村卫生室 ".into(),
            kind: InstitutionKind::VillageHealthRoom,
            licence_no: "pdy-3701-0001".into(),
            township: "王庄镇".into(),
            village: "王家村".into(),
            address: "王家村12号".into(),
            location: LatLng {
                lat: 36.2,
                lng: 117.3,
            },
            beds: 0,
            contact: Contact {
                name: "王医生".into(),
                phone: "138 0000 0000".into(),
                email: None,
            },
            account: NewAccount {
                login: "WangJia".into(),
                password: "long enough pw".into(),
            },
            opening_hours: None,
            signup_code: None,
        }
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected validation, got {other:?}"),
        }
    }

    #[test]
    fn valid_sign_up_is_normalised() {
        let v = validate_sign_up(sign_up()).expect("valid");
        assert_eq!(v.req.name, "王家村卫生室");
        assert_eq!(v.req.licence_no, "PDY-3701-0001");
        assert_eq!(v.req.account.login, "wangjia");
        assert_eq!(v.cell.resolution(), H3_RESOLUTION);
    }

    #[test]
    fn sign_up_logins_get_a_number_and_stay_valid() {
        assert_eq!(login_with_number("wangjia", 48_213, false), "wangjia-8213");
        assert_eq!(login_with_number("wangjia", 7, false), "wangjia-0007");
        assert_eq!(login_with_number("wangjia", 7, true), "wangjia-00000007");
        let longest = "a".repeat(MAX_LOGIN_STEM);
        let mut errors = Vec::new();
        normalise_login(
            &login_with_number(&longest, u32::MAX, true),
            "l",
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let mut r = sign_up();
        r.account.login = "a".repeat(MAX_LOGIN_STEM + 1);
        assert_eq!(
            fields(validate_sign_up(r).expect_err("invalid")),
            ["account.login"]
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut r = sign_up();
        r.name = "  ".into();
        r.location = LatLng {
            lat: 200.0,
            lng: 117.0,
        };
        r.account.password = "short".into();
        r.contact.phone = "call me".into();
        r.contact.email = Some("nope".into());
        r.beds = -1;
        assert_eq!(
            fields(validate_sign_up(r).expect_err("invalid")),
            [
                "name",
                "beds",
                "location.lat",
                "contact.phone",
                "contact.email",
                "account.password"
            ]
        );
        let mut r = sign_up();
        r.location = LatLng {
            lat: 36.0,
            lng: f64::NAN,
        };
        r.account.login = "a b".into();
        assert_eq!(
            fields(validate_sign_up(r).expect_err("invalid")),
            ["location.lng", "account.login"]
        );
    }

    #[test]
    fn opening_hours() {
        use yifei_contract::OpeningWindow as W;
        let w = |a: &str, b: &str| W {
            from: a.into(),
            to: b.into(),
        };
        let mut e = Vec::new();
        check_hours(&[w("08:00", "12:00"), w("14:00", "17:30")], "h", &mut e);
        assert!(e.is_empty());
        check_hours(&[w("14:00", "12:00")], "h", &mut e);
        check_hours(&[w("08:00", "12:00"), w("11:00", "13:00")], "h", &mut e);
        check_hours(&[w("8:00", "12:00")], "h", &mut e);
        check_hours(&[], "h", &mut e);
        assert_eq!(e.len(), 4);
        assert_eq!(parse_hhmm("17:30"), Some(1050));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("25:00"), None);
    }

    #[test]
    fn scopes() {
        use InstitutionStatus::*;
        let s = Scope::of(Role::BureauStaff, Some("b"), vec!["王庄镇".into()]);
        assert!(s.admits("i", "王庄镇", Pending, None));
        assert!(!s.admits("i", "李集镇", Active, None));
        assert_eq!(Scope::of(Role::BureauStaff, Some("b"), vec![]), Scope::All);
        assert!(!Scope::of(Role::Driver, Some("c"), vec![]).admits("i", "x", Pending, None));
        assert!(Scope::of(Role::Driver, Some("c"), vec![]).admits("i", "x", Active, None));
        let own = Scope::of(Role::ClinicStaff, Some("i1"), vec![]);
        assert!(own.admits("i1", "x", Pending, None) && !own.admits("i2", "x", Active, None));
        let hub = Scope::of(Role::HubKeeper, Some("h"), vec![]);
        assert!(
            hub.admits("v", "x", Active, Some("h")) && !hub.admits("v", "x", Active, Some("z"))
        );
        assert!(!Scope::of(Role::ClinicStaff, None, vec![]).admits("", "x", Active, None));
        assert!(s.check_township("王庄镇").is_ok());
        assert!(matches!(
            s.check_township("石门镇"),
            Err(ApiError::Forbidden(_))
        ));
        assert!(Scope::All.check_township("石门镇").is_ok());
    }

    #[test]
    fn decisions() {
        use InstitutionStatus::*;
        assert_eq!(
            decide(Pending, Decision::Approve, None).expect("ok"),
            Active
        );
        assert_eq!(
            decide(Active, Decision::Approve, None).expect("idempotent"),
            Active
        );
        assert!(matches!(
            decide(Rejected, Decision::Approve, None),
            Err(ApiError::Conflict(_))
        ));
        assert!(matches!(
            decide(Pending, Decision::Reject, None),
            Err(ApiError::Validation(_))
        ));
        assert_eq!(
            decide(Pending, Decision::Reject, Some("no licence")).expect("ok"),
            Rejected
        );
        assert!(matches!(
            decide(Pending, Decision::Suspend, Some("x")),
            Err(ApiError::Conflict(_))
        ));
        assert_eq!(
            decide(Active, Decision::Suspend, Some("overdue")).expect("ok"),
            Suspended
        );
        for s in [Pending, Active, Rejected, Suspended] {
            assert_eq!(parse_status(status_str(s)), Some(s));
        }
    }
}
