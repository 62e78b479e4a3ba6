//! Refusal at the door (拒收): the driver declines one container at pickup, with a reason from
//! a closed list so that refusals can be counted by cause, or `other: <text>` which must then
//! say what was wrong. The container stays with the institution (its state and storage clock
//! are untouched); the manifest of the run lists it as refused and the clinic is alerted.

/// The listed reasons, as sent in a `refuse` scan's `reason`, with their printed words.
pub const REASONS: [(&str, &str); 3] = [
    ("broken", "容器破损"),
    ("unlabelled", "无标签或标签不清"),
    ("wrong_packaging", "包装不符合要求"),
];

/// Whether `reason` is a listed reason or `other: <text>` with some text.
pub fn is_valid(reason: &str) -> bool {
    let r = reason.trim();
    REASONS.iter().any(|(code, _)| *code == r)
        || r.strip_prefix("other:")
            .is_some_and(|text| !text.trim().is_empty())
}

/// The reason in Chinese words, as the manifest prints it. A code unknown to the list (a
/// plant's free-text rejection) is printed as given.
pub fn words(reason: &str) -> String {
    let r = reason.trim();
    if let Some((_, zh)) = REASONS.iter().find(|(code, _)| *code == r) {
        return (*zh).to_owned();
    }
    match r.strip_prefix("other:") {
        Some(text) => format!("其他：{}", text.trim()),
        None => r.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_come_from_the_list_or_say_what_was_wrong() {
        for (code, _) in REASONS {
            assert!(is_valid(code), "{code}");
        }
        assert!(is_valid(" broken "));
        assert!(is_valid("other: 袋口未扎紧"));
        assert!(!is_valid("other"));
        assert!(!is_valid("other:   "));
        assert!(!is_valid("Broken"));
        assert!(!is_valid("leaking"));
        assert!(!is_valid(""));
    }

    #[test]
    fn reasons_print_in_words() {
        assert_eq!(words("broken"), "容器破损");
        assert_eq!(words("unlabelled"), "无标签或标签不清");
        assert_eq!(words("wrong_packaging"), "包装不符合要求");
        assert_eq!(words("other: 袋口未扎紧 "), "其他：袋口未扎紧");
        assert_eq!(
            words("包装渗漏"),
            "包装渗漏",
            "free text is printed as given"
        );
    }
}
