//! The event contract (SPEC section 3): pure domain code. No I/O, no async, no metrics:
//! callers count outcomes.

mod fields;
mod json;
pub mod pseudonymise;
pub mod reason;
pub mod record;
pub mod redact;
pub mod reference;
pub mod validate;

pub use fields::parse_date;
pub use pseudonymise::{is_valid_nhs_number, Pseudonymiser};
pub use reason::{Reason, Rejection};
pub use record::{EventType, LandedEvent, Patient, Payload};
pub use validate::Validator;
