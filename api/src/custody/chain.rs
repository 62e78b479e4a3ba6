//! Tamper evidence: each container's events form a hash chain in arrival order. Each event
//! stores the hash of its predecessor and its own hash over its content; the container stores
//! the head. Editing, deleting or reordering a stored event breaks the chain.

use sha2::{Digest, Sha256};

/// The chained content of an event.
#[derive(Debug, Clone)]
pub struct Chained<'a> {
    pub event_id: &'a str,
    pub container_id: &'a str,
    pub seq: i32,
    pub action: &'a str,
    pub occurred_at: chrono::NaiveDateTime,
    pub received_at: chrono::NaiveDateTime,
    pub actor_id: &'a str,
    pub actor_role: &'a str,
    pub weight_g: Option<i32>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub run_id: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub method: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub via_parent: Option<&'a str>,
    pub parent_code: Option<&'a str>,
    pub weight_source: Option<&'a str>,
    pub batch: Option<&'a str>,
    pub disposed_at: Option<chrono::NaiveDateTime>,
    pub corrects: Option<&'a str>,
    pub new_value: Option<&'a str>,
}

/// The chain's starting point for a container.
pub fn genesis(container_id: &str) -> String {
    format!(
        "{:x}",
        Sha256::digest(format!("yifei-custody-v1:{container_id}").as_bytes())
    )
}

/// Hash of an event linked to `prev`. Fields are length-prefixed so that no two different
/// events serialise alike; timestamps at microsecond precision (what both databases keep).
pub fn hash(prev: &str, e: &Chained<'_>) -> String {
    let opt = |v: Option<&str>| {
        v.map(|s| format!("{}:{s}", s.len()))
            .unwrap_or_else(|| "-".into())
    };
    let num = |v: Option<f64>| v.map(|x| format!("{x:.7}")).unwrap_or_else(|| "-".into());
    let ts = |t: chrono::NaiveDateTime| t.and_utc().timestamp_micros().to_string();
    let text = [
        prev.to_owned(),
        opt(Some(e.event_id)),
        opt(Some(e.container_id)),
        e.seq.to_string(),
        opt(Some(e.action)),
        ts(e.occurred_at),
        ts(e.received_at),
        opt(Some(e.actor_id)),
        opt(Some(e.actor_role)),
        e.weight_g
            .map(|w| w.to_string())
            .unwrap_or_else(|| "-".into()),
        num(e.lat),
        num(e.lng),
        opt(e.run_id),
        opt(e.reason),
        opt(e.method),
        opt(e.device_id),
        opt(e.via_parent),
        opt(e.parent_code),
    ]
    .join("|");
    // Fields added later (issue 17) are appended only when present, so that every event
    // stored before them keeps its hash and old chains still verify.
    let mut text = text;
    if e.weight_source.is_some()
        || e.batch.is_some()
        || e.disposed_at.is_some()
        || e.corrects.is_some()
        || e.new_value.is_some()
    {
        text.push_str("|v2|");
        text.push_str(
            &[
                opt(e.weight_source),
                opt(e.batch),
                e.disposed_at.map(ts).unwrap_or_else(|| "-".into()),
                opt(e.corrects),
                opt(e.new_value),
            ]
            .join("|"),
        );
    }
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_changes_the_hash() {
        let t = chrono::DateTime::from_timestamp(1_772_400_000, 123_456_000)
            .expect("t")
            .naive_utc();
        let e = Chained {
            event_id: "e1",
            container_id: "c1",
            seq: 1,
            action: "seal",
            occurred_at: t,
            received_at: t,
            actor_id: "u1",
            actor_role: "clinic_staff",
            weight_g: Some(1200),
            lat: None,
            lng: None,
            run_id: None,
            reason: None,
            method: None,
            device_id: Some("phone-1"),
            via_parent: None,
            parent_code: None,
            weight_source: None,
            batch: None,
            disposed_at: None,
            corrects: None,
            new_value: None,
        };
        let g = genesis("c1");
        let h = hash(&g, &e);
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash(&g, &e.clone()), "deterministic");
        assert_ne!(
            h,
            hash(
                &g,
                &Chained {
                    weight_g: Some(1201),
                    ..e.clone()
                }
            )
        );
        assert_ne!(h, hash(&genesis("c2"), &e));
        let estimated = Chained {
            weight_source: Some("estimated"),
            ..e.clone()
        };
        assert_ne!(h, hash(&g, &estimated), "the source is chained");
        assert_ne!(
            hash(&g, &estimated),
            hash(
                &g,
                &Chained {
                    batch: Some("estimated"),
                    ..e.clone()
                }
            )
        );
        assert_ne!(
            h,
            hash(
                &g,
                &Chained {
                    device_id: None,
                    reason: Some("phone-1"),
                    ..e.clone()
                }
            )
        );
    }
}
