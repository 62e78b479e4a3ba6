//! Label codes: 11 random Crockford base-32 characters and a Luhn mod 32 check character.
//!
//! Crockford's alphabet has no I, L, O or U, so a code survives being read aloud and typed
//! by hand; the check character catches every single wrong character and every swap of two
//! adjacent ones except `0`<->`Z`, so a mistyped code is refused instead of matching another
//! container.
//! 55 random bits make an accidental match of a multiply-mistyped code negligible.

use crate::error::ApiError;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters of a code, check character included.
pub const CODE_LEN: usize = 12;

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
}

/// Luhn mod N check character of `payload` (all characters from the alphabet).
fn check_char(payload: &[u8]) -> u8 {
    let n = 32;
    let mut factor = 2;
    let mut sum = 0;
    for c in payload.iter().rev() {
        let addend = factor * value(*c).unwrap_or(0);
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / n + addend % n;
    }
    ALPHABET[((n - sum % n) % n) as usize]
}

/// A fresh random code (canonical form).
pub fn generate() -> Result<String, ApiError> {
    let bytes = crate::auth::tokens::random_bytes::<8>()?;
    let mut bits = u64::from_le_bytes(bytes);
    let mut code = Vec::with_capacity(CODE_LEN);
    for _ in 0..CODE_LEN - 1 {
        code.push(ALPHABET[(bits & 31) as usize]);
        bits >>= 5;
    }
    code.push(check_char(&code));
    Ok(String::from_utf8_lossy(&code).into_owned())
}

/// Why an input is not a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Wrong length or characters: not a label code at all.
    Malformed,
    /// Looks like a code but the check character does not match: a typo.
    Mistyped,
}

/// The canonical code of what a scanner read or a person typed: case, dashes and spaces are
/// ignored, and the look-alikes I/L (for 1) and O (for 0) are accepted.
pub fn parse(input: &str) -> Result<String, CodeError> {
    let input = input.trim();
    // The QR prefix, in any case (`yf1:` from a scanner app that lowercases).
    let input = match input.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("YF1:") => &input[4..],
        _ => input,
    };
    let mut code = Vec::with_capacity(CODE_LEN);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || value(c as u8).is_none() || code.len() == CODE_LEN {
            return Err(CodeError::Malformed);
        }
        code.push(c as u8);
    }
    if code.len() != CODE_LEN {
        return Err(CodeError::Malformed);
    }
    if check_char(&code[..CODE_LEN - 1]) != code[CODE_LEN - 1] {
        return Err(CodeError::Mistyped);
    }
    Ok(String::from_utf8_lossy(&code).into_owned())
}

/// The code as printed: `XXXX-XXXX-XXXX`.
pub fn display(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What the QR code carries: a prefix (so that the app can tell our labels from other QR
/// codes, and the format can evolve) and the code.
pub fn qr_payload(code: &str) -> String {
    format!("YF1:{code}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_codes_parse_back_in_every_written_form() {
        for _ in 0..200 {
            let c = generate().expect("code");
            assert_eq!(c.len(), CODE_LEN);
            assert_eq!(parse(&c), Ok(c.clone()));
            assert_eq!(parse(&display(&c).to_lowercase()), Ok(c.clone()));
            assert_eq!(parse(&qr_payload(&c)), Ok(c.clone()));
            assert_eq!(parse(&qr_payload(&c).to_lowercase()), Ok(c.clone()));
            assert_eq!(parse(&format!("Yf1:{}", display(&c))), Ok(c.clone()));
        }
    }

    #[test]
    fn every_single_typo_and_adjacent_swap_is_caught() {
        let c = generate().expect("code");
        let b = c.as_bytes();
        for i in 0..CODE_LEN {
            for a in ALPHABET.iter().filter(|a| **a != b[i]) {
                let mut t = b.to_vec();
                t[i] = *a;
                assert_eq!(
                    parse(&String::from_utf8_lossy(&t)),
                    Err(CodeError::Mistyped)
                );
            }
            // The one blind spot of Luhn mod 32: the two extreme symbols swapped.
            let blind = matches!(
                (b[i], b.get(i + 1)),
                (b'0', Some(b'Z')) | (b'Z', Some(b'0'))
            );
            if i + 1 < CODE_LEN && b[i] != b[i + 1] && !blind {
                let mut t = b.to_vec();
                t.swap(i, i + 1);
                assert_eq!(
                    parse(&String::from_utf8_lossy(&t)),
                    Err(CodeError::Mistyped),
                    "swap at {i}"
                );
            }
        }
    }

    #[test]
    fn look_alikes_and_garbage() {
        let c = generate().expect("code");
        let with_o = c.replace('0', "O");
        assert_eq!(parse(&with_o), Ok(c.clone()));
        assert_eq!(parse("ABC"), Err(CodeError::Malformed));
        assert_eq!(parse(&format!("{c}0")), Err(CodeError::Malformed));
        assert_eq!(parse("UUUUUUUUUUUU"), Err(CodeError::Malformed));
        assert_eq!(parse("中文中文中文中文中文中文"), Err(CodeError::Malformed));
        assert_eq!(display("ABCDEFGHJKMN"), "ABCD-EFGH-JKMN");
    }
}
