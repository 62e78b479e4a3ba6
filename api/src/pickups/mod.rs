//! Storage clocks and due pickups: which institutions must be visited on a day, and why.
//!
//! An institution is due when sealed waste it holds would pass the storage limit (48 h from
//! the oldest seal, 条例 Art.17) before the day ends, when its collection interval would
//! lapse, or when it asked. Institutions that deliver to a township hub (小箱进大箱) are
//! served by the hub's stop: their deadlines and waste move to the hub.

pub mod store;

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDateTime};

/// Storage limit at the producer or hub (条例 Art.17).
pub const STORAGE_LIMIT_H: i64 = 48;

/// Why a stop is due (stable names, also shown to dispatchers).
pub const STORAGE_DEADLINE: &str = "storage_deadline";
pub const INTERVAL_LAPSES: &str = "interval_lapses";
pub const REQUESTED: &str = "requested";
pub const SKIPPED: &str = "skipped";
pub const VIA_HUB: &str = "via_hub";

/// What the rules need to know of an institution.
#[derive(Debug, Clone)]
pub struct Facts {
    pub id: String,
    pub active: bool,
    /// The hub that serves it, when it delivers via a hub.
    pub hub_id: Option<String>,
    pub interval_h: i32,
    /// Last pickup of its waste, or when it joined if never.
    pub last_collected: NaiveDateTime,
    /// Oldest seal among containers still at the institution or its hub.
    pub oldest_seal: Option<NaiveDateTime>,
    pub waiting_g: i64,
    pub waiting_containers: i32,
    /// Open pickup requests: estimated grams and containers.
    pub requested_g: i64,
    pub requested_containers: i32,
    pub has_request: bool,
    /// Already on a pending stop of a run of the day.
    pub planned: bool,
    /// A stop of the day was skipped.
    pub skipped: bool,
}

/// A stop to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The institution visited (the hub for via-hub institutions).
    pub stop: String,
    pub deadline: Option<NaiveDateTime>,
    pub reasons: Vec<String>,
    pub expected_g: i64,
    pub expected_containers: i32,
    /// Institutions whose waste is collected at this stop.
    pub serves: Vec<String>,
}

/// Planned waste when nothing is known yet (an interval visit): one small container.
pub const MIN_EXPECTED_G: i64 = 500;

/// The due stops of the day ending at `horizon_end` (UTC), tightest deadline first.
pub fn due(facts: &[Facts], horizon_end: NaiveDateTime) -> Vec<Due> {
    let active: BTreeMap<&str, &Facts> = facts
        .iter()
        .filter(|f| f.active)
        .map(|f| (f.id.as_str(), f))
        .collect();
    let mut stops: BTreeMap<String, Due> = BTreeMap::new();
    for f in active.values() {
        if f.planned {
            continue;
        }
        let mut reasons = Vec::new();
        let deadline = f.oldest_seal.map(|s| s + Duration::hours(STORAGE_LIMIT_H));
        if deadline.is_some_and(|d| d <= horizon_end) {
            reasons.push(STORAGE_DEADLINE);
        }
        if f.last_collected + Duration::hours(i64::from(f.interval_h)) <= horizon_end {
            reasons.push(INTERVAL_LAPSES);
        }
        if f.has_request {
            reasons.push(REQUESTED);
        }
        if f.skipped {
            reasons.push(SKIPPED);
        }
        if reasons.is_empty() {
            continue;
        }
        // Via a hub only when the hub itself is active and not already planned.
        let target = match f.hub_id.as_deref().and_then(|h| active.get(h)) {
            Some(hub) if !hub.planned => hub.id.clone(),
            _ => f.id.clone(),
        };
        let via = target != f.id;
        let entry = stops.entry(target.clone()).or_insert_with(|| Due {
            stop: target.clone(),
            deadline: None,
            reasons: Vec::new(),
            expected_g: 0,
            expected_containers: 0,
            serves: Vec::new(),
        });
        entry.deadline = match (entry.deadline, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        for r in reasons.into_iter().chain(via.then_some(VIA_HUB)) {
            if !entry.reasons.iter().any(|x| x == r) {
                entry.reasons.push(r.to_owned());
            }
        }
        entry.expected_g += f.waiting_g.max(f.requested_g);
        entry.expected_containers += f.waiting_containers.max(f.requested_containers);
        entry.serves.push(f.id.clone());
    }
    let mut out: Vec<Due> = stops
        .into_values()
        .map(|mut d| {
            if d.expected_g == 0 {
                d.expected_g = MIN_EXPECTED_G;
            }
            d.expected_containers = d.expected_containers.max(1);
            d.serves.sort();
            d
        })
        .collect();
    out.sort_by(|a, b| match (a.deadline, b.deadline) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.stop.cmp(&b.stop)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.stop.cmp(&b.stop),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn t(day: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("time")
    }

    fn facts(id: &str) -> Facts {
        Facts {
            id: id.into(),
            active: true,
            hub_id: None,
            interval_h: 48,
            last_collected: t(2, 0),
            oldest_seal: None,
            waiting_g: 0,
            waiting_containers: 0,
            requested_g: 0,
            requested_containers: 0,
            has_request: false,
            planned: false,
            skipped: false,
        }
    }

    // The plan day is 2026-03-03 local; its end is 2026-03-03 16:00 UTC.
    fn end() -> NaiveDateTime {
        t(3, 16)
    }

    #[test]
    fn storage_deadlines_make_a_stop_due() {
        let mut a = facts("a");
        a.oldest_seal = Some(t(1, 20)); // deadline 03-03 20:00 UTC: after the day ends
        a.waiting_g = 1500;
        a.waiting_containers = 2;
        assert!(due(&[a.clone()], end()).is_empty());
        a.oldest_seal = Some(t(1, 10)); // deadline 03-03 10:00 UTC
        let d = due(&[a], end());
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].deadline, Some(t(3, 10)));
        assert_eq!(d[0].reasons, [STORAGE_DEADLINE]);
        assert_eq!((d[0].expected_g, d[0].expected_containers), (1500, 2));
    }

    #[test]
    fn intervals_requests_and_skips() {
        let mut lapsing = facts("lapsing");
        lapsing.last_collected = t(1, 12); // + 48 h = 03-03 12:00 UTC
        let mut asked = facts("asked");
        asked.has_request = true;
        asked.requested_g = 4000;
        asked.requested_containers = 3;
        let mut skipped = facts("skipped");
        skipped.skipped = true;
        let mut planned = facts("planned");
        planned.has_request = true;
        planned.planned = true;
        let mut inactive = facts("inactive");
        inactive.has_request = true;
        inactive.active = false;
        let d = due(&[lapsing, asked, skipped, planned, inactive], end());
        let got: Vec<(&str, Vec<String>, i64)> = d
            .iter()
            .map(|d| (d.stop.as_str(), d.reasons.clone(), d.expected_g))
            .collect();
        assert_eq!(
            got,
            [
                ("asked", vec![REQUESTED.to_owned()], 4000),
                ("lapsing", vec![INTERVAL_LAPSES.to_owned()], MIN_EXPECTED_G),
                ("skipped", vec![SKIPPED.to_owned()], MIN_EXPECTED_G),
            ]
        );
    }

    #[test]
    fn villages_are_served_at_their_hub_with_the_tightest_deadline() {
        let hub = facts("hub");
        let mut v1 = facts("v1");
        v1.hub_id = Some("hub".into());
        v1.oldest_seal = Some(t(1, 8));
        v1.waiting_g = 700;
        v1.waiting_containers = 1;
        let mut v2 = facts("v2");
        v2.hub_id = Some("hub".into());
        v2.oldest_seal = Some(t(1, 6));
        v2.waiting_g = 300;
        v2.waiting_containers = 1;
        let d = due(&[hub, v1, v2], end());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].stop, "hub");
        assert_eq!(d[0].deadline, Some(t(3, 6)));
        assert_eq!(d[0].serves, ["v1", "v2"]);
        assert_eq!(d[0].reasons, [STORAGE_DEADLINE, VIA_HUB]);
        assert_eq!((d[0].expected_g, d[0].expected_containers), (1000, 2));
        // An inactive hub: the villages are visited at their door.
        let mut hub = facts("hub");
        hub.active = false;
        let mut v1 = facts("v1");
        v1.hub_id = Some("hub".into());
        v1.has_request = true;
        assert_eq!(due(&[hub, v1], end())[0].stop, "v1");
    }
}
