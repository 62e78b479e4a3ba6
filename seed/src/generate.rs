//! The generator of the demo county: a pure function of the seed.
//!
//! Randomness comes from ChaCha8 (`rand_chacha`), whose output for a given seed is fixed by the
//! cipher and documented as portable and reproducible. Each part of the county draws from its own
//! ChaCha stream, so that changing, say, the fleet leaves the villages where they are. Positions
//! are computed with plain arithmetic and `sqrt` (no trigonometry, whose last bits may differ
//! between platforms) and rounded to 6 decimals (about 0.1 m), so the files are byte-identical on
//! every machine.
//!
//! Ids are UUID v5 of a fixed namespace and a stable key (`institution:` + licence number,
//! `user:` + login, ...), so an id changes only when what it names changes.

use std::collections::HashSet;

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use uuid::Uuid;

use crate::names::*;
use crate::{
    Bounds, ContactSeed, County, InstitutionSeed, Organisation, Point, SeedError, Site, TimeWindow,
    Township, UserSeed, VehicleSeed, Village,
};

/// Namespace of the UUID v5 ids of the demo county.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x7969_6665_692d_5eed_8000_0000_0000_0001);

/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 111.0;
/// Kilometres per degree of longitude at 36.3° N (111.32 km × cos 36.3°).
const KM_PER_DEG_LNG: f64 = 89.7;
/// Licence numbers: `PDY` + this fictional county code + township, kind and sequence digits.
const COUNTY_CODE: &str = "370999";
/// Number of private clinics.
const CLINICS: usize = 18;
/// Share of village health rooms delivering to their hub (the nearest ones).
const VIA_HUB_SHARE: f64 = 1.0 / 3.0;
/// The township of the demo logins (health centre, hub keeper, village room, clinic).
const DEMO_TOWNSHIP: usize = 1;

/// Generates the demo county and renders its data files (name under `seed/data/`, contents).
pub fn generate(seed: u64) -> Result<Vec<(&'static str, String)>, SeedError> {
    build(seed)?.to_files()
}

/// Generates the demo county from `seed`. Deterministic: same seed, same county.
pub fn build(seed: u64) -> Result<County, SeedError> {
    let bounds = Bounds {
        min_lat: 36.03,
        max_lat: 36.56,
        min_lng: 117.12,
        max_lng: 117.70,
    };
    let mut phones = Phones::default();
    let townships = villages(&mut Draw::new(seed, 1), bounds)?;
    let institutions = institutions(&mut Draw::new(seed, 2), &townships, &mut phones)?;
    let seat = Point {
        lat: townships[0].seat_lat,
        lng: townships[0].seat_lng,
    };
    let plant = Site {
        name: "翼飞县医疗废物集中处置中心".into(),
        address: "山东省翼飞县柳泉镇循环经济产业园环保路6号".into(),
        lat: 36.352_318,
        lng: 117.468_204,
    };
    let all_townships: Vec<String> = townships.iter().map(|t| t.name.clone()).collect();
    let organisations = vec![
        Organisation {
            id: id("organisation", "disposal_company"),
            kind: "disposal_company".into(),
            name: "翼飞县医疗废物集中处置有限公司".into(),
            address: plant.address.clone(),
            lat: Some(plant.lat),
            lng: Some(plant.lng),
            townships: all_townships.clone(),
        },
        Organisation {
            id: id("organisation", "health_bureau"),
            kind: "health_bureau".into(),
            name: "翼飞县卫生健康局".into(),
            address: "山东省翼飞县城关镇府前街12号".into(),
            lat: Some(36.301_254),
            lng: Some(117.402_517),
            townships: Vec::new(),
        },
        Organisation {
            id: id("organisation", "eco_environment_bureau"),
            kind: "eco_environment_bureau".into(),
            name: "市生态环境局翼飞分局".into(),
            address: "山东省翼飞县城关镇新华路88号".into(),
            lat: Some(36.297_903),
            lng: Some(117.406_116),
            townships: all_townships,
        },
    ];
    let (vehicles, users) = fleet_and_users(
        &mut Draw::new(seed, 3),
        &organisations,
        &institutions,
        &mut phones,
    )?;
    Ok(County {
        name: "翼飞县".into(),
        name_en: "Yifei County".into(),
        province: "山东省".into(),
        timezone: "Asia/Shanghai".into(),
        seed,
        seat,
        bounds,
        plant,
        organisations,
        townships,
        institutions,
        vehicles,
        users,
    })
}

/// UUID v5 of the county namespace and `kind:key`.
fn id(kind: &str, key: &str) -> String {
    Uuid::new_v5(&ID_NAMESPACE, format!("{kind}:{key}").as_bytes()).to_string()
}

/// Seeded draws: thin helpers over one ChaCha8 stream.
struct Draw(ChaCha8Rng);

impl Draw {
    fn new(seed: u64, stream: u64) -> Draw {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream);
        Draw(rng)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is below 2^-32 for these small `n`).
    fn below(&mut self, n: usize) -> usize {
        ((u64::from(self.0.next_u32()) * n as u64) >> 32) as usize
    }

    /// Uniform in `lo..=hi`.
    fn int(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below((hi - lo + 1) as usize) as i32
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn person(&mut self) -> String {
        format!("{}{}", self.pick(&SURNAMES), self.pick(&GIVEN_NAMES))
    }

    /// A point `min_km..=max_km` from `(lat, lng)` in a uniformly random direction.
    fn around(&mut self, lat: f64, lng: f64, min_km: f64, max_km: f64) -> (f64, f64) {
        loop {
            let (dx, dy) = (self.float(-max_km, max_km), self.float(-max_km, max_km));
            let d = (dx * dx + dy * dy).sqrt();
            if (min_km..=max_km).contains(&d) {
                return (
                    round6(lat + dy / KM_PER_DEG_LAT),
                    round6(lng + dx / KM_PER_DEG_LNG),
                );
            }
        }
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Flat-earth distance in km, good to a few metres over a county; arithmetic only.
fn km(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let dy = (lat2 - lat1) * KM_PER_DEG_LAT;
    let dx = (lng2 - lng1) * KM_PER_DEG_LNG;
    (dx * dx + dy * dy).sqrt()
}

/// Unique mobile numbers.
#[derive(Default)]
struct Phones(HashSet<String>);

impl Phones {
    fn draw(&mut self, d: &mut Draw) -> String {
        loop {
            let phone = format!("{}{:08}", d.pick(&MOBILE_PREFIXES), d.below(100_000_000));
            if self.0.insert(phone.clone()) {
                return phone;
            }
        }
    }
}

/// Townships with their villages, each village nearer its own seat than any other.
fn villages(d: &mut Draw, bounds: Bounds) -> Result<Vec<Township>, SeedError> {
    let seats: Vec<(f64, f64)> = TOWNSHIPS.iter().map(|t| (t.2, t.3)).collect();
    let mut used: HashSet<String> = HashSet::new();
    let mut placed: Vec<(f64, f64)> = Vec::new();
    let mut townships = Vec::new();
    for (ti, &(name, pinyin, seat_lat, seat_lng)) in TOWNSHIPS.iter().enumerate() {
        // The county seat town is mostly urban: fewer villages.
        let count = if ti == 0 { d.int(9, 11) } else { d.int(13, 19) };
        let mut villages = Vec::new();
        let mut attempts = 0;
        while villages.len() < count as usize {
            attempts += 1;
            if attempts > 100_000 {
                return Err(SeedError::Generate(format!(
                    "cannot place villages in {name}"
                )));
            }
            let village = village_name(d);
            if used.contains(&village) {
                continue;
            }
            let (lat, lng) = d.around(seat_lat, seat_lng, 1.2, 7.0);
            let own = km(seat_lat, seat_lng, lat, lng);
            let nearest_other = seats
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != ti)
                .map(|(_, s)| km(s.0, s.1, lat, lng))
                .fold(f64::INFINITY, f64::min);
            let crowded = placed.iter().any(|p| km(p.0, p.1, lat, lng) < 0.8);
            let inside = bounds.contains(lat, lng)
                && lat - 0.005 > bounds.min_lat
                && lat + 0.005 < bounds.max_lat
                && lng - 0.005 > bounds.min_lng
                && lng + 0.005 < bounds.max_lng;
            if own + 1.0 > nearest_other || crowded || !inside {
                continue;
            }
            used.insert(village.clone());
            placed.push((lat, lng));
            villages.push(Village {
                name: village,
                lat,
                lng,
            });
        }
        townships.push(Township {
            name: name.into(),
            pinyin: pinyin.into(),
            seat_lat,
            seat_lng,
            villages,
        });
    }
    Ok(townships)
}

fn village_name(d: &mut Draw) -> String {
    if d.chance(0.6) {
        format!(
            "{}{}村",
            d.pick(&SURNAMES),
            d.pick(&SURNAME_VILLAGE_ENDINGS)
        )
    } else {
        format!(
            "{}{}村",
            d.pick(&VILLAGE_PREFIXES),
            d.pick(&VILLAGE_FEATURES)
        )
    }
}

fn window(from: &str, to: &str) -> TimeWindow {
    TimeWindow {
        from: from.into(),
        to: to.into(),
    }
}

/// Opening hours of health centres (for waste hand-over; the wards run day and night).
fn centre_hours() -> Vec<TimeWindow> {
    vec![window("08:00", "12:00"), window("13:30", "17:30")]
}

fn room_hours(d: &mut Draw) -> Vec<TimeWindow> {
    match d.below(3) {
        0 => vec![window("08:00", "12:00"), window("14:00", "17:30")],
        1 => vec![window("07:30", "11:30"), window("13:30", "17:00")],
        _ => vec![window("08:00", "11:30"), window("14:30", "18:00")],
    }
}

fn clinic_hours(d: &mut Draw) -> Vec<TimeWindow> {
    match d.below(3) {
        0 => vec![window("08:00", "12:00"), window("14:00", "18:00")],
        1 => vec![window("08:00", "12:00"), window("13:30", "18:30")],
        _ => vec![window("08:30", "18:00")],
    }
}

/// Licence number: `PDY`, county code, township (2 digits), kind (1), sequence (3).
fn licence(township: usize, kind: u8, seq: usize) -> String {
    format!("PDY{COUNTY_CODE}{:02}{kind}{seq:03}", township + 1)
}

struct Inst<'a> {
    name: String,
    kind: &'static str,
    licence_no: String,
    township: &'a Township,
    village: String,
    address: String,
    pos: (f64, f64),
    beds: i32,
    contact: ContactSeed,
    hours: Vec<TimeWindow>,
    waste: f64,
}

impl Inst<'_> {
    fn seed(self) -> InstitutionSeed {
        InstitutionSeed {
            id: id("institution", &self.licence_no),
            name: self.name,
            kind: self.kind.into(),
            licence_no: self.licence_no,
            township: self.township.name.clone(),
            village: self.village,
            address: self.address,
            lat: self.pos.0,
            lng: self.pos.1,
            beds: self.beds,
            contact: self.contact,
            service_mode: "direct".into(),
            hub_id: None,
            collection_interval_h: if self.kind == "township_health_centre" {
                24
            } else {
                48
            },
            opening_hours: self.hours,
            status: "active".into(),
            waste_kg_per_day: round2(self.waste),
        }
    }
}

/// Health centres, village rooms, clinics and others; hubs assigned; three left pending.
fn institutions(
    d: &mut Draw,
    townships: &[Township],
    phones: &mut Phones,
) -> Result<Vec<InstitutionSeed>, SeedError> {
    let mut out: Vec<InstitutionSeed> = Vec::new();
    let street_address = |d: &mut Draw, t: &Township| {
        format!(
            "山东省翼飞县{}{}{}号",
            t.name,
            d.pick(&STREETS),
            d.int(1, 199)
        )
    };

    // One health centre per township, in its seat: the hub of the township.
    let mut centre_ids = Vec::new();
    for (ti, t) in townships.iter().enumerate() {
        let beds = if ti == 0 {
            d.int(60, 80)
        } else {
            d.int(20, 70)
        };
        let waste = (f64::from(beds) * d.float(0.12, 0.2)).clamp(3.0, 15.0);
        let contact = ContactSeed {
            name: d.person(),
            phone: phones.draw(d),
            email: Some(format!("{}wsy@example.org", t.pinyin)),
        };
        let inst = Inst {
            name: format!("{}卫生院", t.name),
            kind: "township_health_centre",
            licence_no: licence(ti, 1, 1),
            township: t,
            village: String::new(),
            address: street_address(d, t),
            pos: d.around(t.seat_lat, t.seat_lng, 0.05, 0.3),
            beds,
            contact,
            hours: centre_hours(),
            waste,
        }
        .seed();
        centre_ids.push(inst.id.clone());
        out.push(inst);
    }

    // Village health rooms in most villages; the third nearest the seat deliver via the hub.
    for (ti, t) in townships.iter().enumerate() {
        let mut rooms = Vec::new();
        for (vi, v) in t.villages.iter().enumerate() {
            if d.chance(0.15) {
                continue;
            }
            let contact = ContactSeed {
                name: d.person(),
                phone: phones.draw(d),
                email: None,
            };
            let inst = Inst {
                name: format!("{}{}卫生室", t.name, v.name),
                kind: "village_health_room",
                licence_no: licence(ti, 2, vi + 1),
                township: t,
                village: v.name.clone(),
                address: format!("山东省翼飞县{}{}{}号", t.name, v.name, d.int(1, 260)),
                pos: d.around(v.lat, v.lng, 0.0, 0.25),
                beds: 0,
                contact,
                hours: room_hours(d),
                waste: d.float(0.1, 0.8),
            }
            .seed();
            rooms.push(inst);
        }
        let mut by_distance: Vec<(f64, usize)> = rooms
            .iter()
            .enumerate()
            .map(|(i, r)| (km(t.seat_lat, t.seat_lng, r.lat, r.lng), i))
            .collect();
        by_distance.sort_by(|a, b| a.0.total_cmp(&b.0));
        let via_hub = (rooms.len() as f64 * VIA_HUB_SHARE).round() as usize;
        for &(_, i) in by_distance.iter().take(via_hub) {
            rooms[i].service_mode = "via_hub".into();
            rooms[i].hub_id = Some(centre_ids[ti].clone());
        }
        out.extend(rooms);
    }

    // Private clinics, mostly in township seats: four in the county seat town, two in the demo
    // township (the first in its seat), the rest spread at random.
    let mut clinic_townships: Vec<usize> = vec![0, 0, 0, 0, DEMO_TOWNSHIP, DEMO_TOWNSHIP];
    while clinic_townships.len() < CLINICS {
        clinic_townships.push(2 + d.below(townships.len() - 2));
    }
    let mut brands_used: HashSet<(usize, usize)> = HashSet::new();
    let mut seq = vec![0usize; townships.len()];
    for (k, &ti) in clinic_townships.iter().enumerate() {
        let t = &townships[ti];
        seq[ti] += 1;
        let in_seat = k == 4 || d.chance(0.8) || t.villages.is_empty();
        let (village, pos, address) = if in_seat {
            let pos = d.around(t.seat_lat, t.seat_lng, 0.1, 1.2);
            (String::new(), pos, street_address(d, t))
        } else {
            let v = d.pick(&t.villages);
            let pos = d.around(v.lat, v.lng, 0.05, 0.3);
            let address = format!("山东省翼飞县{}{}{}号", t.name, v.name, d.int(1, 260));
            (v.name.clone(), pos, address)
        };
        let &(kind_name, lo, hi) = d.pick(&CLINIC_KINDS);
        let owner = d.person();
        let (name, email) = if d.chance(0.3) {
            // Named after the doctor, as many village clinics are.
            (format!("{}{owner}{kind_name}", t.name), None)
        } else {
            let mut b = d.below(CLINIC_BRANDS.len());
            while !brands_used.insert((ti, b)) {
                b = (b + 1) % CLINIC_BRANDS.len();
            }
            let (brand, brand_pinyin) = CLINIC_BRANDS[b];
            (
                format!("{}{brand}{kind_name}", t.name),
                Some(format!("{brand_pinyin}.{}@example.org", t.pinyin)),
            )
        };
        let contact = ContactSeed {
            name: owner,
            phone: phones.draw(d),
            email,
        };
        out.push(
            Inst {
                name,
                kind: "clinic",
                licence_no: licence(ti, 3, seq[ti]),
                township: t,
                village,
                address,
                pos,
                beds: 0,
                contact,
                hours: clinic_hours(d),
                waste: d.float(lo, hi),
            }
            .seed(),
        );
    }

    // Two other producers: the county CDC (laboratory waste) and a welfare home's infirmary.
    let others = [
        (0, "翼飞县疾病预防控制中心", 1.0, 2.0),
        (3, "翼飞县社会福利中心医务室", 0.2, 0.6),
    ];
    for (k, &(ti, name, lo, hi)) in others.iter().enumerate() {
        let t: &Township = &townships[ti];
        let contact = ContactSeed {
            name: d.person(),
            phone: phones.draw(d),
            email: Some(format!("other{}@example.org", k + 1)),
        };
        out.push(
            Inst {
                name: name.into(),
                kind: "other",
                licence_no: licence(ti, 9, k + 1),
                township: t,
                village: String::new(),
                address: street_address(d, t),
                pos: d.around(t.seat_lat, t.seat_lng, 0.2, 1.5),
                beds: 0,
                contact,
                hours: vec![window("08:30", "12:00"), window("14:00", "17:30")],
                waste: d.float(lo, hi),
            }
            .seed(),
        );
    }

    // Three newcomers awaiting approval: a direct village room, a clinic and an `other`,
    // out in the countryside: neither in the county seat town nor in the demo township (whose
    // institutions carry the demo logins).
    let excluded = [&townships[0].name, &townships[DEMO_TOWNSHIP].name];
    for kind in ["village_health_room", "clinic", "other"] {
        let candidates: Vec<usize> = out
            .iter()
            .enumerate()
            .filter(|(_, i)| {
                i.kind == kind && !excluded.contains(&&i.township) && i.service_mode == "direct"
            })
            .map(|(n, _)| n)
            .collect();
        if candidates.is_empty() {
            return Err(SeedError::Generate(format!("no {kind} to leave pending")));
        }
        let n = *d.pick(&candidates);
        out[n].status = "pending".into();
    }
    Ok(out)
}

/// Organisation-side and demo users, and the fleet with one driver per vehicle.
fn fleet_and_users(
    d: &mut Draw,
    organisations: &[Organisation],
    institutions: &[InstitutionSeed],
    phones: &mut Phones,
) -> Result<(Vec<VehicleSeed>, Vec<UserSeed>), SeedError> {
    let org = |kind: &str| {
        organisations
            .iter()
            .find(|o| o.kind == kind)
            .map(|o| o.id.clone())
            .ok_or_else(|| SeedError::Generate(format!("no {kind}")))
    };
    let company = org("disposal_company")?;
    let demo_township = TOWNSHIPS[DEMO_TOWNSHIP].0;
    let demo_inst = |kind: &str, mode: &str, in_seat: bool| {
        institutions
            .iter()
            .find(|i| {
                i.township == demo_township
                    && i.kind == kind
                    && i.service_mode == mode
                    && i.status == "active"
                    && i.village.is_empty() == in_seat
            })
            .ok_or_else(|| SeedError::Generate(format!("no demo {kind} in {demo_township}")))
    };
    let centre = demo_inst("township_health_centre", "direct", true)?;
    let room = demo_inst("village_health_room", "via_hub", false)?;
    let clinic = demo_inst("clinic", "direct", true)?;

    let mut users = Vec::new();
    let mut user = |d: &mut Draw, login: &str, role: &str, org_id: Option<String>, note: String| {
        let phone = (role == "driver").then(|| phones.draw(d));
        users.push(UserSeed {
            id: id("user", login),
            login: login.into(),
            role: role.into(),
            org_id,
            display_name: d.person(),
            email: format!("{login}@example.org"),
            phone,
            note,
        });
    };
    user(
        d,
        "admin",
        "admin",
        None,
        "administrator: users, organisations, configuration".into(),
    );
    user(
        d,
        "bureau",
        "bureau_staff",
        Some(org("health_bureau")?),
        "health bureau (whole county): approve the pending institutions, reports".into(),
    );
    user(
        d,
        "eco",
        "bureau_staff",
        Some(org("eco_environment_bureau")?),
        "eco-environment bureau: oversight and reports, read only".into(),
    );
    user(
        d,
        "dispatch",
        "dispatcher",
        Some(company.clone()),
        "dispatcher: vehicles, due pickups, plan tomorrow's runs".into(),
    );
    user(
        d,
        "plant",
        "plant_operator",
        Some(company.clone()),
        "plant gate: receive, weigh, reject and dispose of containers".into(),
    );
    user(
        d,
        "centre",
        "clinic_staff",
        Some(centre.id.clone()),
        format!(
            "clinic staff of {} (township health centre, collected every 24 h)",
            centre.name
        ),
    );
    user(
        d,
        "hub",
        "hub_keeper",
        Some(centre.id.clone()),
        format!(
            "hub keeper of {}: scan village boxes in, nest them",
            centre.name
        ),
    );
    user(
        d,
        "room",
        "clinic_staff",
        Some(room.id.clone()),
        format!(
            "clinic staff of {} (village room, delivers via the hub)",
            room.name
        ),
    );
    user(
        d,
        "clinic",
        "clinic_staff",
        Some(clinic.id.clone()),
        format!(
            "clinic staff of {} (private clinic, collected at the door)",
            clinic.name
        ),
    );

    // Two refrigerated box trucks, two mid-size trucks, two small vans for narrow village roads.
    let sizes: [(i32, i32, i32, i32, bool); 6] = [
        (1300, 1500, 100, 120, true),
        (1300, 1500, 100, 120, true),
        (900, 1100, 70, 90, false),
        (900, 1100, 70, 90, false),
        (500, 700, 40, 55, false),
        (500, 700, 40, 55, true),
    ];
    let mut plates = HashSet::new();
    let mut vehicles = Vec::new();
    for (k, &(kg_lo, kg_hi, u_lo, u_hi, refrigerated)) in sizes.iter().enumerate() {
        let login = format!("driver{}", k + 1);
        let plate = loop {
            let plate = format!("鲁J·{}{:04}", d.pick(&PLATE_LETTERS), d.below(10_000));
            if plates.insert(plate.clone()) {
                break plate;
            }
        };
        vehicles.push(VehicleSeed {
            id: id("vehicle", &plate),
            plate: plate.clone(),
            capacity_kg: d.int(kg_lo / 50, kg_hi / 50) * 50,
            capacity_units: d.int(u_lo / 5, u_hi / 5) * 5,
            refrigerated,
            shift_start: "07:30".into(),
            shift_end: "17:30".into(),
            driver_login: login.clone(),
        });
        user(
            d,
            &login,
            "driver",
            Some(company.clone()),
            format!("driver of {plate}: fetch the day's run, scan at each stop"),
        );
    }
    Ok((vehicles, users))
}
