//! Behavioural profile of the simulated health boards: referral volumes, waiting-time
//! performance, patient demographics, and NHS number generation (valid modulus 11).
//!
//! These are simulation parameters, not reference data: the pipeline's own board and local
//! authority lists live in the project's configuration.

use rand::Rng;

/// How one board behaves in the simulation.
#[derive(Debug)]
pub(crate) struct BoardProfile {
    /// ODS code, e.g. `7A1`.
    pub code: &'static str,
    /// Share of the Wales referral total (roughly the board's share of the population).
    pub weight: f64,
    /// Typical share of assessments within 28 days (Part 1a).
    pub p1a: f64,
    /// Typical share of interventions within 28 days of assessment (Part 1b).
    pub p1b: f64,
    /// Of the waits over 28 days, the share that still land within 56.
    pub within_56: f64,
    /// Share of patients preferring Welsh.
    pub welsh: f64,
    /// Weights of WIMD quintiles 1 (most deprived) … 5; referrals skew to deprived areas.
    pub wimd: [f64; 5],
    /// The board's local authorities (ONS W06 codes) weighted by population in thousands.
    pub las: &'static [(&'static str, f64)],
}

/// The seven boards. Betsi Cadwaladr (7A1) is the poor performer, as in the published series.
#[rustfmt::skip]
pub(crate) const BOARDS: [BoardProfile; 7] = [
    BoardProfile { code: "7A1", weight: 0.22, p1a: 0.55, p1b: 0.70, within_56: 0.55, welsh: 0.18,
        wimd: [0.18, 0.20, 0.22, 0.22, 0.18],
        las: &[("W06000001", 69.0), ("W06000002", 117.0), ("W06000003", 114.0),
               ("W06000004", 96.0), ("W06000005", 155.0), ("W06000006", 135.0)] },
    BoardProfile { code: "7A2", weight: 0.12, p1a: 0.85, p1b: 0.90, within_56: 0.75, welsh: 0.19,
        wimd: [0.12, 0.22, 0.28, 0.24, 0.14],
        las: &[("W06000008", 71.0), ("W06000009", 123.0), ("W06000010", 188.0)] },
    BoardProfile { code: "7A3", weight: 0.12, p1a: 0.78, p1b: 0.88, within_56: 0.70, welsh: 0.05,
        wimd: [0.28, 0.22, 0.18, 0.16, 0.16],
        las: &[("W06000011", 238.0), ("W06000012", 142.0)] },
    BoardProfile { code: "7A4", weight: 0.16, p1a: 0.90, p1b: 0.93, within_56: 0.80, welsh: 0.05,
        wimd: [0.26, 0.16, 0.16, 0.18, 0.24],
        las: &[("W06000014", 132.0), ("W06000015", 362.0)] },
    BoardProfile { code: "7A5", weight: 0.14, p1a: 0.72, p1b: 0.80, within_56: 0.65, welsh: 0.05,
        wimd: [0.34, 0.26, 0.18, 0.12, 0.10],
        las: &[("W06000013", 145.0), ("W06000016", 237.0), ("W06000024", 58.0)] },
    BoardProfile { code: "7A6", weight: 0.19, p1a: 0.88, p1b: 0.92, within_56: 0.80, welsh: 0.04,
        wimd: [0.30, 0.22, 0.18, 0.14, 0.16],
        las: &[("W06000018", 175.0), ("W06000019", 67.0), ("W06000020", 92.0),
               ("W06000021", 93.0), ("W06000022", 159.0)] },
    BoardProfile { code: "7A7", weight: 0.05, p1a: 0.93, p1b: 0.95, within_56: 0.85, welsh: 0.10,
        wimd: [0.04, 0.14, 0.34, 0.32, 0.16],
        las: &[("W06000023", 133.0)] },
];

/// Index into [`BOARDS`] of an ODS code.
pub(crate) fn board_index(code: &str) -> Option<usize> {
    BOARDS.iter().position(|b| b.code == code)
}

/// Referral volume by calendar month (Jan … Dec), averaging exactly 1: dips in August and
/// December holidays, peaks in autumn and after new year.
pub(crate) const SEASONAL: [f64; 12] = [
    1.05, 1.03, 1.06, 0.98, 1.0, 1.0, 0.97, 0.9, 1.02, 1.06, 1.03, 0.9,
];

/// Relative referral volume by weekday (Mon … Sun): GPs refer on working days.
pub(crate) const WEEKDAY: [f64; 7] = [1.0, 1.0, 1.0, 1.0, 0.95, 0.25, 0.15];

/// Referral sources and their shares (GP referral dominates primary mental health care).
#[rustfmt::skip]
pub(crate) const SOURCES: &[(&str, f64)] =
    &[("gp", 0.70), ("self", 0.08), ("other_primary_care", 0.08), ("secondary_care", 0.07),
      ("other", 0.07)];

/// NHS Wales ethnic category codes, weighted roughly as the Welsh census.
#[rustfmt::skip]
const ETHNICITY: &[(&str, f64)] = &[
    ("A", 0.86), ("B", 0.005), ("C", 0.025), ("D", 0.004), ("E", 0.003), ("F", 0.002), ("G", 0.004),
    ("H", 0.006), ("J", 0.008), ("K", 0.004), ("L", 0.004), ("M", 0.003), ("N", 0.004),
    ("P", 0.002),
    ("R", 0.004), ("S", 0.012), ("Z", 0.045),
];

#[rustfmt::skip]
const SEX: &[(&str, f64)] = &[("female", 0.60), ("male", 0.38), ("other", 0.01), ("unknown", 0.01)];

/// Draws from `(value, weight)` pairs; weights need not sum to 1.
pub(crate) fn pick<T: Copy, R: Rng>(rng: &mut R, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    // Rounding can leave `x` a hair above the last weight.
    items[items.len() - 1].0
}

/// Draws a wait in days: within 28 with probability `p_within` (skewed towards the target,
/// as services book to it), else 29–56 with probability `within_56`, else a long tail past 56.
pub(crate) fn sample_wait<R: Rng>(rng: &mut R, p_within: f64, within_56: f64) -> i32 {
    if rng.random::<f64>() < p_within {
        rng.random_range(0..=28).max(rng.random_range(0..=28))
    } else if rng.random::<f64>() < within_56 {
        rng.random_range(29..=56)
    } else {
        let tail = -(1.0 - rng.random::<f64>()).ln() * 35.0;
        57 + (tail as i32).min(300)
    }
}

/// A board's performance this month: the profile plus a month-to-month wobble of ±6 points.
pub(crate) fn jitter<R: Rng>(rng: &mut R, p: f64) -> f64 {
    (p + (rng.random::<f64>() - 0.5) * 0.12).clamp(0.05, 0.99)
}

/// How the patient is identified by the board.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PatientId {
    /// Ten ASCII digits with a valid check digit.
    Nhs([u8; 10]),
    /// A board-side pseudonym, written as 32 hex digits.
    Pseudo(u128),
}

/// The `patient` object of a referral.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Patient {
    pub id: PatientId,
    /// Day number of birth; `None` for the ~2% with no recorded date of birth.
    pub dob: Option<i32>,
    pub sex: &'static str,
    pub ethnicity: &'static str,
    pub language: &'static str,
    pub wimd: u8,
    pub la: &'static str,
}

/// A new patient of `board` referred on `day`: 80% NHS number, ~15% under 18, ~2% no DOB.
pub(crate) fn new_patient<R: Rng>(rng: &mut R, board: &BoardProfile, day: i32) -> Patient {
    let id = if rng.random::<f64>() < 0.8 {
        PatientId::Nhs(new_nhs_number(rng))
    } else {
        PatientId::Pseudo(rng.random())
    };
    let dob = if rng.random::<f64>() < 0.02 {
        None
    } else {
        let age: i32 = if rng.random::<f64>() < 0.15 {
            rng.random_range(11..18).max(rng.random_range(11..18))
        } else {
            18 + (rng.random::<f64>().powf(1.5) * 62.0) as i32
        };
        // age·365.25 days plus under a year keeps the completed age at `age` (±1 day of slack).
        Some(day - age * 365 - age / 4 - rng.random_range(1..364))
    };
    let u = rng.random::<f64>();
    let language = if u < board.welsh {
        "cy"
    } else if u < board.welsh + 0.015 {
        "other"
    } else {
        "en"
    };
    let wimd = [
        (1u8, board.wimd[0]),
        (2, board.wimd[1]),
        (3, board.wimd[2]),
        (4, board.wimd[3]),
        (5, board.wimd[4]),
    ];
    Patient {
        id,
        dob,
        sex: pick(rng, SEX),
        ethnicity: pick(rng, ETHNICITY),
        language,
        wimd: pick(rng, &wimd),
        la: pick(rng, board.las),
    }
}

/// The modulus-11 check digit of the first nine digits (weights 10 … 2), or `None` when the
/// remainder gives 10, which the NHS never issues.
pub(crate) fn nhs_check_digit(first9: &[u8]) -> Option<u8> {
    let sum: u32 = first9
        .iter()
        .zip((2..=10u32).rev())
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c as u8),
    }
}

/// Whether `s` is ten ASCII digits with a valid check digit (the tests' independent check).
#[cfg(test)]
pub(crate) fn is_valid_nhs_number(s: &[u8]) -> bool {
    s.len() == 10
        && s.iter().all(u8::is_ascii_digit)
        && nhs_check_digit(&s[..9]) == Some(s[9] - b'0')
}

/// A random valid NHS number (leading 4, 6 or 7 like issued numbers; redrawn when the check is 10).
pub(crate) fn new_nhs_number<R: Rng>(rng: &mut R) -> [u8; 10] {
    loop {
        let mut n = [0u8; 10];
        n[0] = [b'4', b'6', b'7'][rng.random_range(0..3)];
        for d in &mut n[1..9] {
            *d = b'0' + rng.random_range(0..10u8);
        }
        if let Some(c) = nhs_check_digit(&n[..9]) {
            n[9] = b'0' + c;
            return n;
        }
    }
}

/// `n` with its check digit replaced by a different one, so it fails modulus 11.
pub(crate) fn corrupt_nhs_number<R: Rng>(rng: &mut R, mut n: [u8; 10]) -> [u8; 10] {
    n[9] = b'0' + (n[9] - b'0' + rng.random_range(1..10u8)) % 10;
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn weights_and_seasons_are_normalised() {
        let w: f64 = BOARDS.iter().map(|b| b.weight).sum();
        assert!((w - 1.0).abs() < 1e-9);
        assert!((SEASONAL.iter().sum::<f64>() - 12.0).abs() < 1e-9);
        let las: usize = BOARDS.iter().map(|b| b.las.len()).sum();
        assert_eq!(las, 22);
    }

    #[test]
    fn nhs_numbers_validate_and_corruptions_do_not() {
        assert!(is_valid_nhs_number(b"9434765919")); // the NHS's published example
        assert!(!is_valid_nhs_number(b"9434765918"));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..10_000 {
            let n = new_nhs_number(&mut rng);
            assert!(is_valid_nhs_number(&n));
            assert!(!is_valid_nhs_number(&corrupt_nhs_number(&mut rng, n)));
        }
    }

    #[test]
    fn waits_follow_the_requested_mix() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let waits: Vec<i32> = (0..20_000)
            .map(|_| sample_wait(&mut rng, 0.6, 0.5))
            .collect();
        let within = waits.iter().filter(|w| **w <= 28).count() as f64 / 20_000.0;
        let over56 = waits.iter().filter(|w| **w > 56).count() as f64 / 20_000.0;
        assert!(
            (within - 0.6).abs() < 0.02 && (over56 - 0.2).abs() < 0.02,
            "{within} {over56}"
        );
        assert!(waits.iter().all(|w| (0..=357).contains(w)));
    }
}
