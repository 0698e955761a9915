//! API payloads to typed `model` rows under the rules of docs/schema.md.
//!
//! The body is read as a list whose records are each read on their own (`models::Lenient`), so a
//! record that cannot be used is appended to `unit.skipped` with its reason and never fails the
//! page; only a body that is not JSON or lacks its list is an error. Races outside the configured
//! regions are ignored silently: the API sends them, but they are not wanted. Strings are moved out
//! of the payload into the rows; only ids and names shared by a row and an entity are copied.
//!
//! The rules, one function each (all public and unit-tested below): [`blank`], [`int`], [`num`],
//! [`money`], [`distance_yards`], [`yards_to_metres`], [`furlongs`], [`finish_seconds`],
//! [`finish_position`], [`odds_decimal`], [`off_instant`], [`uk_local_instant`], [`race_day`].

use super::Error;
use super::models::{
    CoursePayload, CoursesPage, HorsePro, Lenient, Odds, RacecardRace, RacecardRunner, RacecardsPage, Records,
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
use rules::{date, text, wanted};

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
            self.skip(label, "no region: cannot tell whether it is wanted");
            return None;
        };
        if !wanted(self.regions, &region) {
            return None;
        }
        let Some(id) = id else {
            let reason =
                if free_hint { "free racecards carry no race ids: use the basic plan or above" } else { "no race_id" };
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
            self.skip(label, "no course_id");
            return None;
        };
        let off_at = match blank(off_dt.as_deref()) {
            None => None,
            Some(s) => match off_instant(Some(s)) {
                Some(t) => Some(t),
                None => {
                    self.skip(label, format!("off_dt {s:?} is not an ISO 8601 date-time with offset"));
                    return None;
                }
            },
        };
        let Some(day) = race_day(date_text.as_deref(), off_at) else {
            self.skip(label, format!("no readable date (date {:?}, no off_dt)", date_text.as_deref()));
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
            self.skip(label(), "no horse_id");
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
        self.course(&course_id, blank(r.course.as_deref()), &region);
        let distance = text(&mut r.distance);
        let distance_y = distance.as_deref().and_then(distance_yards);
        let prize = money(r.prize.as_deref(), &region);
        let field_size = field_size(int(r.field_size.as_deref()), r.runners.len());
        let runners = std::mem::take(&mut r.runners);
        let race = Race {
            source: Source::Racecard,
            id,
            course_id,
            course_name: text(&mut r.course).unwrap_or_default(),
            race_date,
            off_at,
            race_name: text(&mut r.race_name),
            race_type: text(&mut r.race_type),
            race_class: text(&mut r.race_class),
            pattern: text(&mut r.pattern),
            rating_band: text(&mut r.rating_band),
            age_band: text(&mut r.age_band),
            sex_restriction: text(&mut r.sex_restriction),
            distance_f: furlongs(r.distance_f.as_deref()),
            distance,
            distance_y,
            distance_m: distance_y.map(yards_to_metres),
            going: text(&mut r.going),
            going_detailed: text(&mut r.going_detailed),
            surface: text(&mut r.surface),
            jumps: text(&mut r.jumps),
            prize_amount: prize.map(|p| p.0),
            prize_currency: prize.and_then(|p| p.1).map(str::to_string),
            field_size,
            ran: None,
            big_race: r.big_race.0,
            is_abandoned: r.is_abandoned.0,
            stalls: text(&mut r.stalls),
            weather: text(&mut r.weather),
            rail_movements: text(&mut r.rail_movements),
            tip: text(&mut r.tip),
            verdict: text(&mut r.verdict),
            betting_forecast: text(&mut r.betting_forecast),
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
        let sex_code = text(&mut ru.sex_code);
        let horse_name = text(&mut ru.horse).unwrap_or_default();
        let sire_id = text(&mut ru.sire_id);
        let dam_id = text(&mut ru.dam_id);
        let damsire_id = text(&mut ru.damsire_id);
        let (bare, suffix) = bare_name(&horse_name);
        let horse = Horse {
            id: horse_id.clone(),
            name: bare.to_string(),
            sex_code: sex_code.clone(),
            dob: date(ru.dob.as_deref()),
            colour: text(&mut ru.colour),
            breeder: text(&mut ru.breeder),
            region: text(&mut ru.region).or_else(|| suffix.map(str::to_string)),
            sire_id: sire_id.clone(),
            dam_id: dam_id.clone(),
            damsire_id: damsire_id.clone(),
        };
        upsert(&mut self.unit.entities.horses, &mut self.idx.horses, horse);
        let jockey_id = text(&mut ru.jockey_id);
        let jockey_name = text(&mut ru.jockey);
        let trainer_id = text(&mut ru.trainer_id);
        let trainer_name = text(&mut ru.trainer);
        let owner_id = text(&mut ru.owner_id);
        let owner_name = text(&mut ru.owner);
        self.people(Names {
            jockey: (jockey_id.as_deref(), jockey_name.as_deref()),
            trainer: (trainer_id.as_deref(), trainer_name.as_deref(), blank(ru.trainer_location.as_deref())),
            owner: (owner_id.as_deref(), owner_name.as_deref()),
            sire: (sire_id.as_deref(), blank(ru.sire.as_deref()), blank(ru.sire_region.as_deref())),
            dam: (dam_id.as_deref(), blank(ru.dam.as_deref()), blank(ru.dam_region.as_deref())),
            damsire: (damsire_id.as_deref(), blank(ru.damsire.as_deref()), blank(ru.damsire_region.as_deref())),
        });
        let odds = std::mem::take(&mut ru.odds);
        self.odds(race_id, &horse_id, odds);
        self.unit.runners.push(Runner {
            source: Source::Racecard,
            race_id: race_id.to_string(),
            horse_id,
            horse_name,
            number: int(ru.number.as_deref()),
            draw: int(ru.draw.as_deref()),
            age: int(ru.age.as_deref()),
            sex_code,
            jockey_id,
            jockey_name,
            jockey_claim_lbs: int(ru.jockey_claim_lbs.as_deref()),
            trainer_id,
            trainer_name,
            owner_id,
            owner_name,
            sire_id,
            dam_id,
            damsire_id,
            weight_lbs: int(ru.lbs.as_deref()),
            headgear: text(&mut ru.headgear),
            official_rating: int(ru.ofr.as_deref()),
            rpr: int(ru.rpr.as_deref()),
            topspeed: int(ru.ts.as_deref()),
            silk_url: text(&mut ru.silk_url),
            form: text(&mut ru.form),
            spotlight: text(&mut ru.spotlight),
            card_comment: text(&mut ru.comment),
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
        });
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
            let Some(name) = text(&mut o.bookmaker) else {
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
                fractional: text(&mut o.fractional),
                decimal: odds_decimal(o.decimal.as_deref()),
                ew_places: int(o.ew_places.as_deref()),
                ew_denom: int(o.ew_denom.as_deref()),
                quoted_at: uk_local_instant(o.updated.as_deref()),
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
        self.course(&course_id, blank(r.course.as_deref()), &region);
        let distance = text(&mut r.dist);
        let distance_y = int(r.dist_y.as_deref()).or_else(|| distance.as_deref().and_then(distance_yards));
        let distance_m = int(r.dist_m.as_deref()).or_else(|| distance_y.map(yards_to_metres));
        // How many ran is the runners the result lists (non-runners are not listed); the declared
        // field is the racecard's and a result never writes it.
        let ran = (!r.runners.is_empty()).then(|| i32::try_from(r.runners.len()).ok()).flatten();
        let runners = std::mem::take(&mut r.runners);
        let race = Race {
            source: Source::Result,
            id,
            course_id,
            course_name: text(&mut r.course).unwrap_or_default(),
            race_date,
            off_at,
            race_name: text(&mut r.race_name),
            race_type: text(&mut r.race_type),
            race_class: text(&mut r.class),
            pattern: text(&mut r.pattern),
            rating_band: text(&mut r.rating_band),
            age_band: text(&mut r.age_band),
            sex_restriction: text(&mut r.sex_rest),
            distance_f: furlongs(r.dist_f.as_deref()),
            distance,
            distance_y,
            distance_m,
            going: text(&mut r.going),
            going_detailed: None,
            surface: text(&mut r.surface),
            jumps: text(&mut r.jumps),
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
            winning_time_detail: text(&mut r.winning_time_detail),
            comments: text(&mut r.comments),
            non_runners: text(&mut r.non_runners),
            tote_win: text(&mut r.tote_win),
            tote_pl: text(&mut r.tote_pl),
            tote_ex: text(&mut r.tote_ex),
            tote_csf: text(&mut r.tote_csf),
            tote_tricast: text(&mut r.tote_tricast),
            tote_trifecta: text(&mut r.tote_trifecta),
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
        let sex_code = text(&mut ru.sex);
        let horse_name = text(&mut ru.horse).unwrap_or_default();
        let sire_id = text(&mut ru.sire_id);
        let dam_id = text(&mut ru.dam_id);
        let damsire_id = text(&mut ru.damsire_id);
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
        let jockey_id = text(&mut ru.jockey_id);
        let jockey_name = text(&mut ru.jockey);
        let trainer_id = text(&mut ru.trainer_id);
        let trainer_name = text(&mut ru.trainer);
        let owner_id = text(&mut ru.owner_id);
        let owner_name = text(&mut ru.owner);
        self.people(Names {
            jockey: (jockey_id.as_deref(), jockey_name.as_deref()),
            trainer: (trainer_id.as_deref(), trainer_name.as_deref(), None),
            owner: (owner_id.as_deref(), owner_name.as_deref()),
            sire: (sire_id.as_deref(), blank(ru.sire.as_deref()), None),
            dam: (dam_id.as_deref(), blank(ru.dam.as_deref()), None),
            damsire: (damsire_id.as_deref(), blank(ru.damsire.as_deref()), None),
        });
        let prize = money(ru.prize.as_deref(), region);
        let finish_time_s = finish_seconds(ru.time.as_deref());
        let finish_pos = finish_position(ru.position.as_deref());
        self.unit.runners.push(Runner {
            source: Source::Result,
            race_id: race_id.to_string(),
            horse_id,
            horse_name,
            number: int(ru.number.as_deref()),
            draw: int(ru.draw.as_deref()),
            age: int(ru.age.as_deref()),
            sex_code,
            jockey_id,
            jockey_name,
            jockey_claim_lbs: int(ru.jockey_claim_lbs.as_deref()),
            trainer_id,
            trainer_name,
            owner_id,
            owner_name,
            sire_id,
            dam_id,
            damsire_id,
            weight_lbs: int(ru.weight_lbs.as_deref()),
            headgear: text(&mut ru.headgear),
            official_rating: int(ru.official_rating.as_deref()),
            // A result's ratings were earned in the race: their own columns, never the racecard's
            // pre-race `rpr`/`topspeed`.
            rpr: None,
            topspeed: None,
            result_rpr: int(ru.rpr.as_deref()),
            result_topspeed: int(ru.tsr.as_deref()),
            silk_url: text(&mut ru.silk_url),
            form: None,
            spotlight: None,
            card_comment: None,
            position: text(&mut ru.position),
            finish_position: finish_pos,
            btn: num(ru.btn.as_deref()),
            ovr_btn: num(ru.ovr_btn.as_deref()),
            sp: text(&mut ru.sp),
            sp_decimal: num(ru.sp_dec.as_deref()),
            prize_amount: prize.map(|p| p.0),
            prize_currency: prize.and_then(|p| p.1).map(str::to_string),
            finish_time: text(&mut ru.time),
            finish_time_s,
            comment: text(&mut ru.comment),
        });
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
    fn one_bad_race_is_skipped_and_the_rest_kept() {
        let body = br#"{"results":[
            {"race_id":"rac_1","region":"GB","course_id":"crs_1","course":"A","date":"2025-10-07",
             "off_dt":"2025-10-07T20:30:00+01:00","runners":[{"horse_id":"hrs_1","position":"PU"},{"number":"4"}]},
            {"race_id":"rac_2","region":"GB","course":{"bad":1}},
            {"race_id":"rac_3","region":"FR","course":{"bad":1}},
            {"race_id":"rac_4","region":"IRE","course_id":"crs_2","date":"2025-10-07","off_dt":"soon"}
        ]}"#;
        let mut u = unit();
        results_into(&mut u, body, &["gb".into(), "ire".into()]).unwrap();
        assert_eq!(u.races.len(), 1);
        assert_eq!((u.races[0].ran, u.races[0].field_size), (Some(2), None), "a result says how many ran");
        assert_eq!(u.runners.len(), 1);
        assert_eq!(u.runners[0].position.as_deref(), Some("PU"));
        assert_eq!(u.runners[0].finish_position, None);
        let records: Vec<&str> = u.skipped.iter().map(|s| s.record.as_str()).collect();
        assert_eq!(records, ["runner rac_1/#4", "race rac_2", "race rac_4"]);
        assert_eq!(u.skipped[0].reason, "no horse_id");
        // Reading the same page again (a page repeated by a shifting list) adds nothing.
        let before = u.skipped.len();
        results_into(&mut u, body, &["gb".into()]).unwrap();
        assert_eq!((u.races.len(), u.runners.len()), (1, 1));
        assert_eq!(u.skipped.len(), before + 1, "only the unreadable GB race again");
    }
}
