//! Categories, packaging rules and label contents (医疗废物分类目录 2021, HJ 421).

use yifei_contract::{Category, FieldError, Packaging};

use crate::error::ApiError;

/// Hazardous-waste code, Chinese and English names of a category.
pub fn category_info(c: Category) -> (&'static str, &'static str, &'static str) {
    match c {
        Category::Infectious => ("841-001-01", "感染性废物", "Infectious waste"),
        Category::Sharps => ("841-002-01", "损伤性废物", "Sharps"),
        Category::Pathological => ("841-003-01", "病理性废物", "Pathological waste"),
        Category::Chemical => ("841-004-01", "化学性废物", "Chemical waste"),
        Category::Pharmaceutical => ("841-005-01", "药物性废物", "Pharmaceutical waste"),
    }
}

/// Printed packaging name.
pub fn packaging_name(p: Packaging) -> &'static str {
    match p {
        Packaging::Bag => "包装袋 yellow bag",
        Packaging::SharpsBox => "利器盒 sharps box",
        Packaging::Box => "周转箱 turnover box",
        Packaging::Drum => "包装桶 drum",
    }
}

/// Longest label note.
pub const MAX_NOTE_CHARS: usize = 200;

/// Checks the packaging rules and returns the normalised note and the special notes the label
/// must show. A broken rule is a 422 whose message starts with the rule's name.
pub fn check(
    category: Category,
    packaging: Packaging,
    note: Option<&str>,
) -> Result<(Option<String>, Vec<String>), ApiError> {
    let note = note
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let mut errors = Vec::new();
    let mut rule = |field: &str, name: &str, why: &str| {
        errors.push(FieldError {
            field: field.into(),
            message: format!("rule {name}: {why}"),
        })
    };
    if note
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS || n.chars().any(char::is_control))
    {
        rule(
            "note",
            "note_length",
            "a note is at most 200 printable characters",
        );
    }
    match (category, packaging) {
        (Category::Sharps, p) if p != Packaging::SharpsBox => rule(
            "packaging",
            "sharps_in_sharps_box",
            "sharps go only into a sharps box (利器盒)",
        ),
        (c, Packaging::SharpsBox) if c != Category::Sharps => rule(
            "packaging",
            "sharps_box_for_sharps",
            "a sharps box holds only sharps",
        ),
        (Category::Chemical, _) if note.is_none() => rule(
            "note",
            "chemical_components_note",
            "chemical waste needs a note naming its components",
        ),
        (Category::Pharmaceutical, Packaging::Bag) if note.is_none() => rule(
            "note",
            "pharmaceutical_in_bag_note",
            "pharmaceutical waste in an infectious-waste bag needs a label note",
        ),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut special = Vec::new();
    if category == Category::Pathological {
        special.push("低温贮存 cold chain: keep refrigerated".to_owned());
    }
    if category == Category::Sharps {
        special.push("防刺破 puncture hazard".to_owned());
    }
    if let Some(n) = &note {
        special.push(n.clone());
    }
    Ok((note, special))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_of(r: Result<(Option<String>, Vec<String>), ApiError>) -> String {
        match r {
            Err(ApiError::Validation(e)) => e[0]
                .message
                .split(':')
                .next()
                .unwrap_or_default()
                .to_owned(),
            other => panic!("expected a rule, got {other:?}"),
        }
    }

    #[test]
    fn packaging_rules() {
        use Category::*;
        use Packaging::*;
        assert_eq!(
            rule_of(check(Sharps, Bag, None)),
            "rule sharps_in_sharps_box"
        );
        assert_eq!(
            rule_of(check(Infectious, SharpsBox, None)),
            "rule sharps_box_for_sharps"
        );
        assert_eq!(
            rule_of(check(Chemical, Drum, Some("  "))),
            "rule chemical_components_note"
        );
        assert_eq!(
            rule_of(check(Pharmaceutical, Bag, None)),
            "rule pharmaceutical_in_bag_note"
        );
        assert!(check(Pharmaceutical, Box, None).is_ok());
        let (note, special) = check(Chemical, Drum, Some(" 甲醛 formaldehyde ")).expect("ok");
        assert_eq!(note.as_deref(), Some("甲醛 formaldehyde"));
        assert_eq!(special, ["甲醛 formaldehyde"]);
        let (_, special) = check(Pathological, Box, None).expect("ok");
        assert!(special[0].contains("cold chain"));
        assert!(check(Infectious, Bag, Some(&"x".repeat(201))).is_err());
    }
}
