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
//! The rules, one function each (all public and unit-tested below): [`blank`], [`int`], [`num`],
//! [`money`], [`distance_yards`], [`yards_to_metres`], [`furlongs`], [`finish_seconds`],
//! [`finish_position`], [`odds_decimal`], [`off_instant`], [`uk_local_instant`], [`race_day`].

use super::Error;
use super::payload::{
    CoursePayload, CoursesPage, HorsePro, Lenient, List, Odds, RacecardRace, RacecardRunner, RacecardsPage, Records,
    RegionPayload, Rejected, ResultRace, ResultRunner, ResultsPage, Text,
};
use crate::model::{
    Ancestor, Bookmaker, Course, Entities, Horse, Person, Race, Region, Runner, RunnerOdds, Skipped, Source, Trainer,
    Unit, bookmaker_code, bookmaker_kind,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::collections::HashSet;

/// Parse a racecards body (`/racecards/pro|standard|basic|free`) and append its races of the
/// given regions (lower-case codes), their runners, odds, bookmakers seen and entities to `unit`.
/// A record that cannot be used is appended to `unit.skipped`; only an unusable body is an error.
/// Also accepts a single race object (`/racecards/{race_id}/pro`). An empty `regions` keeps every
/// region.
pub fn racecards_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    const WHAT: &str = "/racecards";
    let mut page: RacecardsPage = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let races = match page.racecards.take() {
        Some(list) => list,
        None if page.extra.contains_key("race_id") => single(WHAT, page.extra)?,
        None => return Err(no_list(WHAT, "racecards", &page.extra)),
    };
    let mut n = Normalizer::new(unit, regions);
    for race in races {
        n.racecard_race(race);
    }
    Ok(())
}

/// Parse a results page (`/results`, `/results/today`) into `unit`, as `racecards_into` does.
/// Also accepts a single result object (`/results/{race_id}`).
pub fn results_into(unit: &mut Unit, body: &[u8], regions: &[String]) -> Result<(), Error> {
    const WHAT: &str = "/results";
    let mut page: ResultsPage = serde_json::from_slice(body).map_err(|e| not_json(WHAT, &e))?;
    let races = match page.results.take() {
        Some(list) => list,
        None if page.extra.contains_key("race_id") => single(WHAT, page.extra)?,
        None => return Err(no_list(WHAT, "results", &page.extra)),
    };
    let mut n = Normalizer::new(unit, regions);
    for race in races {
        n.result_race(race);
    }
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

mod rules;

pub use rules::{
    bare_name, blank, distance_yards, finish_position, finish_seconds, furlongs, int, jockey_bare_name, money,
    name_region, num, odds_decimal, off_instant, race_day, region_currency, region_name, uk_local_instant,
    yards_to_metres,
};
use rules::{date, flag, text, wanted};

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

fn single<T: serde::de::DeserializeOwned>(
    what: &str,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Result<Records<T>, Error> {
    Lenient::<T>::deserialize(serde_json::Value::Object(extra))
        .map(|r| vec![r])
        .map_err(|e| Error::Payload { what: what.into(), message: e.to_string() })
}

mod entities;
use entities::{Index, upsert};

// ---------------------------------------------------------------------------------------------
// Races and runners.

/// The people and pedigree a runner names, whichever feed it came from.
struct Names<'a> {
    jockey: (Option<&'a str>, Option<&'a str>),
    trainer: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    owner: (Option<&'a str>, Option<&'a str>),
    sire: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    dam: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    damsire: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
}

/// What every kept race has, whichever feed: checked ids, region, day and off time.
struct RaceHead {
    id: String,
    region: String,
    course_id: String,
    race_date: NaiveDate,
    off_at: Option<DateTime<Utc>>,
}

struct Normalizer<'u> {
    unit: &'u mut Unit,
    regions: &'u [String],
    idx: Index,
    race_ids: HashSet<String>,
    bookmakers: HashSet<String>,
}

impl<'u> Normalizer<'u> {
    fn new(unit: &'u mut Unit, regions: &'u [String]) -> Self {
        let mut idx = Index::default();
        idx.build(&unit.entities);
        let race_ids = unit.races.iter().map(|r| r.id.clone()).collect();
        let bookmakers = unit.bookmakers.iter().map(|b| b.code.clone()).collect();
        Normalizer { unit, regions, idx, race_ids, bookmakers }
    }

    fn skip(&mut self, record: String, reason: impl Into<String>) {
        self.unit.skipped.push(Skipped { record, reason: reason.into() });
    }

    // Field accessors: each reads one payload field under its name (`runners.sp`: the record and
    // the field as the API names it) and counts it in `unit.dropped` when it was sent but cannot
    // be stored (a list or an object where a scalar belongs, or a value its rule cannot read).
    // The field is then NULL in its row: a column both sources write keeps its stored value, a
    // column of one source takes its newest response's (store::keep).

    fn dropped(&mut self, field: &str) {
        match self.unit.dropped.get_mut(field) {
            Some(n) => *n += 1,
            None => {
                self.unit.dropped.insert(field.to_string(), 1);
            }
        }
    }

    /// A text field, kept as sent (`None` when blank).
    fn text(&mut self, field: &str, t: &mut Text) -> Option<String> {
        if t.unreadable().is_some() {
            self.dropped(field);
        }
        text(t)
    }

    /// A text field, trimmed, borrowed (names copied into entities).
    fn str<'t>(&mut self, field: &str, t: &'t Text) -> Option<&'t str> {
        if t.unreadable().is_some() {
            self.dropped(field);
        }
        blank(t.as_deref())
    }

    /// A field read by `rule` (`int`, `num`, ...): a blank is `None`; a value the rule cannot read
    /// is `None` and dropped.
    fn read<T>(&mut self, field: &str, t: &Text, rule: impl FnOnce(Option<&str>) -> Option<T>) -> Option<T> {
        let value = rule(t.as_deref());
        if value.is_none() && (t.unreadable().is_some() || blank(t.as_deref()).is_some()) {
            self.dropped(field);
        }
        value
    }

    /// The records of a nested list; a list sent as something else is dropped (no records).
    fn records<T>(&mut self, field: &str, list: List<T>) -> Records<T> {
        if list.unreadable.is_some() {
            self.dropped(field);
        }
        list.items
    }

    /// The checks every race passes, whichever feed: region wanted, ids present, times readable.
    /// `None` means the race is not kept (ignored or skipped).
    fn race_head(
        &mut self,
        race_id: &mut Text,
        region: &mut Text,
        course_id: &mut Text,
        course: &Text,
        date_text: &Text,
        off_dt: &Text,
        free_hint: bool,
    ) -> Option<RaceHead> {
        let id = text(race_id);
        let label = match &id {
            Some(id) => format!("race {id}"),
            None => format!(
                "race at {} {}",
                course.as_deref().unwrap_or("?"),
                off_dt.as_deref().or(date_text.as_deref()).unwrap_or("?")
            ),
        };
        let Some(region) = text(region).map(|r| r.trim().to_string()) else {
            self.skip(label, format!("{}: cannot tell whether it is wanted", missing("region", region)));
            return None;
        };
        if !wanted(self.regions, &region) {
            return None;
        }
        let Some(id) = id else {
            let reason = if free_hint {
                "free racecards carry no race ids: use the basic plan or above".to_string()
            } else {
                missing("race_id", race_id)
            };
            self.skip(label, reason);
            return None;
        };
        if self.race_ids.contains(&id) {
            // Results pages shift when a race finishes between two page requests, so the same
            // race can come twice; the first copy is kept and nothing is lost.
            tracing::debug!(race.id = %id, "race already read from an earlier page; repeat ignored");
            return None;
        }
        let Some(course_id) = text(course_id) else {
            self.skip(label, missing("course_id", course_id));
            return None;
        };
        // An unreadable off time is dropped like any field: the race keeps its day from `date`.
        let off_at = self.read("races.off_dt", off_dt, off_instant);
        let date_sent = self.read("races.date", date_text, date);
        let Some(day) = date_sent.or_else(|| race_day(None, off_at)) else {
            self.skip(
                label,
                format!("no readable date (date {:?}, off_dt {:?})", date_text.as_deref(), off_dt.as_deref()),
            );
            return None;
        };
        Some(RaceHead { id, region, course_id, race_date: day, off_at })
    }

    fn course(&mut self, id: &str, name: Option<&str>, region: &str) {
        let code = region.to_ascii_lowercase();
        let course = Course {
            id: id.to_string(),
            name: name.unwrap_or_default().to_string(),
            region: region_name(&code),
            region_code: code,
        };
        upsert(&mut self.unit.entities.courses, &mut self.idx.courses, course);
    }

    fn people(&mut self, n: Names<'_>) {
        let e = &mut self.unit.entities;
        let owned = |s: Option<&str>| s.map(str::to_string);
        if let (Some(id), Some(name)) = n.jockey {
            // A non-runner's card says "NON-RUNNER" beside the booked jockey's id: the id is real,
            // the label is no name. An empty name fills a new row and never replaces a known one,
            // so racecards and results no longer rename the jockey back and forth.
            let name = Some(jockey_bare_name(name)).filter(|n| !n.eq_ignore_ascii_case("NON-RUNNER")).unwrap_or("");
            upsert(&mut e.jockeys, &mut self.idx.jockeys, Person { id: id.into(), name: name.into() });
        }
        if let (Some(id), Some(name), location) = n.trainer {
            let t = Trainer { id: id.into(), name: name.into(), location: owned(location) };
            upsert(&mut e.trainers, &mut self.idx.trainers, t);
        }
        if let (Some(id), Some(name)) = n.owner {
            upsert(&mut e.owners, &mut self.idx.owners, Person { id: id.into(), name: name.into() });
        }
        for ((id, name, region), list, map) in [
            (n.sire, &mut e.sires, &mut self.idx.sires),
            (n.dam, &mut e.dams, &mut self.idx.dams),
            (n.damsire, &mut e.damsires, &mut self.idx.damsires),
        ] {
            if let (Some(id), Some(name)) = (id, name) {
                let (name, suffix) = bare_name(name);
                let region = owned(region).or_else(|| owned(suffix));
                upsert(list, map, Ancestor { id: id.into(), name: name.into(), region });
            }
        }
    }

    fn runner_label(race_id: &str, number: Option<&str>, horse: Option<&str>, i: usize) -> String {
        match (blank(number), blank(horse)) {
            (Some(n), _) => format!("runner {race_id}/#{n}"),
            (None, Some(h)) => format!("runner {race_id}/{h}"),
            (None, None) => format!("runner {race_id}/[{i}]"),
        }
    }

    fn rejected_race(&mut self, r: Rejected) {
        if let Some(region) = &r.hint.region
            && !wanted(self.regions, region)
        {
            return;
        }
        let id = r.hint.race_id.as_deref().unwrap_or("?");
        self.skip(format!("race {id}"), format!("unreadable record: {}", r.error));
    }

    /// Runner checks shared by both feeds: a horse id, once per race.
    fn runner_id(
        &mut self,
        seen: &mut HashSet<String>,
        label: impl FnOnce() -> String,
        horse_id: &mut Text,
    ) -> Option<String> {
        let Some(id) = text(horse_id) else {
            self.skip(label(), missing("horse_id", horse_id));
            return None;
        };
        if !seen.insert(id.clone()) {
            self.skip(label(), format!("duplicate horse_id {id} in the race"));
            return None;
        }
        Some(id)
    }

    fn racecard_race(&mut self, race: Lenient<RacecardRace>) {
        let mut r = match race {
            Lenient::Ok(r) => r,
            Lenient::Bad(rej) => return self.rejected_race(rej),
        };
        let free = r.course_id.as_deref().is_none()
            && r.runners.iter().all(|x| match x {
                Lenient::Ok(ru) => ru.horse_id.as_deref().is_none(),
                Lenient::Bad(rej) => rej.hint.horse_id.is_none(),
            });
        let Some(RaceHead { id, region, course_id, race_date, off_at }) =
            self.race_head(&mut r.race_id, &mut r.region, &mut r.course_id, &r.course, &r.date, &r.off_dt, free)
        else {
            return;
        };
        self.race_ids.insert(id.clone());
        let course_name = self.text("races.course", &mut r.course).unwrap_or_default();
        self.course(&course_id, blank(Some(&course_name)), &region);
        let distance = self.text("races.distance", &mut r.distance);
        let distance_y = distance.as_deref().and_then(distance_yards);
        let prize = self.read("races.prize", &r.prize, |t| money(t, &region));
        let field_size = field_size(self.read("races.field_size", &r.field_size, int), r.runners.len());
        let runners = std::mem::take(&mut r.runners);
        let runners = self.records("races.runners", runners);
        let race = Race {
            source: Source::Racecard,
            id,
            course_id,
            course_name,
            race_date,
            off_at,
            race_name: self.text("races.race_name", &mut r.race_name),
            race_type: self.text("races.type", &mut r.race_type),
            race_class: self.text("races.race_class", &mut r.race_class),
            pattern: self.text("races.pattern", &mut r.pattern),
            rating_band: self.text("races.rating_band", &mut r.rating_band),
            age_band: self.text("races.age_band", &mut r.age_band),
            sex_restriction: self.text("races.sex_restriction", &mut r.sex_restriction),
            distance_f: self.read("races.distance_f", &r.distance_f, furlongs),
            distance,
            distance_y,
            distance_m: distance_y.map(yards_to_metres),
            going: self.text("races.going", &mut r.going),
            going_detailed: self.text("races.going_detailed", &mut r.going_detailed),
            surface: self.text("races.surface", &mut r.surface),
            jumps: self.text("races.jumps", &mut r.jumps),
            prize_amount: prize.map(|p| p.0),
            prize_currency: prize.and_then(|p| p.1).map(str::to_string),
            field_size,
            ran: None,
            big_race: self.read("races.big_race", &r.big_race, flag),
            is_abandoned: self.read("races.is_abandoned", &r.is_abandoned, flag),
            stalls: self.text("races.stalls", &mut r.stalls),
            weather: self.text("races.weather", &mut r.weather),
            rail_movements: self.text("races.rail_movements", &mut r.rail_movements),
            tip: self.text("races.tip", &mut r.tip),
            verdict: self.text("races.verdict", &mut r.verdict),
            betting_forecast: self.text("races.betting_forecast", &mut r.betting_forecast),
            winning_time_detail: None,
            comments: None,
            non_runners: None,
            tote_win: None,
            tote_pl: None,
            tote_ex: None,
            tote_csf: None,
            tote_tricast: None,
            tote_trifecta: None,
            region,
        };
        let mut seen = HashSet::with_capacity(runners.len());
        for (i, runner) in runners.into_iter().enumerate() {
            match runner {
                Lenient::Ok(ru) => self.racecard_runner(&race.id, &mut seen, i, ru),
                Lenient::Bad(rej) => {
                    let label = Self::runner_label(&race.id, rej.hint.number.as_deref(), None, i);
                    self.skip(label, format!("unreadable record: {}", rej.error));
                }
            }
        }
        self.unit.races.push(race);
    }

    fn racecard_runner(&mut self, race_id: &str, seen: &mut HashSet<String>, i: usize, mut ru: RacecardRunner) {
        let (number, horse) = (&ru.number, &ru.horse);
        let label = || Self::runner_label(race_id, number.as_deref(), horse.as_deref(), i);
        let Some(horse_id) = self.runner_id(seen, label, &mut ru.horse_id) else {
            return;
        };
        let sex_code = self.text("runners.sex_code", &mut ru.sex_code);
        let horse_name = self.text("runners.horse", &mut ru.horse).unwrap_or_default();
        let sire_id = self.text("runners.sire_id", &mut ru.sire_id);
        let dam_id = self.text("runners.dam_id", &mut ru.dam_id);
        let damsire_id = self.text("runners.damsire_id", &mut ru.damsire_id);
        let (bare, suffix) = bare_name(&horse_name);
        let horse = Horse {
            id: horse_id.clone(),
            name: bare.to_string(),
            sex_code: sex_code.clone(),
            dob: self.read("runners.dob", &ru.dob, date),
            colour: self.text("runners.colour", &mut ru.colour),
            breeder: self.text("runners.breeder", &mut ru.breeder),
            region: self.text("runners.region", &mut ru.region).or_else(|| suffix.map(str::to_string)),
            sire_id: sire_id.clone(),
            dam_id: dam_id.clone(),
            damsire_id: damsire_id.clone(),
        };
        upsert(&mut self.unit.entities.horses, &mut self.idx.horses, horse);
        let jockey_id = self.text("runners.jockey_id", &mut ru.jockey_id);
        let jockey_name = self.text("runners.jockey", &mut ru.jockey);
        let trainer_id = self.text("runners.trainer_id", &mut ru.trainer_id);
        let trainer_name = self.text("runners.trainer", &mut ru.trainer);
        let owner_id = self.text("runners.owner_id", &mut ru.owner_id);
        let owner_name = self.text("runners.owner", &mut ru.owner);
        let trainer_location = self.str("runners.trainer_location", &ru.trainer_location);
        let sire = (self.str("runners.sire", &ru.sire), self.str("runners.sire_region", &ru.sire_region));
        let dam = (self.str("runners.dam", &ru.dam), self.str("runners.dam_region", &ru.dam_region));
        let damsire =
            (self.str("runners.damsire", &ru.damsire), self.str("runners.damsire_region", &ru.damsire_region));
        self.people(Names {
            jockey: (jockey_id.as_deref(), jockey_name.as_deref()),
            trainer: (trainer_id.as_deref(), trainer_name.as_deref(), trainer_location),
            owner: (owner_id.as_deref(), owner_name.as_deref()),
            sire: (sire_id.as_deref(), sire.0, sire.1),
            dam: (dam_id.as_deref(), dam.0, dam.1),
            damsire: (damsire_id.as_deref(), damsire.0, damsire.1),
        });
        let odds = std::mem::take(&mut ru.odds);
        let odds = self.records("runners.odds", odds);
        self.odds(race_id, &horse_id, odds);
        let runner = Runner {
            source: Source::Racecard,
            race_id: race_id.to_string(),
            horse_id,
            horse_name,
            // A non-runner is numbered `NR`: no number, not a drop.
            number: int(self.str("runners.number", &ru.number)),
            draw: self.read("runners.draw", &ru.draw, int),
            age: self.read("runners.age", &ru.age, int),
            sex_code,
            jockey_id,
            jockey_name,
            jockey_claim_lbs: self.read("runners.jockey_claim_lbs", &ru.jockey_claim_lbs, int),
            trainer_id,
            trainer_name,
            owner_id,
            owner_name,
            sire_id,
            dam_id,
            damsire_id,
            weight_lbs: self.read("runners.lbs", &ru.lbs, int),
            headgear: self.text("runners.headgear", &mut ru.headgear),
            official_rating: self.read("runners.ofr", &ru.ofr, int),
            rpr: self.read("runners.rpr", &ru.rpr, int),
            topspeed: self.read("runners.ts", &ru.ts, int),
            silk_url: self.text("runners.silk_url", &mut ru.silk_url),
            form: self.text("runners.form", &mut ru.form),
            spotlight: self.text("runners.spotlight", &mut ru.spotlight),
            card_comment: self.text("runners.comment", &mut ru.comment),
            position: None,
            finish_position: None,
            btn: None,
            ovr_btn: None,
            sp: None,
            sp_decimal: None,
            prize_amount: None,
            prize_currency: None,
            finish_time: None,
            finish_time_s: None,
            comment: None,
            result_rpr: None,
            result_topspeed: None,
        };
        self.unit.runners.push(runner);
    }

    fn odds(&mut self, race_id: &str, horse_id: &str, odds: Records<Odds>) {
        let first = self.unit.odds.len();
        for (i, item) in odds.into_iter().enumerate() {
            let mut o = match item {
                Lenient::Ok(o) => o,
                Lenient::Bad(rej) => {
                    let bk = rej.hint.bookmaker.as_deref().unwrap_or("?");
                    self.skip(format!("odds {race_id}/{horse_id}/{bk}"), format!("unreadable record: {}", rej.error));
                    continue;
                }
            };
            let Some(name) = self.text("odds.bookmaker", &mut o.bookmaker) else {
                self.skip(format!("odds {race_id}/{horse_id}/[{i}]"), "no bookmaker");
                continue;
            };
            let code = bookmaker_code(&name);
            if code.is_empty() {
                self.skip(format!("odds {race_id}/{horse_id}/{name}"), "bookmaker name has no letters or digits");
                continue;
            }
            let quote = RunnerOdds {
                race_id: race_id.to_string(),
                horse_id: horse_id.to_string(),
                fractional: self.text("odds.fractional", &mut o.fractional),
                // `"0"` beside `"SP"` means no fixed price: NULL, not a drop.
                decimal: odds_decimal(self.str("odds.decimal", &o.decimal)),
                ew_places: self.read("odds.ew_places", &o.ew_places, int),
                ew_denom: self.read("odds.ew_denom", &o.ew_denom, int),
                quoted_at: self.read("odds.updated", &o.updated, uk_local_instant),
                bookmaker: code,
            };
            if !self.bookmakers.contains(&quote.bookmaker) {
                self.bookmakers.insert(quote.bookmaker.clone());
                self.unit.bookmakers.push(Bookmaker {
                    kind: bookmaker_kind(&quote.bookmaker),
                    code: quote.bookmaker.clone(),
                    name: name.trim().to_string(),
                    source: "odds".to_string(),
                });
            }
            // One row per bookmaker: the latest quote wins (a later one on a tie).
            match self.unit.odds[first..].iter_mut().find(|q| q.bookmaker == quote.bookmaker) {
                Some(q) if q.quoted_at <= quote.quoted_at => *q = quote,
                Some(_) => {}
                None => self.unit.odds.push(quote),
            }
        }
    }

    fn result_race(&mut self, race: Lenient<ResultRace>) {
        let mut r = match race {
            Lenient::Ok(r) => r,
            Lenient::Bad(rej) => return self.rejected_race(rej),
        };
        let Some(RaceHead { id, region, course_id, race_date, off_at }) =
            self.race_head(&mut r.race_id, &mut r.region, &mut r.course_id, &r.course, &r.date, &r.off_dt, false)
        else {
            return;
        };
        self.race_ids.insert(id.clone());
        let course_name = self.text("races.course", &mut r.course).unwrap_or_default();
        self.course(&course_id, blank(Some(&course_name)), &region);
        let distance = self.text("races.dist", &mut r.dist);
        let distance_y =
            self.read("races.dist_y", &r.dist_y, int).or_else(|| distance.as_deref().and_then(distance_yards));
        let distance_m = self.read("races.dist_m", &r.dist_m, int).or_else(|| distance_y.map(yards_to_metres));
        // How many ran is the runners the result lists (non-runners are not listed); the declared
        // field is the racecard's and a result never writes it.
        let ran = (!r.runners.is_empty()).then(|| i32::try_from(r.runners.len()).ok()).flatten();
        let runners = std::mem::take(&mut r.runners);
        let runners = self.records("races.runners", runners);
        let race = Race {
            source: Source::Result,
            id,
            course_id,
            course_name,
            race_date,
            off_at,
            race_name: self.text("races.race_name", &mut r.race_name),
            race_type: self.text("races.type", &mut r.race_type),
            race_class: self.text("races.class", &mut r.class),
            pattern: self.text("races.pattern", &mut r.pattern),
            rating_band: self.text("races.rating_band", &mut r.rating_band),
            age_band: self.text("races.age_band", &mut r.age_band),
            sex_restriction: self.text("races.sex_rest", &mut r.sex_rest),
            distance_f: self.read("races.dist_f", &r.dist_f, furlongs),
            distance,
            distance_y,
            distance_m,
            going: self.text("races.going", &mut r.going),
            going_detailed: None,
            surface: self.text("races.surface", &mut r.surface),
            jumps: self.text("races.jumps", &mut r.jumps),
            prize_amount: None,
            prize_currency: None,
            field_size: None,
            ran,
            big_race: None,
            is_abandoned: None,
            stalls: None,
            weather: None,
            rail_movements: None,
            tip: None,
            verdict: None,
            betting_forecast: None,
            winning_time_detail: self.text("races.winning_time_detail", &mut r.winning_time_detail),
            comments: self.text("races.comments", &mut r.comments),
            non_runners: self.text("races.non_runners", &mut r.non_runners),
            tote_win: self.text("races.tote_win", &mut r.tote_win),
            tote_pl: self.text("races.tote_pl", &mut r.tote_pl),
            tote_ex: self.text("races.tote_ex", &mut r.tote_ex),
            tote_csf: self.text("races.tote_csf", &mut r.tote_csf),
            tote_tricast: self.text("races.tote_tricast", &mut r.tote_tricast),
            tote_trifecta: self.text("races.tote_trifecta", &mut r.tote_trifecta),
            region,
        };
        let mut seen = HashSet::with_capacity(runners.len());
        for (i, runner) in runners.into_iter().enumerate() {
            match runner {
                Lenient::Ok(ru) => self.result_runner(&race.id, &race.region, &mut seen, i, ru),
                Lenient::Bad(rej) => {
                    let label = Self::runner_label(&race.id, rej.hint.number.as_deref(), None, i);
                    self.skip(label, format!("unreadable record: {}", rej.error));
                }
            }
        }
        self.unit.races.push(race);
    }

    fn result_runner(
        &mut self,
        race_id: &str,
        region: &str,
        seen: &mut HashSet<String>,
        i: usize,
        mut ru: ResultRunner,
    ) {
        let (number, horse) = (&ru.number, &ru.horse);
        let label = || Self::runner_label(race_id, number.as_deref(), horse.as_deref(), i);
        let Some(horse_id) = self.runner_id(seen, label, &mut ru.horse_id) else {
            return;
        };
        let sex_code = self.text("runners.sex", &mut ru.sex);
        let horse_name = self.text("runners.horse", &mut ru.horse).unwrap_or_default();
        let sire_id = self.text("runners.sire_id", &mut ru.sire_id);
        let dam_id = self.text("runners.dam_id", &mut ru.dam_id);
        let damsire_id = self.text("runners.damsire_id", &mut ru.damsire_id);
        let (bare, suffix) = bare_name(&horse_name);
        let horse = Horse {
            id: horse_id.clone(),
            name: bare.to_string(),
            sex_code: sex_code.clone(),
            region: suffix.map(str::to_string),
            sire_id: sire_id.clone(),
            dam_id: dam_id.clone(),
            damsire_id: damsire_id.clone(),
            ..Horse::default()
        };
        upsert(&mut self.unit.entities.horses, &mut self.idx.horses, horse);
        let jockey_id = self.text("runners.jockey_id", &mut ru.jockey_id);
        let jockey_name = self.text("runners.jockey", &mut ru.jockey);
        let trainer_id = self.text("runners.trainer_id", &mut ru.trainer_id);
        let trainer_name = self.text("runners.trainer", &mut ru.trainer);
        let owner_id = self.text("runners.owner_id", &mut ru.owner_id);
        let owner_name = self.text("runners.owner", &mut ru.owner);
        let (sire, dam) = (self.str("runners.sire", &ru.sire), self.str("runners.dam", &ru.dam));
        let damsire = self.str("runners.damsire", &ru.damsire);
        self.people(Names {
            jockey: (jockey_id.as_deref(), jockey_name.as_deref()),
            trainer: (trainer_id.as_deref(), trainer_name.as_deref(), None),
            owner: (owner_id.as_deref(), owner_name.as_deref()),
            sire: (sire_id.as_deref(), sire, None),
            dam: (dam_id.as_deref(), dam, None),
            damsire: (damsire_id.as_deref(), damsire, None),
        });
        let prize = self.read("runners.prize", &ru.prize, |t| money(t, region));
        let finish_time_s = finish_seconds(ru.time.as_deref());
        let finish_pos = finish_position(ru.position.as_deref());
        let runner = Runner {
            source: Source::Result,
            race_id: race_id.to_string(),
            horse_id,
            horse_name,
            number: self.read("runners.number", &ru.number, int),
            draw: self.read("runners.draw", &ru.draw, int),
            age: self.read("runners.age", &ru.age, int),
            sex_code,
            jockey_id,
            jockey_name,
            jockey_claim_lbs: self.read("runners.jockey_claim_lbs", &ru.jockey_claim_lbs, int),
            trainer_id,
            trainer_name,
            owner_id,
            owner_name,
            sire_id,
            dam_id,
            damsire_id,
            weight_lbs: self.read("runners.weight_lbs", &ru.weight_lbs, int),
            headgear: self.text("runners.headgear", &mut ru.headgear),
            official_rating: self.read("runners.or", &ru.official_rating, int),
            // A result's ratings were earned in the race: their own columns, never the racecard's
            // pre-race `rpr`/`topspeed`.
            rpr: None,
            topspeed: None,
            result_rpr: self.read("runners.rpr", &ru.rpr, int),
            result_topspeed: self.read("runners.tsr", &ru.tsr, int),
            silk_url: self.text("runners.silk_url", &mut ru.silk_url),
            form: None,
            spotlight: None,
            card_comment: None,
            position: self.text("runners.position", &mut ru.position),
            finish_position: finish_pos,
            btn: self.read("runners.btn", &ru.btn, num),
            ovr_btn: self.read("runners.ovr_btn", &ru.ovr_btn, num),
            sp: self.text("runners.sp", &mut ru.sp),
            sp_decimal: self.read("runners.sp_dec", &ru.sp_dec, num),
            prize_amount: prize.map(|p| p.0),
            prize_currency: prize.and_then(|p| p.1).map(str::to_string),
            finish_time: self.text("runners.time", &mut ru.time),
            finish_time_s,
            comment: self.text("runners.comment", &mut ru.comment),
        };
        self.unit.runners.push(runner);
    }
}

/// Why a record has no key: `no horse_id`, or `horse_id is a list` when one was sent that cannot be read.
fn missing(key: &str, sent: &Text) -> String {
    match sent.unreadable() {
        Some(kind) => format!("{key} is {kind}"),
        None => format!("no {key}"),
    }
}

/// The field size: as sent when it is a positive number, else the number of runners listed (big
/// races days ahead send `"0"` with their entries listed).
fn field_size(sent: Option<i32>, listed: usize) -> Option<i32> {
    match sent {
        Some(n) if n > 0 => Some(n),
        _ if listed > 0 => i32::try_from(listed).ok(),
        other => other,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::model::Kind;

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
