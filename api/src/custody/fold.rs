//! A container's state is the fold of its scans in occurrence order. Recomputed whenever an
//! event lands, so a late upload lands in the right place of the history. Events that break
//! the state machine are kept and flagged, never dropped: the physical world already happened.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use yifei_contract::{ContainerState, ScanAction};

/// Weight differences within max(10 %, 300 g) are scale noise (DESIGN.md, per container).
pub const WEIGHT_TOLERANCE_RATIO: f64 = 0.10;
pub const WEIGHT_TOLERANCE_G: i64 = 300;
/// A pickup scanned farther than this from the institution (and its hub) is suspicious.
pub const LOCATION_TOLERANCE_M: f64 = 500.0;

/// Flag names (stable: clients filter on them).
pub const WEIGHT_DISCREPANCY: &str = "weight_discrepancy";
pub const LOCATION_MISMATCH: &str = "location_mismatch";
pub const SEQUENCE_ANOMALY: &str = "sequence_anomaly";
/// The driver refused the container at the door and nobody has collected it since.
pub const REFUSED_AT_PICKUP: &str = "refused_at_pickup";
/// A recorded value was corrected by an approved correction.
pub const CORRECTED: &str = "corrected";
/// A weight discrepancy that involves an estimated weight (judged with the wider tolerance
/// of `weighing`).
pub const WEIGHT_ESTIMATED: &str = "weight_estimated";

/// What the fold needs of an event.
#[derive(Debug, Clone)]
pub struct FoldEvent {
    pub id: String,
    pub seq: i32,
    pub action: ScanAction,
    pub occurred_at: NaiveDateTime,
    pub weight_g: Option<i32>,
    pub location: Option<(f64, f64)>,
    /// Inherited from a big box: no location check (the box was checked).
    pub derived: bool,
    /// The weight was estimated, not weighed.
    pub estimated: bool,
    /// The plant's disposal time (dispose), if it recorded one apart from the scan's.
    pub disposed_at: Option<NaiveDateTime>,
    /// For an approved correction: the event whose weight `weight_g` replaces.
    pub corrects: Option<String>,
}

/// Where the waste may legitimately be picked up.
#[derive(Debug, Clone, Copy)]
pub struct Places {
    pub institution: (f64, f64),
    pub hub: Option<(f64, f64)>,
}

/// The derived view of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub state: ContainerState,
    pub flags: BTreeSet<String>,
    pub seal_weight_g: Option<i32>,
    pub collect_weight_g: Option<i32>,
    pub receive_weight_g: Option<i32>,
    pub sealed_at: Option<NaiveDateTime>,
    pub collected_at: Option<NaiveDateTime>,
    pub received_at: Option<NaiveDateTime>,
    pub disposed_at: Option<NaiveDateTime>,
    /// Which of the seal, collect and receive weights were estimated.
    pub estimated: [bool; 3],
    /// Per event id: why it does not fit.
    pub anomalies: HashMap<String, String>,
}

fn rank(s: ContainerState) -> u8 {
    match s {
        ContainerState::Labelled => 0,
        ContainerState::Sealed => 1,
        ContainerState::AtHub => 2,
        ContainerState::Collected => 3,
        ContainerState::Received => 4,
        ContainerState::Disposed | ContainerState::Rejected => 5,
    }
}

fn state_name(s: ContainerState) -> &'static str {
    match s {
        ContainerState::Labelled => "labelled",
        ContainerState::Sealed => "sealed",
        ContainerState::AtHub => "at_hub",
        ContainerState::Collected => "collected",
        ContainerState::Received => "received",
        ContainerState::Disposed => "disposed",
        ContainerState::Rejected => "rejected",
    }
}

/// The state an action leads to, and the states it may follow.
fn transition(a: ScanAction) -> (Option<ContainerState>, &'static [ContainerState]) {
    use ContainerState::*;
    match a {
        ScanAction::Seal => (Some(Sealed), &[Labelled]),
        ScanAction::HubIn => (Some(AtHub), &[Sealed]),
        ScanAction::Nest => (None, &[Labelled, Sealed, AtHub]),
        ScanAction::Collect => (Some(Collected), &[Sealed, AtHub]),
        ScanAction::Receive => (Some(Received), &[Collected]),
        ScanAction::Reject => (Some(Rejected), &[Collected, Received]),
        ScanAction::Dispose => (Some(Disposed), &[Received]),
        // Refused at the door: the container stays where it was.
        ScanAction::Refuse => (None, &[Sealed, AtHub]),
        // Corrections are applied before the fold; they move nothing.
        ScanAction::Correct => (
            None,
            &[
                Labelled, Sealed, AtHub, Collected, Received, Disposed, Rejected,
            ],
        ),
    }
}

/// Whether two weights differ beyond the tolerance.
pub fn weights_differ(a_g: i32, b_g: i32) -> bool {
    let (a, b) = (i64::from(a_g), i64::from(b_g));
    let tolerance = ((a.max(b) as f64) * WEIGHT_TOLERANCE_RATIO).round() as i64;
    (a - b).abs() > tolerance.max(WEIGHT_TOLERANCE_G)
}

/// Great-circle distance in metres.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    use geo::{Distance, Haversine, Point};
    Haversine.distance(Point::new(a.1, a.0), Point::new(b.1, b.0))
}

/// Folds the events (any order) into the container's derived state. `children_seal_g` is the
/// sum of the seal weights of the small boxes nested in this one, if any.
pub fn fold(events: &[FoldEvent], places: Places, children_seal_g: Option<i64>) -> Derived {
    // Approved corrections replace the weight of the scan they name (the latest one counts);
    // the scan itself stays as recorded.
    let mut corrected: HashMap<&str, (i32, Option<i32>)> = HashMap::new();
    for e in events.iter().filter(|e| e.action == ScanAction::Correct) {
        if let Some(target) = e.corrects.as_deref()
            && corrected.get(target).is_none_or(|(seq, _)| *seq < e.seq)
        {
            corrected.insert(target, (e.seq, e.weight_g));
        }
    }
    let owned: Vec<FoldEvent> = events
        .iter()
        .filter(|e| e.action != ScanAction::Correct)
        .map(|e| match corrected.get(e.id.as_str()) {
            Some((_, Some(w))) => FoldEvent {
                weight_g: Some(*w),
                estimated: false,
                ..e.clone()
            },
            _ => e.clone(),
        })
        .collect();
    let any_corrected = events.iter().any(|e| e.action == ScanAction::Correct);
    let mut sorted: Vec<&FoldEvent> = owned.iter().collect();
    sorted.sort_by(|a, b| a.occurred_at.cmp(&b.occurred_at).then(a.seq.cmp(&b.seq)));
    let mut d = Derived {
        state: ContainerState::Labelled,
        flags: BTreeSet::new(),
        seal_weight_g: None,
        collect_weight_g: None,
        receive_weight_g: None,
        sealed_at: None,
        collected_at: None,
        received_at: None,
        disposed_at: None,
        estimated: [false; 3],
        anomalies: HashMap::new(),
    };
    let mut refused = false;
    for e in sorted {
        let (target, from) = transition(e.action);
        let current = d.state;
        let action = crate::wire::enum_str(&e.action);
        if from.contains(&current) {
            if let Some(t) = target {
                d.state = t;
            }
        } else if rank(current) == 5 {
            d.anomalies.insert(
                e.id.clone(),
                format!("{action} after the container was {}", state_name(current)),
            );
        } else if let Some(t) = target.filter(|t| rank(*t) > rank(current)) {
            d.anomalies.insert(
                e.id.clone(),
                format!("{action} while {}: a step is missing", state_name(current)),
            );
            d.state = t;
        } else {
            d.anomalies.insert(
                e.id.clone(),
                format!("{action} while already {}", state_name(current)),
            );
        }
        match e.action {
            ScanAction::Seal => {
                if d.seal_weight_g.is_none() && e.weight_g.is_some() {
                    d.estimated[0] = e.estimated;
                }
                d.seal_weight_g = d.seal_weight_g.or(e.weight_g);
                d.sealed_at = d.sealed_at.or(Some(e.occurred_at));
            }
            ScanAction::Collect => {
                refused = false;
                if d.collect_weight_g.is_none() && e.weight_g.is_some() {
                    d.estimated[1] = e.estimated;
                }
                d.collect_weight_g = d.collect_weight_g.or(e.weight_g);
                d.collected_at = d.collected_at.or(Some(e.occurred_at));
                if let (Some(loc), false) = (e.location, e.derived) {
                    let near_home = distance_m(loc, places.institution) <= LOCATION_TOLERANCE_M;
                    let near_hub = places
                        .hub
                        .is_some_and(|h| distance_m(loc, h) <= LOCATION_TOLERANCE_M);
                    if !near_home && !near_hub {
                        d.flags.insert(LOCATION_MISMATCH.into());
                    }
                }
            }
            ScanAction::Receive => {
                if d.receive_weight_g.is_none() && e.weight_g.is_some() {
                    d.estimated[2] = e.estimated;
                }
                d.receive_weight_g = d.receive_weight_g.or(e.weight_g);
                d.received_at = d.received_at.or(Some(e.occurred_at));
            }
            ScanAction::Dispose => {
                d.disposed_at = d
                    .disposed_at
                    .or(Some(e.disposed_at.unwrap_or(e.occurred_at)))
            }
            // Only a refusal of a container still at the door counts: one after the pickup
            // is an anomaly, flagged above.
            ScanAction::Refuse => refused = from.contains(&current),
            ScanAction::HubIn | ScanAction::Reject | ScanAction::Nest | ScanAction::Correct => {}
        }
    }
    if refused {
        d.flags.insert(REFUSED_AT_PICKUP.into());
    }
    if any_corrected {
        d.flags.insert(CORRECTED.into());
    }
    let [seal_est, collect_est, receive_est] = d.estimated;
    let pairs = [
        (d.seal_weight_g, d.collect_weight_g, seal_est || collect_est),
        (
            d.collect_weight_g,
            d.receive_weight_g,
            collect_est || receive_est,
        ),
        (
            d.seal_weight_g.filter(|_| d.collect_weight_g.is_none()),
            d.receive_weight_g,
            seal_est || receive_est,
        ),
    ];
    for (a, b, estimated) in pairs {
        if let (Some(a), Some(b)) = (a, b)
            && crate::custody::weighing::differ(a, b, estimated)
        {
            d.flags.insert(WEIGHT_DISCREPANCY.into());
            if estimated {
                d.flags.insert(WEIGHT_ESTIMATED.into());
            }
        }
    }
    if let (Some(children), Some(own)) = (children_seal_g, d.seal_weight_g)
        && weights_differ(own, i32::try_from(children).unwrap_or(i32::MAX))
    {
        d.flags.insert(WEIGHT_DISCREPANCY.into());
    }
    if !d.anomalies.is_empty() {
        d.flags.insert(SEQUENCE_ANOMALY.into());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    const HOME: (f64, f64) = (36.30, 117.40);

    fn at(h: i64) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, 2)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date")
            + Duration::hours(h)
    }

    fn ev(seq: i32, action: ScanAction, h: i64, kg: Option<f64>) -> FoldEvent {
        FoldEvent {
            id: format!("e{seq}"),
            seq,
            action,
            occurred_at: at(h),
            weight_g: kg.map(|k| (k * 1000.0) as i32),
            location: None,
            derived: false,
            estimated: false,
            disposed_at: None,
            corrects: None,
        }
    }

    fn places() -> Places {
        Places {
            institution: HOME,
            hub: None,
        }
    }

    #[test]
    fn happy_path_in_any_upload_order_gives_one_history() {
        use ScanAction::*;
        let events = vec![
            ev(1, Dispose, 30, None),
            ev(2, Collect, 10, Some(2.1)),
            ev(3, Receive, 20, Some(2.05)),
            ev(4, Seal, 1, Some(2.0)),
        ];
        let d = fold(&events, places(), None);
        assert_eq!(d.state, ContainerState::Disposed);
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        assert_eq!(
            (d.seal_weight_g, d.collect_weight_g, d.receive_weight_g),
            (Some(2000), Some(2100), Some(2050))
        );
        assert_eq!(d.sealed_at, Some(at(1)));
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(fold(&reversed, places(), None), d);
    }

    #[test]
    fn breaks_of_the_state_machine_are_flagged_not_dropped() {
        use ScanAction::*;
        // Collected without a seal: the state still moves on, flagged.
        let d = fold(&[ev(1, Collect, 10, Some(1.0))], places(), None);
        assert_eq!(d.state, ContainerState::Collected);
        assert!(d.flags.contains(SEQUENCE_ANOMALY));
        // The late seal arrives: the history is whole again and the flag clears.
        let d = fold(
            &[ev(1, Collect, 10, Some(1.0)), ev(2, Seal, 2, Some(1.0))],
            places(),
            None,
        );
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        // A scan after disposal is kept and flagged; the state does not go back.
        let d = fold(
            &[
                ev(1, Seal, 1, Some(1.0)),
                ev(2, Collect, 2, Some(1.0)),
                ev(3, Receive, 3, Some(1.0)),
                ev(4, Dispose, 4, None),
                ev(5, Collect, 5, Some(1.0)),
            ],
            places(),
            None,
        );
        assert_eq!(d.state, ContainerState::Disposed);
        assert_eq!(
            d.anomalies.get("e5").map(String::as_str),
            Some("collect after the container was disposed")
        );
        // Sealing twice.
        let d = fold(
            &[ev(1, Seal, 1, Some(1.0)), ev(2, Seal, 2, Some(1.0))],
            places(),
            None,
        );
        assert_eq!(d.state, ContainerState::Sealed);
        assert!(d.anomalies.contains_key("e2"));
    }

    #[test]
    fn weights_and_locations_are_reconciled() {
        use ScanAction::*;
        assert!(!weights_differ(2000, 2190));
        assert!(weights_differ(2000, 2400));
        assert!(
            !weights_differ(500, 790),
            "300 g floor for light containers"
        );
        assert!(weights_differ(500, 810));
        let d = fold(
            &[ev(1, Seal, 1, Some(2.0)), ev(2, Collect, 2, Some(2.6))],
            places(),
            None,
        );
        assert!(d.flags.contains(WEIGHT_DISCREPANCY));
        let d = fold(
            &[ev(1, Seal, 1, Some(2.0)), ev(2, Receive, 2, Some(3.0))],
            places(),
            None,
        );
        assert!(
            d.flags.contains(WEIGHT_DISCREPANCY),
            "seal vs receive when collect is missing"
        );
        let mut far = ev(2, Collect, 2, Some(2.0));
        far.location = Some((36.31, 117.40)); // ~1.1 km north
        let d = fold(&[ev(1, Seal, 1, Some(2.0)), far.clone()], places(), None);
        assert!(d.flags.contains(LOCATION_MISMATCH));
        let at_hub = Places {
            institution: HOME,
            hub: Some((36.31, 117.40)),
        };
        assert!(
            !fold(&[ev(1, Seal, 1, Some(2.0)), far], at_hub, None)
                .flags
                .contains(LOCATION_MISMATCH)
        );
        let d = fold(&[ev(1, Seal, 1, Some(5.0))], places(), Some(3000));
        assert!(
            d.flags.contains(WEIGHT_DISCREPANCY),
            "big box lighter or heavier than its contents"
        );
        assert!((distance_m(HOME, (36.31, 117.40)) - 1112.0).abs() < 5.0);
    }

    #[test]
    fn estimates_are_judged_as_estimates() {
        use ScanAction::*;
        let mut guess = ev(2, Collect, 2, Some(2.4));
        guess.estimated = true;
        let weighed = [ev(1, Seal, 1, Some(2.0)), ev(2, Collect, 2, Some(2.4))];
        let d = fold(&weighed, places(), None);
        assert!(d.flags.contains(WEIGHT_DISCREPANCY));
        assert!(!d.flags.contains(WEIGHT_ESTIMATED));
        let d = fold(&[ev(1, Seal, 1, Some(2.0)), guess.clone()], places(), None);
        assert!(d.flags.is_empty(), "20 % off an estimate: {:?}", d.flags);
        assert_eq!(d.estimated, [false, true, false]);
        let d = fold(
            &[
                ev(1, Seal, 1, Some(2.0)),
                guess,
                ev(3, Receive, 3, Some(3.5)),
            ],
            places(),
            None,
        );
        assert!(d.flags.contains(WEIGHT_DISCREPANCY));
        assert!(
            d.flags.contains(WEIGHT_ESTIMATED),
            "the estimate vs the plant's figure"
        );
    }

    #[test]
    fn an_approved_correction_replaces_the_weight_it_names() {
        use ScanAction::*;
        let history = vec![
            ev(1, Seal, 1, Some(2.0)),
            ev(2, Collect, 2, Some(20.0)), // mistyped
            ev(3, Receive, 3, Some(2.05)),
        ];
        let d = fold(&history, places(), None);
        assert!(d.flags.contains(WEIGHT_DISCREPANCY));
        let mut fix = ev(4, Correct, 4, Some(2.1));
        fix.corrects = Some("e2".into());
        let mut with = history.clone();
        with.push(fix);
        let d = fold(&with, places(), None);
        assert_eq!(d.collect_weight_g, Some(2100));
        assert_eq!(d.state, ContainerState::Received);
        assert!(d.anomalies.is_empty());
        assert_eq!(
            d.flags.iter().map(String::as_str).collect::<Vec<_>>(),
            [CORRECTED]
        );
    }

    #[test]
    fn a_refused_container_stays_at_the_door() {
        use ScanAction::*;
        let d = fold(
            &[ev(1, Seal, 1, Some(2.0)), ev(2, Refuse, 5, None)],
            places(),
            None,
        );
        assert_eq!(d.state, ContainerState::Sealed);
        assert_eq!(d.sealed_at, Some(at(1)), "its storage clock runs on");
        assert!(d.flags.contains(REFUSED_AT_PICKUP));
        assert!(d.anomalies.is_empty());
        // Collected on a later visit: no longer refused.
        let d = fold(
            &[
                ev(1, Seal, 1, Some(2.0)),
                ev(2, Refuse, 5, None),
                ev(3, Collect, 30, Some(2.0)),
            ],
            places(),
            None,
        );
        assert_eq!(d.state, ContainerState::Collected);
        assert!(d.flags.is_empty(), "{:?}", d.flags);
        // A refusal after the pickup (uploaded late) is an anomaly, not a refusal.
        let d = fold(
            &[
                ev(1, Seal, 1, Some(2.0)),
                ev(2, Collect, 5, Some(2.0)),
                ev(3, Refuse, 6, None),
            ],
            places(),
            None,
        );
        assert_eq!(d.state, ContainerState::Collected);
        assert!(!d.flags.contains(REFUSED_AT_PICKUP));
        assert!(d.anomalies.contains_key("e3"));
        // The plant's disposal time is the container's.
        let mut burn = ev(4, Dispose, 9, None);
        burn.disposed_at = Some(at(8));
        let d = fold(
            &[
                ev(1, Seal, 1, Some(2.0)),
                ev(2, Collect, 5, Some(2.0)),
                ev(3, Receive, 6, Some(2.0)),
                burn,
            ],
            places(),
            None,
        );
        assert_eq!(d.disposed_at, Some(at(8)));
    }
}
