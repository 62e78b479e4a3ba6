//! Storage clocks and due pickups: which institutions must be visited on a day, and why.
//!
//! The rule (DESIGN.md, Pickups and runs): an institution is due on day D when sealed waste
//! it holds would reach its storage limit (48 h from the oldest seal, 条例 Art.17; 24 h in
//! epidemic mode) at or before the *next chance to collect it after D*, when its collection
//! interval would lapse by then, or when it asked. The next chance is the earliest moment a
//! run of the next working day could start service there: a vehicle leaving the plant at the
//! start of its shift, driving there with planning's travel model, waiting for the first
//! opening window, and still back before its shift ends. "The deadline falls within D" is not
//! the rule: waste whose limit ends at 03:10 on D+1, or before the first possible visit of
//! D+1, must be collected on D. Institutions that deliver to a township hub (小箱进大箱) are
//! served by the hub's stop: their deadlines and waste move to the hub, whose chances count.

pub mod clocks;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, Weekday};
use yifei_routing::TimeWindow;

/// Storage limit at the producer or hub (条例 Art.17).
pub const STORAGE_LIMIT_H: i64 = 48;

/// Why a stop is due (stable names, also shown to dispatchers).
pub const STORAGE_DEADLINE: &str = "storage_deadline";
pub const INTERVAL_LAPSES: &str = "interval_lapses";
pub const REQUESTED: &str = "requested";
pub const SKIPPED: &str = "skipped";
pub const VIA_HUB: &str = "via_hub";
/// The storage deadline passes before any run of the day can get there.
pub const OVERDUE: &str = "overdue";
/// Not due yet: a horizon plan visits it today because a run passes nearby (it would be due
/// on a later day of the horizon).
pub const HORIZON: &str = "horizon";

/// How far ahead the next working day is looked for (a longer gap means no fleet at all).
const LOOKAHEAD_DAYS: i64 = 31;

/// The weekdays on which collection runs go out (`YIFEI_WORK_DAYS`).
///
/// Default: every day. Medical waste keeps a 48-hour clock through weekends and the Spring
/// Festival, so county disposal companies (处置单位) run seven days a week and announce that
/// collection continues over holidays (节假日正常收运); a company that rests on Sundays says
/// so here, and the due rule then moves Saturday's deadlines forward to Saturday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkDays([bool; 7]);

impl Default for WorkDays {
    fn default() -> WorkDays {
        WorkDays([true; 7])
    }
}

impl WorkDays {
    /// Whether runs go out on this weekday.
    pub fn contains(&self, d: Weekday) -> bool {
        self.0[d.num_days_from_monday() as usize]
    }

    /// Parses `mon-sat`, `mon,wed,fri`, `mon-fri,sun` (English three-letter names, ranges
    /// wrap: `sat-mon`).
    pub fn parse(s: &str) -> Option<WorkDays> {
        let day = |t: &str| -> Option<usize> {
            let t = t.trim().to_ascii_lowercase();
            ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .position(|d| t == *d)
        };
        let mut set = [false; 7];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut k = a;
                    loop {
                        set[k] = true;
                        if k == b {
                            break;
                        }
                        k = (k + 1) % 7;
                    }
                }
                None => set[day(part)?] = true,
            }
        }
        set.iter().any(|d| *d).then_some(WorkDays(set))
    }
}

/// Which calendar days runs go out, in the deployment's time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Local calendar days (`YIFEI_TZ_OFFSET`).
    pub tz: FixedOffset,
    pub work_days: WorkDays,
    /// Days with no runs whatever the weekday (`YIFEI_HOLIDAYS`).
    pub holidays: BTreeSet<NaiveDate>,
    /// How a vehicle gets from one place to another (`YIFEI_TRAVEL_*`): the due rule's next
    /// chance and the planner's routes use the same model.
    pub travel: yifei_routing::HaversineMatrix,
    /// The deployment's alert thresholds (`YIFEI_ALERT_*`): the storage limit and the
    /// collection interval cap of the due rule are the alert rules' own.
    pub alerts: crate::oversight::alerts::Overrides,
}

impl Default for Schedule {
    /// UTC+8, every day a working day, no holidays, the default travel model and thresholds.
    fn default() -> Schedule {
        Schedule {
            tz: FixedOffset::east_opt(8 * 3600)
                .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC")),
            work_days: WorkDays::default(),
            holidays: BTreeSet::new(),
            travel: crate::runs::DEFAULT_TRAVEL,
            alerts: Default::default(),
        }
    }
}

impl Schedule {
    /// Whether collection runs go out on `day`.
    pub fn works(&self, day: NaiveDate) -> bool {
        self.work_days.contains(day.weekday()) && !self.holidays.contains(&day)
    }

    /// Local midnight of `day`, as UTC.
    pub fn origin(&self, day: NaiveDate) -> NaiveDateTime {
        day.and_hms_opt(0, 0, 0).unwrap_or_default()
            - Duration::seconds(i64::from(self.tz.local_minus_utc()))
    }

    /// `HH:MM` local with the day in words relative to `day`: "03:10 tomorrow",
    /// "22:10 yesterday", "08:40 Mon 2026-12-07".
    pub fn words(&self, t: NaiveDateTime, day: NaiveDate) -> String {
        let local = t + Duration::seconds(i64::from(self.tz.local_minus_utc()));
        let when = match (local.date() - day).num_days() {
            0 => "today".to_owned(),
            1 => "tomorrow".to_owned(),
            -1 => "yesterday".to_owned(),
            _ => local.format("%a %Y-%m-%d").to_string(),
        };
        format!("{} {when}", local.format("%H:%M"))
    }
}

/// How the first run of a day reaches a stop.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    /// Driving time from the plant, seconds (planning's travel model, `runs::travel_seconds`).
    pub travel_s: f64,
    /// Opening hours as service-start windows, seconds after local midnight (empty: any time).
    pub windows: Vec<TimeWindow>,
    /// Time on site, seconds.
    pub service_s: f64,
}

/// What the rule needs to know beyond the institutions: the fleet, the calendar, the limits.
#[derive(Debug, Clone)]
pub struct Rules {
    pub schedule: Schedule,
    /// Shifts of the active vehicles, seconds after local midnight (start, end).
    pub shifts: Vec<(f64, f64)>,
    /// Storage limit, hours (48; 24 in epidemic mode).
    pub storage_limit_h: i64,
    /// No institution waits longer than this between pickups, whatever its interval
    /// (48 h; 24 h in epidemic mode), as the alert rule counts it.
    pub interval_cap_h: i64,
}

impl Rules {
    /// DESIGN.md defaults for `schedule` and `shifts`, tightened in epidemic mode.
    pub fn new(schedule: Schedule, shifts: Vec<(f64, f64)>, epidemic: bool) -> Rules {
        let t = crate::oversight::alerts::Thresholds::new(epidemic, &schedule.alerts);
        Rules {
            schedule,
            shifts,
            storage_limit_h: t.storage_breach_h,
            interval_cap_h: t.not_collected_h,
        }
    }

    /// The earliest service start at a stop on `day` if runs go out that day (UTC): a vehicle
    /// leaves at the start of its shift, waits for an opening window and is back by its end.
    pub fn chance_on(&self, reach: &Reach, day: NaiveDate) -> Option<NaiveDateTime> {
        let best = self
            .shifts
            .iter()
            .filter_map(|&(start, end)| {
                let arrive = start + reach.travel_s;
                let back_in_time = |begin: &f64| begin + reach.service_s + reach.travel_s <= end;
                if reach.windows.is_empty() {
                    return Some(arrive).filter(back_in_time);
                }
                reach
                    .windows
                    .iter()
                    .filter(|w| w.end >= arrive)
                    .map(|w| arrive.max(w.start))
                    .filter(back_in_time)
                    .min_by(f64::total_cmp)
            })
            .min_by(f64::total_cmp)?;
        Some(self.schedule.origin(day) + Duration::milliseconds((best * 1000.0).round() as i64))
    }

    /// After a visit on `days[k]`, the first later day of `days` on which the collection
    /// interval (`interval_h`, capped) makes the stop due again by the due rule; `None` when
    /// none is (or no visit is possible on `days[k]`). The visit is taken at the day's first
    /// chance and lapses are compared with the next chance by time of day, so a 48 h interval
    /// means a visit every other working day, as the day-by-day due rule gives.
    pub fn due_again(
        &self,
        reach: &Reach,
        interval_h: i32,
        days: &[NaiveDate],
        k: usize,
    ) -> Option<usize> {
        let visit = self.chance_on(reach, *days.get(k)?)?;
        let lapses = visit + Duration::hours(i64::from(interval_h).min(self.interval_cap_h));
        (k + 1..days.len()).find(|&j| self.next_chance(reach, days[j]).is_none_or(|n| lapses < n))
    }

    /// The next chance to collect after `day`: the first possible visit of the next working
    /// day on which one is possible; `None` when there is none in a month (no fleet).
    pub fn next_chance(&self, reach: &Reach, day: NaiveDate) -> Option<NaiveDateTime> {
        (1..=LOOKAHEAD_DAYS)
            .map(|k| day + Duration::days(k))
            .filter(|d| self.schedule.works(*d))
            .find_map(|d| self.chance_on(reach, d))
    }
}

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
    /// Sealed waste still at the institution itself.
    pub waiting_g: i64,
    pub waiting_containers: i32,
    /// Its waste already brought to its hub (`at_hub`): collected at the hub's stop.
    pub delivered_g: i64,
    pub delivered_containers: i32,
    /// Open pickup requests: estimated grams and containers.
    pub requested_g: i64,
    pub requested_containers: i32,
    pub has_request: bool,
    /// Already on a pending stop of a run of the day.
    pub planned: bool,
    /// A stop of the day was skipped.
    pub skipped: bool,
    /// How a run reaches it.
    pub reach: Reach,
}

/// A stop to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The institution visited (the hub for via-hub institutions).
    pub stop: String,
    /// Storage deadline: the oldest waste waiting for this stop reaches its limit.
    pub deadline: Option<NaiveDateTime>,
    pub reasons: Vec<String>,
    pub expected_g: i64,
    pub expected_containers: i32,
    /// Institutions whose waste is collected at this stop.
    pub serves: Vec<String>,
    /// The earliest possible visit on the day itself (if a vehicle could get there).
    pub earliest: Option<NaiveDateTime>,
    /// The next chance after the day (`None`: no working day with a possible visit).
    pub next_chance: Option<NaiveDateTime>,
    /// Minutes the deadline passes before the earliest possible visit of the day.
    pub late_by_min: Option<i64>,
    /// Why, in a dispatcher's words.
    pub explanation: String,
}

impl Due {
    /// Whether no run of the day can meet its deadline.
    pub fn overdue(&self) -> bool {
        self.late_by_min.is_some()
    }
}

/// Planned waste when nothing is known yet (an interval visit): one small container.
pub const MIN_EXPECTED_G: i64 = 500;

/// "4 h 50 min".
pub fn duration_words(min: i64) -> String {
    match (min / 60, min % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// Per-stop working state while the due list is built.
struct Acc {
    due: Due,
    lapses: Option<NaiveDateTime>,
    villages: usize,
    /// Containers of served villages not brought to the hub yet.
    away: i32,
}

/// The due stops of `day` (a local calendar day), overdue ones first, then tightest deadline.
pub fn due(facts: &[Facts], rules: &Rules, day: NaiveDate) -> Vec<Due> {
    let active: BTreeMap<&str, &Facts> = facts
        .iter()
        .filter(|f| f.active)
        .map(|f| (f.id.as_str(), f))
        .collect();
    // Chances are the visited stop's: a village's waste is collected at its hub.
    let mut chances: BTreeMap<&str, (Option<NaiveDateTime>, Option<NaiveDateTime>)> =
        BTreeMap::new();
    let mut stops: BTreeMap<String, Acc> = BTreeMap::new();
    for f in active.values() {
        if f.planned {
            continue;
        }
        // Via a hub only when the hub itself is active and not already planned.
        let target = match f.hub_id.as_deref().and_then(|h| active.get(h)) {
            Some(hub) if !hub.planned => *hub,
            _ => *f,
        };
        let (earliest, next) = *chances.entry(target.id.as_str()).or_insert_with(|| {
            (
                rules.chance_on(&target.reach, day),
                rules.next_chance(&target.reach, day),
            )
        });
        // Due when the limit is reached at or before the next chance (no chance: now).
        let before_next = |t: NaiveDateTime| next.is_none_or(|n| t <= n);
        let mut reasons = Vec::new();
        let deadline = f
            .oldest_seal
            .map(|s| s + Duration::hours(rules.storage_limit_h));
        if deadline.is_some_and(before_next) {
            reasons.push(STORAGE_DEADLINE);
        }
        let interval_h = i64::from(f.interval_h).min(rules.interval_cap_h);
        let lapses = f.last_collected + Duration::hours(interval_h);
        let lapses = before_next(lapses).then_some(lapses);
        if lapses.is_some() {
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
        let via = target.id != f.id;
        let acc = stops.entry(target.id.clone()).or_insert_with(|| Acc {
            due: Due {
                stop: target.id.clone(),
                deadline: None,
                reasons: Vec::new(),
                expected_g: 0,
                expected_containers: 0,
                serves: Vec::new(),
                earliest,
                next_chance: next,
                late_by_min: None,
                explanation: String::new(),
            },
            lapses: None,
            villages: 0,
            away: 0,
        });
        let e = &mut acc.due;
        e.deadline = min_opt(e.deadline, deadline);
        acc.lapses = min_opt(acc.lapses, lapses);
        acc.villages += usize::from(via);
        for r in reasons.into_iter().chain(via.then_some(VIA_HUB)) {
            if !e.reasons.iter().any(|x| x == r) {
                e.reasons.push(r.to_owned());
            }
        }
        e.serves.push(f.id.clone());
    }
    // What a stop is expected to hand over is what is physically there: its own waste and,
    // at a hub, what its villages brought in (due or not: the driver takes it all), never
    // boxes still sitting in the villages.
    let mut villages: BTreeMap<&str, Vec<&Facts>> = BTreeMap::new();
    for f in active.values() {
        if let Some(h) = f.hub_id.as_deref() {
            villages.entry(h).or_default().push(f);
        }
    }
    for acc in stops.values_mut() {
        let stop = acc.due.stop.as_str();
        let own = active
            .get(stop)
            .map(|f| (*f, f.waiting_g, f.waiting_containers));
        let brought = villages
            .get(stop)
            .into_iter()
            .flatten()
            .map(|v| (*v, v.delivered_g, v.delivered_containers));
        let (mut g, mut n, mut away) = (0, 0, 0);
        for (f, here_g, here_n) in own.into_iter().chain(brought) {
            if acc.due.serves.contains(&f.id) {
                g += here_g.max(f.requested_g);
                n += here_n.max(f.requested_containers);
                if f.id != stop {
                    away += f.waiting_containers;
                }
            } else {
                g += here_g;
                n += here_n;
            }
        }
        acc.due.expected_g = g;
        acc.due.expected_containers = n;
        acc.away = away;
    }
    let mut out: Vec<Due> = stops
        .into_values()
        .map(|acc| finish(acc, rules, day))
        .collect();
    out.sort_by(|a, b| {
        b.overdue()
            .cmp(&a.overdue())
            .then_with(|| match (a.deadline, b.deadline) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
            .then(a.stop.cmp(&b.stop))
    });
    out
}

fn min_opt(a: Option<NaiveDateTime>, b: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Expected load, lateness and the dispatcher's sentence.
fn finish(acc: Acc, rules: &Rules, day: NaiveDate) -> Due {
    let Acc {
        due: mut d,
        lapses,
        villages,
        away,
    } = acc;
    if d.expected_g == 0 {
        d.expected_g = MIN_EXPECTED_G;
    }
    d.expected_containers = d.expected_containers.max(1);
    d.serves.sort();
    let w = |t: NaiveDateTime| rules.schedule.words(t, day);
    let next = match d.next_chance {
        Some(n) => format!("next possible visit {}", w(n)),
        None => format!("no possible visit in the next {LOOKAHEAD_DAYS} days (no working vehicle)"),
    };
    let mut parts = Vec::new();
    // The clocks that run out before the next chance, then the next chance once.
    let mut clocks = Vec::new();
    if let Some(dl) = d
        .deadline
        .filter(|_| d.reasons.iter().any(|r| r == STORAGE_DEADLINE))
    {
        // Late when the limit passes before the first possible visit of the day.
        let late = d
            .earliest
            .map(|e| (e - dl).num_seconds())
            .filter(|s| *s > 0)
            .map(|s| (s + 59) / 60);
        d.late_by_min = late;
        match (late, d.earliest) {
            (Some(m), Some(e)) => {
                d.reasons.insert(0, OVERDUE.to_owned());
                parts.push(format!(
                    "OVERDUE: {} h storage limit passed {}; the earliest visit {} is {} late: collect first",
                    rules.storage_limit_h,
                    w(dl),
                    w(e),
                    duration_words(m)
                ));
            }
            _ => clocks.push(format!(
                "deadline {} ({} h storage limit)",
                w(dl),
                rules.storage_limit_h
            )),
        }
    }
    if let Some(l) = lapses.filter(|_| d.reasons.iter().any(|r| r == INTERVAL_LAPSES)) {
        let past = d.earliest.unwrap_or_else(|| rules.schedule.origin(day));
        let verb = if l < past { "lapsed" } else { "lapses" };
        clocks.push(format!("collection interval {verb} {}", w(l)));
    }
    if !clocks.is_empty() {
        clocks.push(next);
        parts.push(clocks.join(", "));
    }
    if d.reasons.iter().any(|r| r == REQUESTED) {
        parts.push("a pickup was requested".to_owned());
    }
    if d.reasons.iter().any(|r| r == SKIPPED) {
        parts.push("a stop of the day was skipped".to_owned());
    }
    if villages > 0 {
        parts.push(format!(
            "collected here for {villages} institution{} delivering to this hub",
            if villages == 1 { "" } else { "s" }
        ));
    }
    if away > 0 {
        parts.push(format!(
            "{away} of their container{} still in the villages, not yet brought to the hub",
            if away == 1 { " is" } else { "s are" }
        ));
    }
    d.explanation = parts.join("; ");
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, day).expect("date")
    }

    /// Local time (UTC+8) on 2026-03-`day`, as UTC. 2026-03-02 is a Monday.
    fn local(day: u32, h: u32, m: u32) -> NaiveDateTime {
        date(day).and_hms_opt(h, m, 0).expect("time") - Duration::hours(8)
    }

    fn schedule() -> Schedule {
        Schedule {
            tz: FixedOffset::east_opt(8 * 3600).expect("tz"),
            work_days: WorkDays::default(),
            holidays: BTreeSet::new(),
            ..Schedule::default()
        }
    }

    const H: f64 = 3600.0;

    /// One vehicle 07:30-17:30, normal mode.
    fn rules() -> Rules {
        Rules::new(schedule(), vec![(7.5 * H, 17.5 * H)], false)
    }

    /// A 48 h interval comes round every other working day; a Sunday off (Sat-Mon) pulls the
    /// next visit after Friday's forward to Saturday; 24 h means every working day.
    #[test]
    fn due_again_counts_the_interval_over_working_days() {
        let reach = Reach {
            travel_s: 1800.0,
            windows: vec![TimeWindow {
                start: 8.0 * H,
                end: 17.5 * H,
            }],
            service_s: 300.0,
        };
        // 2026-03-02 is a Monday.
        let days: Vec<NaiveDate> = (2..=8).map(date).collect();
        let r = rules();
        assert_eq!(r.due_again(&reach, 48, &days, 0), Some(2));
        assert_eq!(r.due_again(&reach, 24, &days, 0), Some(1));
        assert_eq!(
            r.due_again(&reach, 48, &days, 5),
            None,
            "beyond the horizon"
        );
        let mut s = schedule();
        s.work_days = WorkDays::parse("mon-sat").expect("days");
        let r = Rules::new(s, vec![(7.5 * H, 17.5 * H)], false);
        // Visited Friday 03-06: lapses Sunday; the next chance after Saturday is Monday.
        assert_eq!(r.due_again(&reach, 48, &days, 4), Some(5));
    }

    /// 20 minutes from the plant, open 08:00-12:00 and 14:00-17:30.
    fn clinic_reach() -> Reach {
        Reach {
            travel_s: 20.0 * 60.0,
            windows: vec![
                TimeWindow {
                    start: 8.0 * H,
                    end: 12.0 * H,
                },
                TimeWindow {
                    start: 14.0 * H,
                    end: 17.5 * H,
                },
            ],
            service_s: 200.0,
        }
    }

    fn facts(id: &str) -> Facts {
        Facts {
            id: id.into(),
            active: true,
            hub_id: None,
            interval_h: 48,
            last_collected: local(2, 9, 0),
            oldest_seal: None,
            waiting_g: 0,
            waiting_containers: 0,
            delivered_g: 0,
            delivered_containers: 0,
            requested_g: 0,
            requested_containers: 0,
            has_request: false,
            planned: false,
            skipped: false,
            reach: clinic_reach(),
        }
    }

    fn sealed(id: &str, at: NaiveDateTime) -> Facts {
        let mut f = facts(id);
        f.oldest_seal = Some(at);
        f.last_collected = at; // the last pickup, just before the seal
        f.waiting_g = 1500;
        f.waiting_containers = 2;
        f
    }

    fn ids(d: &[Due]) -> Vec<&str> {
        d.iter().map(|d| d.stop.as_str()).collect()
    }

    #[test]
    fn a_seal_at_eight_is_due_the_day_before_its_deadline_day() {
        // Sealed Monday 08:00: the 48 h limit ends Wednesday 08:00. Wednesday's first run
        // can be there only at 08:10 (40 min away), so Tuesday must collect it.
        let mut a = sealed("a", local(2, 8, 0));
        a.reach.travel_s = 40.0 * 60.0;
        assert!(
            due(std::slice::from_ref(&a), &rules(), date(2)).is_empty(),
            "Monday"
        );
        let d = due(std::slice::from_ref(&a), &rules(), date(3));
        assert_eq!(ids(&d), ["a"], "Tuesday");
        assert_eq!(d[0].deadline, Some(local(4, 8, 0)));
        assert_eq!(d[0].next_chance, Some(local(4, 8, 10)));
        assert_eq!(d[0].reasons, [STORAGE_DEADLINE, INTERVAL_LAPSES]);
        assert_eq!(d[0].late_by_min, None);
        assert_eq!(
            d[0].explanation,
            "deadline 08:00 tomorrow (48 h storage limit), \
             collection interval lapses 08:00 tomorrow, next possible visit 08:10 tomorrow"
        );
        assert_eq!((d[0].expected_g, d[0].expected_containers), (1500, 2));
    }

    #[test]
    fn a_deadline_exactly_at_opening_time() {
        // 20 min away: Wednesday's first run waits for the door to open at 08:00. A limit
        // ending exactly then leaves no slack: due on Tuesday. One minute later: Wednesday
        // can still meet it, and Wednesday then must.
        let a = sealed("a", local(2, 8, 0));
        assert_eq!(ids(&due(&[a], &rules(), date(3))), ["a"]);
        let b = sealed("b", local(2, 8, 1));
        assert!(due(std::slice::from_ref(&b), &rules(), date(3)).is_empty());
        let d = due(&[b], &rules(), date(4));
        assert_eq!(ids(&d), ["b"]);
        assert_eq!(d[0].earliest, Some(local(4, 8, 0)));
        assert_eq!(d[0].late_by_min, None, "08:00 meets 08:01");
    }

    #[test]
    fn overnight_deadlines_are_served_the_evening_before() {
        // Sealed Sunday 03:10: the limit ends Tuesday 03:10, before any run of Tuesday.
        let a = sealed("a", local(1, 3, 10));
        let d = due(std::slice::from_ref(&a), &rules(), date(2));
        assert_eq!(ids(&d), ["a"]);
        assert!(
            d[0].explanation
                .starts_with("deadline 03:10 tomorrow (48 h storage limit)")
                && d[0]
                    .explanation
                    .ends_with("next possible visit 08:00 tomorrow"),
            "{d:?}"
        );
        // Planned for Tuesday instead, it is already late: due first, with its lateness.
        let mut near = facts("near");
        near.oldest_seal = Some(local(1, 7, 40)); // 07:40 Tuesday: reachable at 07:30
        near.reach = Reach {
            travel_s: 0.0,
            windows: Vec::new(),
            service_s: 200.0,
        };
        let d = due(&[near, a], &rules(), date(3));
        assert_eq!(
            ids(&d),
            ["a", "near"],
            "overdue first, whatever the deadlines"
        );
        assert_eq!(d[0].late_by_min, Some(4 * 60 + 50));
        assert_eq!(d[0].reasons, [OVERDUE, STORAGE_DEADLINE, INTERVAL_LAPSES]);
        assert!(
            d[0].explanation.starts_with(
            "OVERDUE: 48 h storage limit passed 03:10 today; the earliest visit 08:00 today is 4 h 50 min late: collect first; \
             collection interval lapsed 03:10 today, next possible visit 08:00 tomorrow"
            ),
            "{d:?}"
        );
        assert_eq!(d[1].late_by_min, None);
        assert_eq!(d[1].earliest, Some(local(3, 7, 30)));
    }

    #[test]
    fn days_without_runs_move_deadlines_forward() {
        // Saturday 2026-03-07; the limit ends Sunday 14:00.
        let a = sealed("a", local(6, 14, 0));
        assert!(
            due(std::slice::from_ref(&a), &rules(), date(7)).is_empty(),
            "runs on Sunday"
        );
        let mut r = rules();
        r.schedule.work_days = WorkDays::parse("mon-sat").expect("days");
        let d = due(std::slice::from_ref(&a), &r, date(7));
        assert_eq!(ids(&d), ["a"], "no run on Sunday: Saturday collects");
        assert_eq!(d[0].next_chance, Some(local(9, 8, 0)));
        assert!(
            d[0].explanation
                .starts_with("deadline 14:00 tomorrow (48 h storage limit)")
                && d[0]
                    .explanation
                    .ends_with("next possible visit 08:00 Mon 2026-03-09"),
            "{d:?}"
        );
        // A holiday on Sunday and Monday, every weekday worked.
        let mut r = rules();
        r.schedule.holidays = [date(8), date(9)].into_iter().collect();
        let d = due(&[a], &r, date(7));
        assert_eq!(d[0].next_chance, Some(local(10, 8, 0)));
    }

    #[test]
    fn epidemic_mode_keeps_waste_24_hours() {
        // Sealed Tuesday 07:00: 24 h end Wednesday 07:00, before Wednesday's 08:00.
        let a = sealed("a", local(3, 7, 0));
        assert!(due(std::slice::from_ref(&a), &rules(), date(3)).is_empty());
        let epidemic = Rules::new(schedule(), vec![(7.5 * H, 17.5 * H)], true);
        assert_eq!(epidemic.storage_limit_h, 24);
        let d = due(&[a], &epidemic, date(3));
        assert_eq!(ids(&d), ["a"]);
        assert_eq!(d[0].deadline, Some(local(4, 7, 0)));
        assert!(d[0].explanation.contains("24 h storage limit"), "{d:?}");
        // And no interval longer than 24 h.
        let mut b = facts("b");
        b.last_collected = local(3, 7, 0);
        assert_eq!(due(&[b], &epidemic, date(3))[0].reasons, [INTERVAL_LAPSES]);
    }

    #[test]
    fn intervals_lapse_before_the_next_chance() {
        // Collected Monday 07:00, every 48 h: lapses Wednesday 07:00, before 08:00.
        let mut a = facts("a");
        a.last_collected = local(2, 7, 0);
        let d = due(std::slice::from_ref(&a), &rules(), date(3));
        assert_eq!(d[0].reasons, [INTERVAL_LAPSES]);
        assert_eq!(
            d[0].explanation,
            "collection interval lapses 07:00 tomorrow, next possible visit 08:00 tomorrow"
        );
        a.last_collected = local(2, 9, 0);
        assert!(due(&[a], &rules(), date(3)).is_empty());
    }

    #[test]
    fn no_fleet_means_no_next_chance() {
        let mut r = rules();
        r.shifts.clear();
        let d = due(&[sealed("a", local(3, 7, 0))], &r, date(3));
        assert_eq!(d[0].next_chance, None);
        assert!(d[0].explanation.contains("no possible visit"), "{d:?}");
        // A stop too far to reach and return within the shift has no chance either.
        let mut far = facts("far");
        far.reach.travel_s = 6.0 * H;
        assert_eq!(rules().chance_on(&far.reach, date(3)), None);
    }

    #[test]
    fn requests_and_skips() {
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
        let d = due(&[asked, skipped, planned, inactive], &rules(), date(3));
        let got: Vec<(&str, Vec<String>, i64)> = d
            .iter()
            .map(|d| (d.stop.as_str(), d.reasons.clone(), d.expected_g))
            .collect();
        assert_eq!(
            got,
            [
                ("asked", vec![REQUESTED.to_owned()], 4000),
                ("skipped", vec![SKIPPED.to_owned()], MIN_EXPECTED_G),
            ]
        );
        assert_eq!(d[0].explanation, "a pickup was requested");
    }

    #[test]
    fn villages_are_served_at_their_hub_by_the_hubs_chances() {
        let mut hub = facts("hub");
        hub.reach.travel_s = 50.0 * 60.0; // first possible visit 08:20
        let mut v1 = sealed("v1", local(1, 8, 10));
        v1.hub_id = Some("hub".into());
        v1.reach.travel_s = 0.0; // the village itself is reachable at 08:00: irrelevant
        let mut v2 = sealed("v2", local(1, 9, 0));
        v2.hub_id = Some("hub".into());
        let d = due(&[hub, v1, v2], &rules(), date(3));
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].stop, "hub");
        assert_eq!(d[0].deadline, Some(local(3, 8, 10)));
        assert_eq!(d[0].late_by_min, Some(10), "the hub is reached at 08:20");
        assert_eq!(d[0].serves, ["v1", "v2"]);
        assert_eq!(
            d[0].reasons,
            [OVERDUE, STORAGE_DEADLINE, INTERVAL_LAPSES, VIA_HUB]
        );
        assert!(
            d[0].explanation.ends_with(
                "collected here for 2 institutions delivering to this hub; \
                 4 of their containers are still in the villages, not yet brought to the hub"
            ),
            "{d:?}"
        );
        assert_eq!(
            (d[0].expected_g, d[0].expected_containers),
            (MIN_EXPECTED_G, 1)
        );
        // An inactive hub: the villages are visited at their door.
        let mut hub = facts("hub");
        hub.active = false;
        let mut v1 = facts("v1");
        v1.hub_id = Some("hub".into());
        v1.has_request = true;
        assert_eq!(due(&[hub, v1], &rules(), date(3))[0].stop, "v1");
    }

    #[test]
    fn a_hub_stop_expects_what_is_at_the_hub() {
        // The hub asked for a pickup; one village brought two boxes in, another still holds
        // six (sealed this morning, not due): the stop expects the hub's box and the two.
        let mut hub = facts("hub");
        hub.has_request = true;
        hub.requested_containers = 1;
        hub.requested_g = 800;
        let mut brought = facts("v1");
        brought.hub_id = Some("hub".into());
        brought.oldest_seal = Some(local(3, 7, 0));
        brought.last_collected = local(3, 7, 0);
        brought.delivered_g = 2000;
        brought.delivered_containers = 2;
        let mut home = facts("v2");
        home.hub_id = Some("hub".into());
        home.oldest_seal = Some(local(3, 7, 0));
        home.last_collected = local(3, 7, 0);
        home.waiting_g = 6000;
        home.waiting_containers = 6;
        let d = due(&[hub, brought, home.clone()], &rules(), date(3));
        assert_eq!(ids(&d), ["hub"]);
        assert_eq!(d[0].serves, ["hub"]);
        assert_eq!((d[0].expected_g, d[0].expected_containers), (2800, 3));
        assert_eq!(d[0].explanation, "a pickup was requested");
        // Once the home village is due, its six boxes are named as still away.
        home.has_request = true;
        let d = due(&[facts("hub"), home], &rules(), date(3));
        assert_eq!(d[0].expected_containers, 1, "nothing is at the hub yet");
        assert!(
            d[0].explanation.ends_with(
                "6 of their containers are still in the villages, not yet brought to the hub"
            ),
            "{d:?}"
        );
    }

    #[test]
    fn work_days_parse() {
        let d = WorkDays::parse("mon-sat").expect("mon-sat");
        assert!(d.contains(Weekday::Sat) && !d.contains(Weekday::Sun));
        let d = WorkDays::parse(" Fri-Mon , wed").expect("wrap");
        assert!(d.contains(Weekday::Sun) && d.contains(Weekday::Wed) && !d.contains(Weekday::Tue));
        assert!(WorkDays::parse("weekdays").is_none());
        assert!(WorkDays::parse("").is_none());
        assert_eq!(
            WorkDays::default(),
            WorkDays::parse("mon-sun").expect("all")
        );
    }
}
