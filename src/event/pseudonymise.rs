//! NHS number checking and pseudonymisation (SPEC 3.4): the raw number is turned into a keyed
//! HMAC-SHA256 pseudonym here and nowhere else, so it never reaches disk, logs or metrics.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;

/// Whether `s` is 10 ASCII digits whose last digit is the NHS modulus-11 check digit.
///
/// Weights 10..2 apply to the first nine digits; check = 11 − (sum mod 11), where 11 means 0
/// and 10 means the number can never be valid.
pub fn is_valid_nhs_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.len() != 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    u32::from(bytes[9] - b'0') == check
}

/// Keyed pseudonymiser. The key is secret: `Debug` never prints it.
#[derive(Clone)]
pub struct Pseudonymiser {
    mac: Hmac<Sha256>,
}

impl Pseudonymiser {
    /// A pseudonymiser keyed with the UTF-8 bytes of `key`.
    pub fn new(key: &str) -> Self {
        // HMAC accepts keys of any length, so this cannot fail.
        let mac =
            Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("hmac takes any key length");
        Pseudonymiser { mac }
    }

    /// Lowercase hex of HMAC-SHA256(key, nhs_number).
    pub fn pseudonym(&self, nhs_number: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(nhs_number.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymiser { key: \"[REDACTED]\" }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_11_check_digit() {
        // 943 476 5919 is the NHS's own published example of a valid number.
        assert!(is_valid_nhs_number("9434765919"));
        assert!(!is_valid_nhs_number("9434765918"), "wrong check digit");
        assert!(!is_valid_nhs_number("943476591"), "nine digits");
        assert!(!is_valid_nhs_number("943 476 5919"), "spaces");
        assert!(!is_valid_nhs_number("94347659l9"), "letter");
        // 100000000|1: sum = 10 → check 11 − 10 = 1.
        assert!(is_valid_nhs_number("1000000001"));
        assert!(
            !is_valid_nhs_number("1000000010"),
            "sum 12 → check 10: never valid"
        );
        // 0000000000: sum 0 → check 11 → 0, valid by arithmetic.
        assert!(is_valid_nhs_number("0000000000"));
    }

    #[test]
    fn check_of_ten_is_never_valid() {
        // First nine digits summing to 1 mod 11 give check 10: no last digit can be right.
        let stem = "100000000"; // 10 × 1 = 10 → 11 − 10 = 1
        assert!(is_valid_nhs_number(&format!("{stem}1")));
        let stem = "600000000"; // 60 mod 11 = 5 → 6
        assert!(is_valid_nhs_number(&format!("{stem}6")));
        let stem = "010000000"; // 9 → check 2
        assert!(is_valid_nhs_number(&format!("{stem}2")));
        let stem = "000000005"; // 5 × 2 = 10 → check 1
        assert!(is_valid_nhs_number(&format!("{stem}1")));
        let stem = "000000006"; // 6 × 2 = 12 ≡ 1 → check 10: impossible
        assert!((0..10).all(|d| !is_valid_nhs_number(&format!("{stem}{d}"))));
    }

    #[test]
    fn pseudonym_is_keyed_hex_sha256() {
        let a = Pseudonymiser::new("key-a");
        let b = Pseudonymiser::new("key-b");
        let p = a.pseudonym("9434765919");
        assert_eq!(p.len(), 64);
        assert!(p
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(p, a.pseudonym("9434765919"), "stable");
        assert_ne!(p, b.pseudonym("9434765919"), "keyed");
        assert!(!format!("{a:?}").contains("key-a"));
    }

    #[test]
    fn rfc4231_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let p = Pseudonymiser::new("Jefe").pseudonym("what do ya want for nothing?");
        assert_eq!(
            p,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
