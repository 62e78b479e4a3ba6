//! Disposal methods (处置方式): a closed list, so that what the plant did can be counted by
//! method, and `other: <text>` for anything else, which must then say what it was.

/// The listed methods, as sent in a `dispose` scan's `method`.
pub const METHODS: [&str; 4] = [
    "incineration",
    "high_temperature_steam",
    "microwave",
    "chemical_disinfection",
];

/// Whether `method` is a listed method or `other: <text>` with some text.
pub fn is_valid(method: &str) -> bool {
    let m = method.trim();
    METHODS.contains(&m)
        || m.strip_prefix("other:")
            .is_some_and(|text| !text.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_the_list_or_say_what_they_were() {
        for m in METHODS {
            assert!(is_valid(m), "{m}");
        }
        assert!(is_valid(" microwave "));
        assert!(is_valid("other: 等离子体"));
        assert!(!is_valid("other"));
        assert!(!is_valid("other:  "));
        assert!(!is_valid("burning"));
        assert!(!is_valid("Incineration"));
        assert!(!is_valid(""));
    }
}
