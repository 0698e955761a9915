//! API payloads to typed `model` rows under ../shared/SCHEMA.md's rules.
//! (Filled in by issue 3; the public signatures below are the contract jobs are written against.)

use super::Error;
use crate::model::{Course, Horse, Region, Unit};

/// Parse a racecards body (`/racecards/pro|standard|basic|free`) and append its races of the
/// given regions (lower-case codes), their runners, odds, bookmakers seen and entities to `unit`.
/// A record that cannot be used is appended to `unit.skipped`; only an unusable body is an error.
pub fn racecards_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    let _ = (unit, body, regions);
    Err(Error::Payload {
        what: "racecards".into(),
        message: "normalize not built yet".into(),
    })
}

/// Parse a results page (`/results`, `/results/today`) into `unit`, as `racecards_into` does.
pub fn results_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    let _ = (unit, body, regions);
    Err(Error::Payload {
        what: "results".into(),
        message: "normalize not built yet".into(),
    })
}

/// `/courses` body to courses (only the given regions).
pub fn courses(body: &[u8], regions: &[String]) -> Result<Vec<Course>, Error> {
    let _ = (body, regions);
    Err(Error::Payload {
        what: "courses".into(),
        message: "normalize not built yet".into(),
    })
}

/// `/courses/regions` body to regions (only the given regions).
pub fn regions(body: &[u8], regions: &[String]) -> Result<Vec<Region>, Error> {
    let _ = (body, regions);
    Err(Error::Payload {
        what: "regions".into(),
        message: "normalize not built yet".into(),
    })
}

/// `/horses/{id}/pro` body to a horse with its profile.
pub fn horse_pro(body: &[u8]) -> Result<Horse, Error> {
    let _ = body;
    Err(Error::Payload {
        what: "horse".into(),
        message: "normalize not built yet".into(),
    })
}
