//! The Yifei demo county (翼飞县, Yifei County, Shandong): data files and their typed loader.
//!
//! The county is fictional but shaped like a real rural county: twelve townships, a couple of
//! hundred villages around their seats, one township health centre per township acting as hub
//! (小箱进大箱) for the nearest village health rooms, private clinics, one disposal plant with its
//! fleet, a health bureau, an eco-environment bureau and demo users for every role.
//!
//! The data lives in pretty-printed JSON under `seed/data/` so that a newcomer can read it and a
//! reviewer can diff it. The files are produced by the `seed-gen` binary (module [`generate`])
//! from the fixed seed [`DEMO_SEED`]; a unit test regenerates them and compares byte for byte,
//! so the checked-in files and the generator never drift apart.
//!
//! The files are embedded with `include_str!` so that the `yifei` binary carries the county and
//! `yifei serve --demo` works from any directory. The types are deliberately plain (strings,
//! numbers, options, vectors): the API crate maps them onto its own domain types and database
//! rows, and this crate stays free of database, HTTP and wire-contract dependencies.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

pub mod generate;
mod names;

/// The password of every demo user (at least 10 characters, as the API demands).
///
/// It is public on purpose: the demo county is for trying Yifei out, never for production.
pub const DEMO_PASSWORD: &str = "yifei-demo-2026";

/// The seed the checked-in data files were generated from.
pub const DEMO_SEED: u64 = 36_117;

/// Institution kinds (DESIGN.md section 3), as they appear in [`InstitutionSeed::kind`].
pub const INSTITUTION_KINDS: [&str; 4] = [
    "township_health_centre",
    "village_health_room",
    "clinic",
    "other",
];

/// Registry statuses used by the seed, as they appear in [`InstitutionSeed::status`].
pub const INSTITUTION_STATUSES: [&str; 2] = ["active", "pending"];

/// Service modes, as they appear in [`InstitutionSeed::service_mode`].
pub const SERVICE_MODES: [&str; 2] = ["direct", "via_hub"];

/// Organisation kinds, as they appear in [`Organisation::kind`].
///
/// `eco_environment_bureau` (生态环境分局) is a regulator like the health bureau: its staff are
/// `bureau_staff` with read access over its townships.
pub const ORGANISATION_KINDS: [&str; 3] = [
    "disposal_company",
    "health_bureau",
    "eco_environment_bureau",
];

/// User roles, as they appear in [`UserSeed::role`].
pub const ROLES: [&str; 7] = [
    "admin",
    "bureau_staff",
    "dispatcher",
    "driver",
    "plant_operator",
    "clinic_staff",
    "hub_keeper",
];

/// Radius (km) around its township seat inside which every village and institution lies.
pub const MAX_KM_FROM_SEAT: f64 = 15.0;

/// The data files, by file name, exactly as checked in under `seed/data/`.
pub const FILES: [(&str, &str); 6] = [
    ("county.json", include_str!("../data/county.json")),
    (
        "organisations.json",
        include_str!("../data/organisations.json"),
    ),
    ("townships.json", include_str!("../data/townships.json")),
    (
        "institutions.json",
        include_str!("../data/institutions.json"),
    ),
    ("vehicles.json", include_str!("../data/vehicles.json")),
    ("users.json", include_str!("../data/users.json")),
];

/// Why the demo county could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A data file is not valid JSON of the expected shape.
    #[error("seed file {file}: {source}")]
    Parse {
        /// File name under `seed/data/`.
        file: &'static str,
        /// What serde_json found.
        #[source]
        source: serde_json::Error,
    },
    /// The data parsed but breaks a rule of the county (duplicate id, dangling reference, ...).
    #[error("demo county is inconsistent: {}", problems.join("; "))]
    Invalid {
        /// Every problem found, one sentence each.
        problems: Vec<String>,
    },
    /// The generator could not place something (it gave up after many attempts).
    #[error("generator: {0}")]
    Generate(String),
    /// Serialising a data file failed.
    #[error("serialising {file}: {source}")]
    Serialise {
        /// File name under `seed/data/`.
        file: &'static str,
        /// What serde_json found.
        #[source]
        source: serde_json::Error,
    },
}

/// The whole demo county: what `yifei serve --demo` loads into an empty database.
#[derive(Debug, Clone, PartialEq)]
pub struct County {
    /// Chinese name, `翼飞县`.
    pub name: String,
    /// English name, `Yifei County`.
    pub name_en: String,
    /// Province, `山东省`.
    pub province: String,
    /// IANA time zone of the deployment: days and opening hours are local to it.
    pub timezone: String,
    /// Seed the files were generated from (documentation; the data is what counts).
    pub seed: u64,
    /// The county seat (县城), the centre of 城关镇.
    pub seat: Point,
    /// Bounding box of the county: every position of the seed lies inside.
    pub bounds: Bounds,
    /// The disposal plant: depot of every vehicle, where runs start and end.
    pub plant: Site,
    /// Disposal company and bureaus.
    pub organisations: Vec<Organisation>,
    /// Townships (镇/乡) with their villages (村).
    pub townships: Vec<Township>,
    /// Waste producers.
    pub institutions: Vec<InstitutionSeed>,
    /// The disposal company's fleet.
    pub vehicles: Vec<VehicleSeed>,
    /// Demo users of every role; all log in with [`DEMO_PASSWORD`].
    pub users: Vec<UserSeed>,
}

/// `county.json`: the county's own facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountyHeader {
    /// Chinese name.
    pub name: String,
    /// English name.
    pub name_en: String,
    /// Province.
    pub province: String,
    /// IANA time zone.
    pub timezone: String,
    /// Generator seed.
    pub seed: u64,
    /// County seat.
    pub seat: Point,
    /// Bounding box.
    pub bounds: Bounds,
    /// Disposal plant.
    pub plant: Site,
}

/// A WGS-84 position in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
}

/// A latitude/longitude box in degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bounds {
    /// Southern edge.
    pub min_lat: f64,
    /// Northern edge.
    pub max_lat: f64,
    /// Western edge.
    pub min_lng: f64,
    /// Eastern edge.
    pub max_lng: f64,
}

impl Bounds {
    /// Whether the position lies inside the box (edges included).
    pub fn contains(&self, lat: f64, lng: f64) -> bool {
        (self.min_lat..=self.max_lat).contains(&lat) && (self.min_lng..=self.max_lng).contains(&lng)
    }
}

/// A named place with an address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lng: f64,
}

/// An organisation that is not a waste producer: the disposal company or a bureau.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// Stable UUID.
    pub id: String,
    /// One of [`ORGANISATION_KINDS`].
    pub kind: String,
    /// Chinese name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Latitude of its office or plant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Longitude of its office or plant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lng: Option<f64>,
    /// Townships it covers; empty means the whole county.
    pub townships: Vec<String>,
}

/// A township (镇 or 乡) and its villages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Township {
    /// Chinese name, e.g. `石门镇`; institutions refer to it by this name.
    pub name: String,
    /// Pinyin of the name without tones, e.g. `shimen`.
    pub pinyin: String,
    /// Latitude of the township seat (镇政府驻地).
    pub seat_lat: f64,
    /// Longitude of the township seat.
    pub seat_lng: f64,
    /// Villages (行政村), not counting the seat itself.
    pub villages: Vec<Village>,
}

/// A village (行政村).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Village {
    /// Chinese name, unique in the county, e.g. `张家庄村`.
    pub name: String,
    /// Latitude of the village centre.
    pub lat: f64,
    /// Longitude of the village centre.
    pub lng: f64,
}

/// A waste-producing institution, as the registry would hold it after sign-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstitutionSeed {
    /// Stable UUID.
    pub id: String,
    /// Chinese name, unique in the county.
    pub name: String,
    /// One of [`INSTITUTION_KINDS`].
    pub kind: String,
    /// Practising licence number (医疗机构执业许可证登记号), unique.
    pub licence_no: String,
    /// Township name (a [`Township::name`]).
    pub township: String,
    /// Village name (a [`Village::name`] of that township); empty in the township seat.
    pub village: String,
    /// Postal address.
    pub address: String,
    /// Latitude of the hand-over door.
    pub lat: f64,
    /// Longitude of the hand-over door.
    pub lng: f64,
    /// Beds (0 for village rooms and clinics).
    pub beds: i32,
    /// Responsible contact.
    pub contact: ContactSeed,
    /// One of [`SERVICE_MODES`].
    pub service_mode: String,
    /// Id of the township health centre it delivers to, when `service_mode` is `via_hub`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_id: Option<String>,
    /// Maximum hours between collections: 24 for health centres, 48 otherwise.
    pub collection_interval_h: i32,
    /// Local opening hours, the time windows for collection.
    pub opening_hours: Vec<TimeWindow>,
    /// One of [`INSTITUTION_STATUSES`]; three are `pending` so that approval can be demonstrated.
    pub status: String,
    /// Typical waste produced per day (kg), for seeding containers with realistic weights.
    pub waste_kg_per_day: f64,
}

/// A contact person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSeed {
    /// Full name.
    pub name: String,
    /// 11-digit mobile number.
    pub phone: String,
    /// Email for alerts, when the institution has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// A local time window, `HH:MM` to `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeWindow {
    /// Opening time, `HH:MM`.
    pub from: String,
    /// Closing time, `HH:MM`, after `from`.
    pub to: String,
}

/// A collection vehicle of the disposal company; its depot is the plant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VehicleSeed {
    /// Stable UUID.
    pub id: String,
    /// Number plate, e.g. `鲁J·A1234`.
    pub plate: String,
    /// Payload in kilograms.
    pub capacity_kg: i32,
    /// Turnover boxes (周转箱) it carries.
    pub capacity_units: i32,
    /// Refrigerated body (for pathological waste and long runs in summer).
    pub refrigerated: bool,
    /// Local shift start, `HH:MM`.
    pub shift_start: String,
    /// Local shift end, `HH:MM`.
    pub shift_end: String,
    /// Login of its usual driver (a [`UserSeed`] with role `driver`).
    pub driver_login: String,
}

/// A demo user; every one logs in with [`DEMO_PASSWORD`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSeed {
    /// Stable UUID.
    pub id: String,
    /// ASCII login.
    pub login: String,
    /// One of [`ROLES`].
    pub role: String,
    /// Organisation id (company, bureau) or institution id (clinic staff, hub keeper); none for
    /// the admin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_id: Option<String>,
    /// Chinese display name.
    pub display_name: String,
    /// Email address (example.org).
    pub email: String,
    /// Mobile number, for drivers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// What to try with this login, for the demo banner.
    pub note: String,
}

/// Loads the embedded demo county and checks it with [`County::validate`].
pub fn demo_county() -> Result<County, SeedError> {
    let county = County::from_files(&FILES)?;
    county.validate()?;
    Ok(county)
}

fn parse<T: for<'de> Deserialize<'de>>(
    files: &[(&'static str, &str)],
    file: &'static str,
) -> Result<T, SeedError> {
    let text = files
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
        .ok_or_else(|| SeedError::Invalid {
            problems: vec![format!("missing data file {file}")],
        })?;
    serde_json::from_str(text).map_err(|source| SeedError::Parse { file, source })
}

fn render<T: Serialize>(
    file: &'static str,
    value: &T,
) -> Result<(&'static str, String), SeedError> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|source| SeedError::Serialise { file, source })?;
    text.push('\n');
    Ok((file, text))
}

impl County {
    /// Parses a county from `(file name, contents)` pairs laid out like [`FILES`]; no checks.
    pub fn from_files(files: &[(&'static str, &str)]) -> Result<County, SeedError> {
        let header: CountyHeader = parse(files, "county.json")?;
        Ok(County {
            name: header.name,
            name_en: header.name_en,
            province: header.province,
            timezone: header.timezone,
            seed: header.seed,
            seat: header.seat,
            bounds: header.bounds,
            plant: header.plant,
            organisations: parse(files, "organisations.json")?,
            townships: parse(files, "townships.json")?,
            institutions: parse(files, "institutions.json")?,
            vehicles: parse(files, "vehicles.json")?,
            users: parse(files, "users.json")?,
        })
    }

    /// Renders the county as the data files: pretty-printed JSON, one trailing newline each.
    pub fn to_files(&self) -> Result<Vec<(&'static str, String)>, SeedError> {
        let header = CountyHeader {
            name: self.name.clone(),
            name_en: self.name_en.clone(),
            province: self.province.clone(),
            timezone: self.timezone.clone(),
            seed: self.seed,
            seat: self.seat,
            bounds: self.bounds,
            plant: self.plant.clone(),
        };
        Ok(vec![
            render("county.json", &header)?,
            render("organisations.json", &self.organisations)?,
            render("townships.json", &self.townships)?,
            render("institutions.json", &self.institutions)?,
            render("vehicles.json", &self.vehicles)?,
            render("users.json", &self.users)?,
        ])
    }

    /// The township of that name.
    pub fn township(&self, name: &str) -> Option<&Township> {
        self.townships.iter().find(|t| t.name == name)
    }

    /// The institution with that id.
    pub fn institution(&self, id: &str) -> Option<&InstitutionSeed> {
        self.institutions.iter().find(|i| i.id == id)
    }

    /// The first organisation of that kind (`disposal_company`, `health_bureau`, ...).
    pub fn organisation_of_kind(&self, kind: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.kind == kind)
    }

    /// The user with that login.
    pub fn user(&self, login: &str) -> Option<&UserSeed> {
        self.users.iter().find(|u| u.login == login)
    }

    /// Checks every rule the API relies on when it loads the county, and reports all breaches.
    ///
    /// Rules: known kinds, statuses, modes and roles; UUID ids unique across the county; unique
    /// licence numbers, institution names, logins and plates; every position valid, inside
    /// [`County::bounds`] and within [`MAX_KM_FROM_SEAT`] of its township seat; every township
    /// and village referred to exists; a `via_hub` institution's hub is an active township health
    /// centre of the same township and a `direct` one has no hub; opening hours and shifts are
    /// well-formed; each user's organisation exists and suits the role; each vehicle's driver is
    /// a driver.
    pub fn validate(&self) -> Result<(), SeedError> {
        let mut p: Vec<String> = Vec::new();
        let b = self.bounds;
        if self.timezone.is_empty() {
            p.push("timezone is empty".into());
        }
        let box_ok = b.min_lat < b.max_lat
            && b.min_lng < b.max_lng
            && valid_lat_lng(b.min_lat, b.min_lng)
            && valid_lat_lng(b.max_lat, b.max_lng);
        if !box_ok {
            p.push("bounds are not a valid box".into());
        }
        {
            let mut place = |what: &str, lat: f64, lng: f64| {
                if !valid_lat_lng(lat, lng) {
                    p.push(format!("{what}: invalid position {lat},{lng}"));
                } else if !b.contains(lat, lng) {
                    p.push(format!("{what}: position {lat},{lng} outside the county"));
                }
            };
            place("county seat", self.seat.lat, self.seat.lng);
            place("plant", self.plant.lat, self.plant.lng);
            for t in &self.townships {
                place(&t.name, t.seat_lat, t.seat_lng);
                for v in &t.villages {
                    place(&v.name, v.lat, v.lng);
                }
            }
            for i in &self.institutions {
                place(&i.name, i.lat, i.lng);
            }
            for o in &self.organisations {
                match (o.lat, o.lng) {
                    (Some(lat), Some(lng)) => place(&o.name, lat, lng),
                    (None, None) => {}
                    (Some(_), None) | (None, Some(_)) => {
                        place(&o.name, f64::NAN, f64::NAN);
                    }
                }
            }
        }

        {
            let mut ids = HashSet::new();
            let mut id = |what: &str, id: &str| {
                if uuid::Uuid::parse_str(id).is_err() {
                    p.push(format!("{what}: id {id} is not a UUID"));
                } else if !ids.insert(id.to_owned()) {
                    p.push(format!("{what}: duplicate id {id}"));
                }
            };
            for o in &self.organisations {
                id(&o.name, &o.id);
            }
            for i in &self.institutions {
                id(&i.name, &i.id);
            }
            for v in &self.vehicles {
                id(&v.plate, &v.id);
            }
            for u in &self.users {
                id(&u.login, &u.id);
            }
        }

        let mut township_names = HashSet::new();
        let mut village_names = HashSet::new();
        for t in &self.townships {
            if !township_names.insert(t.name.as_str()) {
                p.push(format!("duplicate township {}", t.name));
            }
            for v in &t.villages {
                if !village_names.insert(v.name.as_str()) {
                    p.push(format!("duplicate village {}", v.name));
                }
                let d = distance_km(t.seat_lat, t.seat_lng, v.lat, v.lng);
                if d > MAX_KM_FROM_SEAT {
                    p.push(format!("{}: {d:.1} km from the seat of {}", v.name, t.name));
                }
            }
        }
        for o in &self.organisations {
            if !ORGANISATION_KINDS.contains(&o.kind.as_str()) {
                p.push(format!("{}: unknown organisation kind {}", o.name, o.kind));
            }
            for t in &o.townships {
                if !township_names.contains(t.as_str()) {
                    p.push(format!("{}: unknown township {t}", o.name));
                }
            }
        }

        let by_id: HashMap<&str, &InstitutionSeed> = self
            .institutions
            .iter()
            .map(|i| (i.id.as_str(), i))
            .collect();
        let mut licences = HashSet::new();
        let mut names = HashSet::new();
        for i in &self.institutions {
            let n = &i.name;
            if !licences.insert(i.licence_no.as_str()) {
                p.push(format!("{n}: duplicate licence {}", i.licence_no));
            }
            if !names.insert(i.name.as_str()) {
                p.push(format!("duplicate institution name {n}"));
            }
            if !INSTITUTION_KINDS.contains(&i.kind.as_str()) {
                p.push(format!("{n}: unknown kind {}", i.kind));
            }
            if !INSTITUTION_STATUSES.contains(&i.status.as_str()) {
                p.push(format!("{n}: unknown status {}", i.status));
            }
            match self.township(&i.township) {
                None => p.push(format!("{n}: unknown township {}", i.township)),
                Some(t) => {
                    if !i.village.is_empty() && !t.villages.iter().any(|v| v.name == i.village) {
                        p.push(format!("{n}: no village {} in {}", i.village, t.name));
                    }
                    let d = distance_km(t.seat_lat, t.seat_lng, i.lat, i.lng);
                    if d > MAX_KM_FROM_SEAT {
                        p.push(format!("{n}: {d:.1} km from the seat of {}", t.name));
                    }
                }
            }
            if i.beds < 0 {
                p.push(format!("{n}: negative beds"));
            }
            if i.collection_interval_h <= 0 || i.collection_interval_h > 48 {
                p.push(format!(
                    "{n}: collection interval {} h",
                    i.collection_interval_h
                ));
            }
            if !(i.waste_kg_per_day > 0.0 && i.waste_kg_per_day.is_finite()) {
                p.push(format!("{n}: waste per day must be positive"));
            }
            if i.contact.name.is_empty() || !valid_mobile(&i.contact.phone) {
                p.push(format!("{n}: contact needs a name and an 11-digit mobile"));
            }
            if let Err(e) = check_windows(&i.opening_hours) {
                p.push(format!("{n}: opening hours {e}"));
            }
            match (i.service_mode.as_str(), &i.hub_id) {
                ("direct", None) => {}
                ("via_hub", Some(hub_id)) => match by_id.get(hub_id.as_str()) {
                    None => p.push(format!("{n}: unknown hub {hub_id}")),
                    Some(hub) => {
                        if hub.kind != "township_health_centre"
                            || hub.township != i.township
                            || hub.status != "active"
                            || hub.service_mode != "direct"
                        {
                            p.push(format!(
                                "{n}: hub {} is not an active health centre of {}",
                                hub.name, i.township
                            ));
                        }
                    }
                },
                (mode, hub) => p.push(format!("{n}: service mode {mode} with hub {hub:?}")),
            }
        }

        let orgs: HashMap<&str, &Organisation> = self
            .organisations
            .iter()
            .map(|o| (o.id.as_str(), o))
            .collect();
        let mut logins = HashSet::new();
        for u in &self.users {
            let l = &u.login;
            if !logins.insert(l.as_str()) {
                p.push(format!("duplicate login {l}"));
            }
            if l.len() < 3
                || !l
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c))
            {
                p.push(format!("login {l} is not 3+ ASCII letters, digits or .-_@"));
            }
            if !u.email.ends_with("@example.org") {
                p.push(format!(
                    "{l}: email {} is not an example.org address",
                    u.email
                ));
            }
            let org_kind = u
                .org_id
                .as_deref()
                .and_then(|id| orgs.get(id))
                .map(|o| o.kind.as_str());
            let inst = u.org_id.as_deref().and_then(|id| by_id.get(id));
            let fits = match u.role.as_str() {
                "admin" => u.org_id.is_none(),
                "bureau_staff" => {
                    matches!(org_kind, Some("health_bureau" | "eco_environment_bureau"))
                }
                "dispatcher" | "driver" | "plant_operator" => org_kind == Some("disposal_company"),
                "clinic_staff" => inst.is_some(),
                "hub_keeper" => inst.is_some_and(|i| i.kind == "township_health_centre"),
                other => {
                    p.push(format!("{l}: unknown role {other}"));
                    true
                }
            };
            if !fits {
                p.push(format!(
                    "{l}: organisation {:?} does not suit role {}",
                    u.org_id, u.role
                ));
            }
        }

        let mut plates = HashSet::new();
        let mut drivers = HashSet::new();
        for v in &self.vehicles {
            if !plates.insert(v.plate.as_str()) {
                p.push(format!("duplicate plate {}", v.plate));
            }
            if v.capacity_kg <= 0 || v.capacity_units <= 0 {
                p.push(format!("{}: capacity must be positive", v.plate));
            }
            let shift = [TimeWindow {
                from: v.shift_start.clone(),
                to: v.shift_end.clone(),
            }];
            if let Err(e) = check_windows(&shift) {
                p.push(format!("{}: shift {e}", v.plate));
            }
            let driver = self.user(&v.driver_login);
            if driver.is_none_or(|u| u.role != "driver") {
                p.push(format!("{}: {} is not a driver", v.plate, v.driver_login));
            }
            if !drivers.insert(v.driver_login.as_str()) {
                p.push(format!("{} drives two vehicles", v.driver_login));
            }
        }

        if p.is_empty() {
            Ok(())
        } else {
            Err(SeedError::Invalid { problems: p })
        }
    }
}

fn valid_lat_lng(lat: f64, lng: f64) -> bool {
    lat.is_finite()
        && lng.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lng)
}

fn valid_mobile(phone: &str) -> bool {
    phone.len() == 11
        && phone.bytes().all(|b| b.is_ascii_digit())
        && ["13", "15", "18"].iter().any(|p| phone.starts_with(p))
}

/// Minutes since midnight of an `HH:MM` string.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

/// Non-empty, well-formed, each window non-empty, in order and not overlapping.
fn check_windows(windows: &[TimeWindow]) -> Result<(), String> {
    if windows.is_empty() {
        return Err("are empty".into());
    }
    let mut last_end = None;
    for w in windows {
        let (Some(from), Some(to)) = (minutes(&w.from), minutes(&w.to)) else {
            return Err(format!("{}-{} is not HH:MM-HH:MM", w.from, w.to));
        };
        if from >= to || last_end.is_some_and(|end| from < end) {
            return Err(format!("{}-{} is empty or out of order", w.from, w.to));
        }
        last_end = Some(to);
    }
    Ok(())
}

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0088 * a.sqrt().asin()
}
