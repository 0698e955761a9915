//! API payloads to typed `model` rows under the rules of docs/schema.md.
//!
//! The body is read as a list whose records are each read on their own (`payload::Lenient`), so a
//! record that cannot be used is appended to `unit.skipped` with its reason and never fails the
//! page; only a body that is not JSON or lacks its list is an error. Within a record, a field
//! that cannot be stored (a list where a scalar belongs, a value that does not parse) is NULL and
//! counted in `unit.dropped` under its name (`runners.sp`); only a record without its key (race
//! id, horse id, and the course id, region and day a race cannot be stored without) is skipped.
//! Races outside the configured regions are ignored silently: the API sends them, but they are not
//! wanted. Strings are moved out of the payload into the rows; only ids and names shared by a row
//! and an entity are copied.
//!
//! One file a feed: `racecards.rs` and `results.rs` each add their own fields to the race and
//! runner fields both send, which `shared.rs` reads once (with the accessors that count drops and
//! the checks every race and runner passes); `entities.rs` merges the entities a unit names.
//!
//! The rules, one function each (all public and unit-tested below): [`blank`], [`int`], [`num`],
//! [`money`], [`distance_yards`], [`yards_to_metres`], [`furlongs`], [`finish_seconds`],
//! [`finish_position`], [`odds_decimal`], [`off_instant`], [`uk_local_instant`], [`race_day`].

mod entities;
mod racecards;
mod results;
mod rules;
mod shared;

use super::Error;
use super::payload::{
    CoursePayload, CoursesPage, HorsePro, Lenient, RacecardsPage, Records, RegionPayload, ResultsPage,
};
use crate::model::{Ancestor, Course, Entities, Horse, Region, Unit};
use entities::{Index, upsert};
pub use rules::{
    bare_name, blank, distance_yards, finish_position, finish_seconds, furlongs, int, jockey_bare_name, money,
    name_region, num, odds_decimal, off_instant, race_day, region_currency, region_name, uk_local_instant,
    yards_to_metres,
};
use rules::{date, text, wanted};
use serde::Deserialize;
use shared::Normalizer;

/// Parse a racecards body (`/racecards/pro|standard|basic|free`) and append its races of the
/// given regions (lower-case codes), their runners, odds, bookmakers seen and entities to `unit`.
/// A record that cannot be used is appended to `unit.skipped`; only an unusable body is an error.
/// Also accepts a single race object (`/racecards/{race_id}/pro`). An empty `regions` keeps every
/// region.
pub fn racecards_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    const WHAT: &str = "/racecards";
    let page: RacecardsPage = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let races = races(WHAT, "racecards", page.racecards, page.extra)?;
    let mut n = Normalizer::new(unit, regions);
    races.into_iter().for_each(|race| n.racecard_race(race));
    Ok(())
}

/// Parse a results page (`/results`, `/results/today`) into `unit`, as `racecards_into` does.
/// Also accepts a single result object (`/results/{race_id}`).
pub fn results_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    const WHAT: &str = "/results";
    let page: ResultsPage = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let races = races(WHAT, "results", page.results, page.extra)?;
    let mut n = Normalizer::new(unit, regions);
    races.into_iter().for_each(|race| n.result_race(race));
    Ok(())
}

/// `/courses` body to courses (only the given regions). Records without an id or region code are
/// left out (logged).
pub fn courses(body: &[u8], regions: &[String]) -> Result<Vec<Course>, Error> {
    const WHAT: &str = "/courses";
    let page: CoursesPage = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let Some(list) = page.courses else {
        return Err(no_list(WHAT, "courses", &page.extra));
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let mut c: CoursePayload = match item {
            Lenient::Ok(c) => c,
            Lenient::Bad(r) => {
                tracing::warn!(course.id = ?r.hint.id, error = %r.error, "course record left out: unreadable");
                continue;
            }
        };
        let (Some(id), Some(code)) = (text(&mut c.id), text(&mut c.region_code)) else {
            tracing::warn!(record = ?c, "course record left out: no id or region_code");
            continue;
        };
        let code = code.trim().to_ascii_lowercase();
        if !wanted(regions, &code) {
            continue;
        }
        let region = text(&mut c.region).unwrap_or_else(|| region_name(&code));
        out.push(Course { id, name: text(&mut c.course).unwrap_or_default(), region_code: code, region });
    }
    Ok(out)
}

/// `/courses/regions` body to regions (only the given regions).
pub fn regions(body: &[u8], regions: &[String]) -> Result<Vec<Region>, Error> {
    const WHAT: &str = "/courses/regions";
    let list: Records<RegionPayload> = serde_json::from_slice(body).map_err(|e| not_json_list(WHAT, &e))?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let Lenient::Ok(mut r) = item else { continue };
        let Some(code) = text(&mut r.region_code) else {
            continue;
        };
        let code = code.trim().to_ascii_lowercase();
        if !wanted(regions, &code) {
            continue;
        }
        let name = text(&mut r.region).unwrap_or_else(|| region_name(&code));
        out.push(Region { code, name });
    }
    Ok(out)
}

/// `/horses/{id}/pro` body to a horse with its profile. The breeding region is taken from the
/// name's suffix (`"Flaggan (IRE)"` -> `IRE`) when the body has no `region`.
pub fn horse_pro(body: &[u8]) -> Result<Horse, Error> {
    const WHAT: &str = "/horses/{id}/pro";
    let mut h: HorsePro = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let Some(id) = text(&mut h.id) else {
        return Err(Error::Payload { what: WHAT.into(), message: "the body has no horse `id`".into() });
    };
    let full = text(&mut h.name).unwrap_or_default();
    let (bare, suffix) = bare_name(&full);
    let (name, region) = (bare.to_string(), text(&mut h.region).or_else(|| suffix.map(str::to_string)));
    Ok(Horse {
        id,
        region,
        sex_code: text(&mut h.sex_code),
        dob: date(h.dob.as_deref()),
        colour: text(&mut h.colour),
        breeder: text(&mut h.breeder),
        sire_id: text(&mut h.sire_id),
        dam_id: text(&mut h.dam_id),
        damsire_id: text(&mut h.damsire_id),
        name,
    })
}

/// `/horses/{id}/pro` body to the horse and its sire, dam and damsire (names as the profile sends
/// them), merged into `entities`.
pub fn horse_pro_into(entities: &mut Entities, body: &[u8]) -> Result<(), Error> {
    let horse = horse_pro(body)?;
    // Read again only for the ancestors' names; profiles are tiny.
    let h: HorsePro = serde_json::from_slice(body).map_err(|e| not_json("/horses/{id}/pro", &e))?;
    let mut idx = Index::default();
    idx.build(entities);
    for (id, name, list, map) in [
        (&h.sire_id, &h.sire, &mut entities.sires, &mut idx.sires),
        (&h.dam_id, &h.dam, &mut entities.dams, &mut idx.dams),
        (&h.damsire_id, &h.damsire, &mut entities.damsires, &mut idx.damsires),
    ] {
        if let (Some(id), Some(name)) = (blank(id.as_deref()), blank(name.as_deref())) {
            let (name, region) = bare_name(name);
            upsert(
                list,
                map,
                Ancestor { id: id.to_string(), name: name.to_string(), region: region.map(str::to_string) },
            );
        }
    }
    upsert(&mut entities.horses, &mut idx.horses, horse);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Body-level errors.

fn not_json(what: &str, e: &serde_json::Error) -> Error {
    Error::Payload { what: what.into(), message: format!("the body is not the JSON object expected: {e}") }
}

fn not_json_list(what: &str, e: &serde_json::Error) -> Error {
    Error::Payload { what: what.into(), message: format!("the body is not a JSON array: {e}") }
}

fn no_list(what: &str, key: &str, extra: &serde_json::Map<String, serde_json::Value>) -> Error {
    let keys: Vec<&str> = extra.keys().map(String::as_str).take(8).collect();
    Error::Payload {
        what: what.into(),
        message: format!("the body has no `{key}` list (keys sent: {})", keys.join(", ")),
    }
}

/// A feed body's races: its list under `key`, or the body itself when it is one race (a race
/// asked for by id); a body with neither is an error naming the keys it sent.
fn races<T: serde::de::DeserializeOwned>(
    what: &str,
    key: &str,
    list: Option<Records<T>>,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<Records<T>, Error> {
    match list {
        Some(list) => Ok(list),
        None if extra.contains_key("race_id") => Lenient::<T>::deserialize(serde_json::Value::Object(extra))
            .map(|r| vec![r])
            .map_err(|e| Error::Payload { what: what.into(), message: e.to_string() }),
        None => Err(no_list(what, key, &extra)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Kind;
    use chrono::NaiveDate;

    fn unit() -> Unit {
        Unit::new(Kind::Results, NaiveDate::from_ymd_opt(2025, 10, 7).unwrap())
    }

    #[test]
    fn unusable_bodies_are_errors_naming_the_endpoint() {
        let gb = vec!["gb".to_string()];
        let e = results_into(&mut unit(), b"<html>", &gb).unwrap_err().to_string();
        assert!(e.starts_with("/results:"), "{e}");
        let e = racecards_into(&mut unit(), br#"{"detail":"Not Found"}"#, &gb).unwrap_err().to_string();
        assert!(e.contains("no `racecards` list") && e.contains("detail"), "{e}");
        assert!(courses(b"[]", &gb).is_err());
        assert!(horse_pro(b"{}").is_err());
    }

    #[test]
    fn a_bad_field_is_dropped_and_only_a_record_without_its_key_is_skipped() {
        let body = br#"{"results":[
            {"race_id":"rac_1","region":"GB","course_id":"crs_1","course":"A","date":"2025-10-07",
             "off_dt":"2025-10-07T20:30:00+01:00","runners":[{"horse_id":"hrs_1","position":"PU","sp":["9/2"]},{"number":"4"}]},
            {"race_id":"rac_2","region":"GB","course_id":"crs_1","course":{"bad":1},"date":"2025-10-07"},
            {"race_id":"rac_3","region":"FR","course":{"bad":1}},
            {"race_id":"rac_4","region":"IRE","course_id":"crs_2","date":"2025-10-07","off_dt":"soon"},
            {"race_id":["rac_5"],"region":"GB","course_id":"crs_1","date":"2025-10-07"},
            {"race_id":"rac_6","region":"GB","course_id":{"id":"crs_1"},"date":"2025-10-07"}
        ]}"#;
        let mut u = unit();
        results_into(&mut u, body, &["gb".into(), "ire".into()]).unwrap();
        let ids: Vec<&str> = u.races.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["rac_1", "rac_2", "rac_4"]);
        assert_eq!((u.races[0].ran, u.races[0].field_size), (Some(2), None), "a result says how many ran");
        assert_eq!((u.races[1].course_name.as_str(), u.races[2].off_at), ("", None), "dropped fields are NULL");
        assert_eq!(u.runners.len(), 1);
        assert_eq!((u.runners[0].position.as_deref(), u.runners[0].sp.as_deref()), (Some("PU"), None));
        assert_eq!(u.runners[0].finish_position, None);
        let dropped: Vec<(&str, u64)> = u.dropped.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(dropped, [("races.course", 1), ("races.off_dt", 1), ("runners.sp", 1)]);
        let skipped: Vec<(&str, &str)> = u.skipped.iter().map(|s| (s.record.as_str(), s.reason.as_str())).collect();
        assert_eq!(
            skipped,
            [
                ("runner rac_1/#4", "no horse_id"),
                ("race at ? 2025-10-07", "race_id is a list"),
                ("race rac_6", "course_id is an object")
            ]
        );
        // Reading the same page again (a page repeated by a shifting list) adds nothing.
        let before = u.skipped.len();
        results_into(&mut u, body, &["gb".into()]).unwrap();
        assert_eq!((u.races.len(), u.runners.len()), (3, 1));
        assert_eq!(u.skipped.len(), before + 2, "only the GB races without their keys again");
    }
}
