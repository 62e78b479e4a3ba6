//! The checked-in demo county: reproducible from the generator, and sane.

use std::collections::HashSet;

use yifei_seed::{
    County, DEMO_PASSWORD, DEMO_SEED, FILES, MAX_KM_FROM_SEAT, SeedError, demo_county, distance_km,
    generate,
};

fn county() -> County {
    demo_county().expect("the demo county loads and validates")
}

fn problems(county: &County) -> Vec<String> {
    match county.validate() {
        Ok(()) => Vec::new(),
        Err(SeedError::Invalid { problems }) => problems,
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn generator_reproduces_the_checked_in_files_byte_for_byte() {
    let generated = generate::generate(DEMO_SEED).expect("generates");
    assert_eq!(generated.len(), FILES.len());
    for ((name, text), (file, checked_in)) in generated.iter().zip(FILES) {
        assert_eq!(*name, file);
        assert!(
            text == checked_in,
            "seed/data/{file} differs from the generator's output; regenerate with \
             `cargo run -p yifei-seed --bin seed-gen -- --out seed/data` and review the diff"
        );
    }
}

#[test]
fn files_round_trip_through_the_types() {
    let county = county();
    let rendered = county.to_files().expect("renders");
    for ((name, text), (file, checked_in)) in rendered.iter().zip(FILES) {
        assert_eq!(*name, file);
        assert!(text == checked_in, "{file} does not round-trip");
    }
}

#[test]
fn other_seeds_make_valid_counties_too() {
    for seed in [1, 2, 3, 42, 2026] {
        let county = generate::build(seed).expect("generates");
        assert_eq!(problems(&county), Vec::<String>::new(), "seed {seed}");
    }
}

#[test]
fn county_shape() {
    let c = county();
    assert_eq!(c.name, "翼飞县");
    assert_eq!(c.timezone, "Asia/Shanghai");
    assert!(DEMO_PASSWORD.len() >= 10);
    assert!(
        (10..=14).contains(&c.townships.len()),
        "{} townships",
        c.townships.len()
    );
    let villages: usize = c.townships.iter().map(|t| t.villages.len()).sum();
    assert!((150..=250).contains(&villages), "{villages} villages");
    assert!(c.bounds.min_lat >= 36.0 && c.bounds.max_lat <= 36.6);
    assert!(c.bounds.min_lng >= 117.0 && c.bounds.max_lng <= 117.8);

    let of_kind = |kind: &str| c.institutions.iter().filter(|i| i.kind == kind).count();
    let rooms = of_kind("village_health_room");
    assert!(
        rooms * 10 >= villages * 7,
        "village rooms in most villages: {rooms}/{villages}"
    );
    assert!((10..=25).contains(&of_kind("clinic")));
    assert!(of_kind("other") >= 1);
    for t in &c.townships {
        let centres: Vec<_> = c
            .institutions
            .iter()
            .filter(|i| i.township == t.name && i.kind == "township_health_centre")
            .collect();
        assert_eq!(centres.len(), 1, "one health centre in {}", t.name);
        let centre = centres[0];
        assert!((20..=80).contains(&centre.beds));
        assert_eq!(centre.collection_interval_h, 24);
        assert!((3.0..=15.0).contains(&centre.waste_kg_per_day));
    }
    let seat_clinics = c
        .institutions
        .iter()
        .filter(|i| i.kind == "clinic" && i.village.is_empty())
        .count();
    assert!(
        seat_clinics * 2 > of_kind("clinic"),
        "clinics mostly in seats"
    );

    let via_hub = c
        .institutions
        .iter()
        .filter(|i| i.service_mode == "via_hub")
        .count();
    assert!(
        (rooms / 4..=rooms * 2 / 5).contains(&via_hub),
        "about a third of village rooms via hub: {via_hub}/{rooms}"
    );
    for i in &c.institutions {
        match i.kind.as_str() {
            "village_health_room" => {
                assert_eq!(i.beds, 0);
                assert!((0.1..=0.8).contains(&i.waste_kg_per_day));
            }
            "clinic" => assert!((0.3..=2.0).contains(&i.waste_kg_per_day)),
            _ => {}
        }
        if i.kind != "township_health_centre" {
            assert_eq!(i.collection_interval_h, 48, "{}", i.name);
        }
        assert!(i.licence_no.starts_with("PDY"));
    }
    let pending: Vec<_> = c
        .institutions
        .iter()
        .filter(|i| i.status == "pending")
        .collect();
    assert_eq!(pending.len(), 3);
    assert!(pending.iter().all(|i| i.kind != "township_health_centre"));

    let plant = &c.plant;
    let from_seat = distance_km(c.seat.lat, c.seat.lng, plant.lat, plant.lng);
    assert!(
        (5.0..=15.0).contains(&from_seat),
        "plant {from_seat:.1} km from the seat"
    );
    let company = c.organisation_of_kind("disposal_company").expect("company");
    assert_eq!(
        (company.lat, company.lng),
        (Some(plant.lat), Some(plant.lng))
    );
    let bureau = c.organisation_of_kind("health_bureau").expect("bureau");
    assert!(
        bureau.townships.is_empty(),
        "the health bureau covers the whole county"
    );
}

#[test]
fn positions_lie_in_the_county_near_their_seat() {
    let c = county();
    for t in &c.townships {
        assert!(c.bounds.contains(t.seat_lat, t.seat_lng));
        for v in &t.villages {
            assert!(c.bounds.contains(v.lat, v.lng));
            let d = distance_km(t.seat_lat, t.seat_lng, v.lat, v.lng);
            assert!(d <= 8.0, "{} is {d:.1} km from its seat", v.name);
            // Villages cluster around their own seat: no other seat is nearer.
            for other in &c.townships {
                let e = distance_km(other.seat_lat, other.seat_lng, v.lat, v.lng);
                assert!(
                    e >= d,
                    "{} is nearer {} than {}",
                    v.name,
                    other.name,
                    t.name
                );
            }
        }
    }
    for i in &c.institutions {
        assert!((-90.0..=90.0).contains(&i.lat) && (-180.0..=180.0).contains(&i.lng));
        assert!(
            c.bounds.contains(i.lat, i.lng),
            "{} outside the county",
            i.name
        );
        let t = c.township(&i.township).expect("township");
        let d = distance_km(t.seat_lat, t.seat_lng, i.lat, i.lng);
        assert!(
            d <= MAX_KM_FROM_SEAT,
            "{} is {d:.1} km from its seat",
            i.name
        );
    }
}

#[test]
fn identifiers_are_unique() {
    let c = county();
    let mut ids = HashSet::new();
    let all_ids = c
        .organisations
        .iter()
        .map(|o| &o.id)
        .chain(c.institutions.iter().map(|i| &i.id))
        .chain(c.vehicles.iter().map(|v| &v.id))
        .chain(c.users.iter().map(|u| &u.id));
    for id in all_ids {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
        assert!(ids.insert(id.clone()), "duplicate id {id}");
    }
    let unique = |values: Vec<&String>| {
        let n = values.len();
        values.into_iter().collect::<HashSet<_>>().len() == n
    };
    assert!(unique(
        c.institutions.iter().map(|i| &i.licence_no).collect()
    ));
    assert!(unique(c.institutions.iter().map(|i| &i.name).collect()));
    assert!(unique(c.users.iter().map(|u| &u.login).collect()));
    assert!(unique(c.vehicles.iter().map(|v| &v.plate).collect()));
    let phones: Vec<&String> = c
        .institutions
        .iter()
        .map(|i| &i.contact.phone)
        .chain(c.users.iter().filter_map(|u| u.phone.as_ref()))
        .collect();
    assert!(unique(phones));
}

#[test]
fn hubs_are_health_centres_of_the_same_township() {
    let c = county();
    for i in &c.institutions {
        if i.service_mode == "via_hub" {
            let hub = c
                .institution(i.hub_id.as_deref().expect("hub id"))
                .expect("hub exists");
            assert_eq!(hub.kind, "township_health_centre");
            assert_eq!(hub.township, i.township);
            assert_eq!(hub.status, "active");
        } else {
            assert_eq!(i.service_mode, "direct");
            assert!(i.hub_id.is_none());
        }
    }
}

#[test]
fn fleet_and_users() {
    let c = county();
    assert_eq!(c.vehicles.len(), 6);
    for v in &c.vehicles {
        assert!(
            v.plate.starts_with("鲁J·") && v.plate.chars().count() == 8,
            "{}",
            v.plate
        );
        assert!((500..=1500).contains(&v.capacity_kg));
        assert!((40..=120).contains(&v.capacity_units));
        assert_eq!(
            (v.shift_start.as_str(), v.shift_end.as_str()),
            ("07:30", "17:30")
        );
    }
    assert!(c.vehicles.iter().any(|v| v.refrigerated));
    let drivers = c.users.iter().filter(|u| u.role == "driver").count();
    assert_eq!(drivers, 6);

    let role_of = |login: &str| c.user(login).map(|u| u.role.as_str());
    assert_eq!(role_of("admin"), Some("admin"));
    assert_eq!(role_of("bureau"), Some("bureau_staff"));
    assert_eq!(role_of("dispatch"), Some("dispatcher"));
    assert_eq!(role_of("plant"), Some("plant_operator"));
    assert_eq!(role_of("hub"), Some("hub_keeper"));
    let mut kinds = Vec::new();
    for u in &c.users {
        assert!(u.email.ends_with("@example.org"));
        assert!(u.login.is_ascii());
        let org = u.org_id.as_deref();
        match u.role.as_str() {
            "admin" => assert!(org.is_none()),
            "clinic_staff" | "hub_keeper" => {
                let inst = c.institution(org.expect("institution")).expect("exists");
                assert_eq!(inst.status, "active", "demo institutions are active");
                if u.role == "clinic_staff" {
                    kinds.push(inst.kind.as_str());
                } else {
                    assert_eq!(inst.kind, "township_health_centre");
                }
            }
            _ => assert!(c.organisations.iter().any(|o| Some(o.id.as_str()) == org)),
        }
    }
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["clinic", "township_health_centre", "village_health_room"]
    );

    // The demo village room delivers to the hub the hub keeper works at.
    let room = c
        .institution(
            c.user("room")
                .and_then(|u| u.org_id.as_deref())
                .expect("room"),
        )
        .expect("room exists");
    assert_eq!(room.service_mode, "via_hub");
    assert_eq!(room.hub_id, c.user("hub").and_then(|u| u.org_id.clone()));
}

#[test]
fn validation_catches_broken_data() {
    let good = county();

    let mut c = good.clone();
    let room = c
        .institutions
        .iter()
        .position(|i| i.kind == "village_health_room" && i.service_mode == "direct")
        .expect("a direct room");
    let other_room = c.institutions[room].id.clone();
    let via = c
        .institutions
        .iter()
        .position(|i| i.service_mode == "via_hub")
        .expect("a via-hub room");
    c.institutions[via].hub_id = Some(other_room);
    assert!(
        problems(&c)
            .iter()
            .any(|p| p.contains("is not an active health centre"))
    );

    let mut c = good.clone();
    c.institutions[1].licence_no = c.institutions[0].licence_no.clone();
    assert!(problems(&c).iter().any(|p| p.contains("duplicate licence")));

    let mut c = good.clone();
    c.institutions[0].lat = 200.0;
    assert!(problems(&c).iter().any(|p| p.contains("invalid position")));

    let mut c = good.clone();
    c.institutions[0].lat += 0.2;
    assert!(problems(&c).iter().any(|p| p.contains("km from the seat")));

    let mut c = good.clone();
    c.users[1].org_id = Some(uuid::Uuid::nil().to_string());
    assert!(
        problems(&c)
            .iter()
            .any(|p| p.contains("does not suit role"))
    );

    let mut c = good.clone();
    c.users[2].login = c.users[1].login.clone();
    assert!(problems(&c).iter().any(|p| p.contains("duplicate login")));

    let mut c = good;
    c.institutions[0].opening_hours[0].to = "07:00".into();
    assert!(problems(&c).iter().any(|p| p.contains("opening hours")));
}
