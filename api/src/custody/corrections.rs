//! Corrections (更正), approved: scans are append-only, so a mistyped weight or a wrong
//! category is corrected by a request that the other parties of the container's custody
//! approve or refuse (Trackdechets' revision requests, e-Manifest's corrections). The
//! request, every decision and the original value are kept; an approved correction is
//! applied as a new event in the container's hash chain, never as an edit of a stored scan.
//!
//! Here are the rules as plain functions; `store::corrections` applies them to the database.

use std::collections::BTreeSet;

use yifei_contract::{CorrectionStatus, Role};

/// The parties of a container's custody: the producing institution, and the disposal
/// companies whose staff scanned it (pickup, plant, refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    pub institution: String,
    pub companies: BTreeSet<String>,
}

impl Parties {
    /// The party the caller speaks for on this container, if any: an institution's staff for
    /// the institution, a company's staff for a company that handled it.
    pub fn of_caller(&self, role: Role, tenant: Option<&str>) -> Option<String> {
        let tenant = tenant?;
        match role {
            Role::ClinicStaff | Role::HubKeeper => {
                (tenant == self.institution).then(|| tenant.to_owned())
            }
            Role::Driver | Role::Dispatcher | Role::PlantOperator => {
                self.companies.contains(tenant).then(|| tenant.to_owned())
            }
            Role::Admin | Role::BureauStaff => None,
        }
    }

    /// Every party but the requester's: they must all approve.
    pub fn others(&self, requester: &str) -> BTreeSet<String> {
        std::iter::once(self.institution.clone())
            .chain(self.companies.iter().cloned())
            .filter(|p| p != requester)
            .collect()
    }
}

/// Why a decision cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteError {
    /// The request is no longer pending.
    Decided,
    /// The voter's party made the request (nobody approves their own correction).
    OwnRequest,
    /// The voter's party is not among those asked.
    NotAsked,
    /// The voter's party decided already.
    AlreadyDecided,
}

/// Checks a party's decision and returns the status after it: one refusal refuses the
/// request, the last approval approves it.
pub fn decide(
    status: CorrectionStatus,
    requester: &str,
    asked: &BTreeSet<String>,
    decided: &BTreeSet<String>,
    voter: &str,
    approve: bool,
) -> Result<CorrectionStatus, VoteError> {
    if status != CorrectionStatus::Pending {
        return Err(VoteError::Decided);
    }
    if voter == requester {
        return Err(VoteError::OwnRequest);
    }
    if !asked.contains(voter) {
        return Err(VoteError::NotAsked);
    }
    if decided.contains(voter) {
        return Err(VoteError::AlreadyDecided);
    }
    if !approve {
        return Ok(CorrectionStatus::Refused);
    }
    let all = asked.iter().all(|p| p == voter || decided.contains(p));
    Ok(if all {
        CorrectionStatus::Approved
    } else {
        CorrectionStatus::Pending
    })
}

/// Which scans carry a weight that may be corrected.
pub fn weight_correctable(action: &str) -> bool {
    matches!(action, "seal" | "collect" | "receive")
}

/// The manifest field a corrected scan's weight is shown in.
pub fn weight_field(action: &str) -> Option<&'static str> {
    match action {
        "seal" => Some("seal_kg"),
        "collect" => Some("collect_kg"),
        "receive" => Some("receive_kg"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parties() -> Parties {
        Parties {
            institution: "clinic".into(),
            companies: ["company".to_owned()].into(),
        }
    }

    #[test]
    fn parties_are_those_who_handled_the_container() {
        let p = parties();
        assert_eq!(
            p.of_caller(Role::ClinicStaff, Some("clinic")).as_deref(),
            Some("clinic")
        );
        assert_eq!(p.of_caller(Role::ClinicStaff, Some("other")), None);
        assert_eq!(
            p.of_caller(Role::PlantOperator, Some("company")).as_deref(),
            Some("company")
        );
        assert_eq!(
            p.of_caller(Role::Driver, Some("another company")),
            None,
            "a company that never handled it"
        );
        assert_eq!(p.of_caller(Role::BureauStaff, Some("clinic")), None);
        assert_eq!(p.others("clinic"), ["company".to_owned()].into());
        assert_eq!(p.others("company"), ["clinic".to_owned()].into());
    }

    #[test]
    fn nobody_approves_their_own_and_one_refusal_refuses() {
        use CorrectionStatus::*;
        let asked: BTreeSet<String> = ["clinic".to_owned()].into();
        let none = BTreeSet::new();
        assert_eq!(
            decide(Pending, "company", &asked, &none, "company", true),
            Err(VoteError::OwnRequest)
        );
        assert_eq!(
            decide(Pending, "company", &asked, &none, "elsewhere", true),
            Err(VoteError::NotAsked)
        );
        assert_eq!(
            decide(Pending, "company", &asked, &none, "clinic", true),
            Ok(Approved)
        );
        assert_eq!(
            decide(Pending, "company", &asked, &none, "clinic", false),
            Ok(Refused)
        );
        assert_eq!(
            decide(Approved, "company", &asked, &none, "clinic", true),
            Err(VoteError::Decided)
        );
        let two: BTreeSet<String> = ["a".to_owned(), "b".to_owned()].into();
        assert_eq!(decide(Pending, "r", &two, &none, "a", true), Ok(Pending));
        let a: BTreeSet<String> = ["a".to_owned()].into();
        assert_eq!(decide(Pending, "r", &two, &a, "b", true), Ok(Approved));
        assert_eq!(
            decide(Pending, "r", &two, &a, "a", true),
            Err(VoteError::AlreadyDecided)
        );
    }

    #[test]
    fn weights_of_hand_overs_are_correctable() {
        assert!(weight_correctable("collect"));
        assert!(!weight_correctable("dispose"));
        assert_eq!(weight_field("receive"), Some("receive_kg"));
        assert_eq!(weight_field("nest"), None);
    }
}
