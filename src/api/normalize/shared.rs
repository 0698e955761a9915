//! What racecards and results share: the `Normalizer` over one unit, the field accessors that
//! count what they drop, the checks every race and runner passes, and the one builder of the race
//! and runner fields both feeds send (`race`, `runner`); `racecards.rs` and `results.rs` each add
//! only their own fields.

use super::entities::{Index, upsert};
use super::rules::{bare_name, blank, date, int, jockey_bare_name, off_instant, race_day, region_name, text, wanted};
use crate::api::payload::{Lenient, List, RaceShared, Records, Rejected, RunnerShared, Text};
use crate::model::{Ancestor, Course, Horse, Person, Race, Runner, Skipped, Source, Trainer, Unit};
use std::collections::HashSet;

pub(super) struct Normalizer<'u> {
    pub(super) unit: &'u mut Unit,
    regions: &'u [String],
    idx: Index,
    race_ids: HashSet<String>,
    pub(super) bookmakers: HashSet<String>,
}

/// A runner record of either feed: the fields it shares with the other.
pub(super) trait FeedRunner {
    fn shared(&mut self) -> &mut RunnerShared;
}

/// What a feed reads for a runner under its own names and rules, for the shared builder
/// (`Normalizer::runner`) to put in the runner's row and its entities.
#[derive(Default)]
pub(super) struct RunnerOwn<'a> {
    /// The horse's sex code: `sex_code` on a racecard, `sex` on a result.
    pub(super) sex_code: Option<String>,
    /// What only this feed says of the horse (a racecard's dob, colour, breeder, breeding
    /// region); id, name, sex and pedigree ids come from the shared fields. With no region, the
    /// name's suffix gives it (`"Flaggan (IRE)"`).
    pub(super) horse: Horse,
    pub(super) trainer_location: Option<&'a str>,
    /// The sire's, dam's and damsire's regions as sent (racecards); else their names' suffixes.
    pub(super) sire_region: Option<&'a str>,
    pub(super) dam_region: Option<&'a str>,
    pub(super) damsire_region: Option<&'a str>,
    /// The shared `number`, read by the feed's rule (a racecard's `NR` is no number, not a drop).
    pub(super) number: Option<i32>,
    pub(super) weight_lbs: Option<i32>,
    pub(super) official_rating: Option<i32>,
}

impl<'u> Normalizer<'u> {
    pub(super) fn new(unit: &'u mut Unit, regions: &'u [String]) -> Self {
        let mut idx = Index::default();
        idx.build(&unit.entities);
        let race_ids = unit.races.iter().map(|r| r.id.clone()).collect();
        let bookmakers = unit.bookmakers.iter().map(|b| b.code.clone()).collect();
        Normalizer { unit, regions, idx, race_ids, bookmakers }
    }

    pub(super) fn skip(&mut self, record: String, reason: impl Into<String>) {
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
    pub(super) fn text(&mut self, field: &str, t: &mut Text) -> Option<String> {
        if t.unreadable().is_some() {
            self.dropped(field);
        }
        text(t)
    }

    /// A text field, trimmed, borrowed (names copied into entities).
    pub(super) fn str<'t>(&mut self, field: &str, t: &'t Text) -> Option<&'t str> {
        if t.unreadable().is_some() {
            self.dropped(field);
        }
        blank(t.as_deref())
    }

    /// A field read by `rule` (`int`, `num`, ...): a blank is `None`; a value the rule cannot read
    /// is `None` and dropped.
    pub(super) fn read<T>(&mut self, field: &str, t: &Text, rule: impl FnOnce(Option<&str>) -> Option<T>) -> Option<T> {
        let value = rule(t.as_deref());
        if value.is_none() && (t.unreadable().is_some() || blank(t.as_deref()).is_some()) {
            self.dropped(field);
        }
        value
    }

    /// The records of a nested list; a list sent as something else is dropped (no records).
    pub(super) fn records<T>(&mut self, field: &str, list: List<T>) -> Records<T> {
        if list.unreadable.is_some() {
            self.dropped(field);
        }
        list.items
    }

    /// A race record that could not be read: skipped, unless its region is one not wanted.
    pub(super) fn rejected_race(&mut self, r: Rejected) {
        if let Some(region) = &r.hint.region
            && !wanted(self.regions, region)
        {
            return;
        }
        let id = r.hint.race_id.as_deref().unwrap_or("?");
        self.skip(format!("race {id}"), format!("unreadable record: {}", r.error));
    }

    /// The checks every race passes, whichever feed (region wanted, ids present, times readable),
    /// its course, and the race fields both feeds send; the feed fills the rest, which is `None`
    /// here. `None` means the race is not kept (ignored or skipped). `free_hint`: the race looks
    /// like a free racecard's, which carries no ids.
    pub(super) fn race(&mut self, source: Source, r: &mut RaceShared, free_hint: bool) -> Option<Race> {
        let id = text(&mut r.race_id);
        let label = match &id {
            Some(id) => format!("race {id}"),
            None => format!(
                "race at {} {}",
                r.course.as_deref().unwrap_or("?"),
                r.off_dt.as_deref().or(r.date.as_deref()).unwrap_or("?")
            ),
        };
        let Some(region) = text(&mut r.region).map(|code| code.trim().to_string()) else {
            self.skip(label, format!("{}: cannot tell whether it is wanted", missing("region", &r.region)));
            return None;
        };
        if !wanted(self.regions, &region) {
            return None;
        }
        let Some(id) = id else {
            let reason = if free_hint {
                "free racecards carry no race ids: use the basic plan or above".to_string()
            } else {
                missing("race_id", &r.race_id)
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
        let Some(course_id) = text(&mut r.course_id) else {
            self.skip(label, missing("course_id", &r.course_id));
            return None;
        };
        // An unreadable off time is dropped like any field: the race keeps its day from `date`.
        let off_at = self.read("races.off_dt", &r.off_dt, off_instant);
        let date_sent = self.read("races.date", &r.date, date);
        let Some(race_date) = date_sent.or_else(|| race_day(None, off_at)) else {
            self.skip(
                label,
                format!("no readable date (date {:?}, off_dt {:?})", r.date.as_deref(), r.off_dt.as_deref()),
            );
            return None;
        };
        self.race_ids.insert(id.clone());
        let course_name = self.text("races.course", &mut r.course).unwrap_or_default();
        self.course(&course_id, blank(Some(&course_name)), &region);
        Some(Race {
            source,
            id,
            course_id,
            course_name,
            race_date,
            off_at,
            race_name: self.text("races.race_name", &mut r.race_name),
            race_type: self.text("races.type", &mut r.race_type),
            race_class: None,
            pattern: self.text("races.pattern", &mut r.pattern),
            rating_band: self.text("races.rating_band", &mut r.rating_band),
            age_band: self.text("races.age_band", &mut r.age_band),
            sex_restriction: None,
            distance_f: None,
            distance: None,
            distance_y: None,
            distance_m: None,
            going: self.text("races.going", &mut r.going),
            going_detailed: None,
            surface: self.text("races.surface", &mut r.surface),
            jumps: self.text("races.jumps", &mut r.jumps),
            prize_amount: None,
            prize_currency: None,
            field_size: None,
            ran: None,
            big_race: None,
            is_abandoned: None,
            stalls: None,
            weather: None,
            rail_movements: None,
            tip: None,
            verdict: None,
            betting_forecast: None,
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
        })
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

    /// Reads a race's runners in order, each through `runner` once it has a horse id not seen
    /// before in the race (else it is skipped, as is a record that cannot be read), then keeps
    /// the race.
    pub(super) fn race_runners<T: FeedRunner>(
        &mut self,
        race: Race,
        runners: Records<T>,
        mut runner: impl FnMut(&mut Self, &Race, String, T),
    ) {
        let mut seen = HashSet::with_capacity(runners.len());
        for (i, item) in runners.into_iter().enumerate() {
            match item {
                Lenient::Ok(mut ru) => {
                    if let Some(horse_id) = self.runner_id(&race.id, &mut seen, i, ru.shared()) {
                        runner(self, &race, horse_id, ru);
                    }
                }
                Lenient::Bad(rej) => {
                    let label = runner_label(&race.id, rej.hint.number.as_deref(), None, i);
                    self.skip(label, format!("unreadable record: {}", rej.error));
                }
            }
        }
        self.unit.races.push(race);
    }

    /// The runner's key: a horse id, once per race.
    fn runner_id(
        &mut self,
        race_id: &str,
        seen: &mut HashSet<String>,
        i: usize,
        s: &mut RunnerShared,
    ) -> Option<String> {
        let label = |s: &RunnerShared| runner_label(race_id, s.number.as_deref(), s.horse.as_deref(), i);
        let Some(id) = text(&mut s.horse_id) else {
            self.skip(label(s), missing("horse_id", &s.horse_id));
            return None;
        };
        if !seen.insert(id.clone()) {
            self.skip(label(s), format!("duplicate horse_id {id} in the race"));
            return None;
        }
        Some(id)
    }

    /// The runner fields both feeds send, with the feed's own reading of the rest (`own`): the
    /// horse, its people and pedigree merged into the unit's entities, and the runner's row with
    /// the fields of one feed only `None`, for the feed to fill.
    pub(super) fn runner(
        &mut self,
        source: Source,
        race_id: &str,
        horse_id: String,
        s: &mut RunnerShared,
        own: RunnerOwn<'_>,
    ) -> Runner {
        let horse_name = self.text("runners.horse", &mut s.horse).unwrap_or_default();
        let sire_id = self.text("runners.sire_id", &mut s.sire_id);
        let dam_id = self.text("runners.dam_id", &mut s.dam_id);
        let damsire_id = self.text("runners.damsire_id", &mut s.damsire_id);
        let (bare, suffix) = bare_name(&horse_name);
        let horse = Horse {
            id: horse_id.clone(),
            name: bare.to_string(),
            sex_code: own.sex_code.clone(),
            region: own.horse.region.or_else(|| suffix.map(str::to_string)),
            sire_id: sire_id.clone(),
            dam_id: dam_id.clone(),
            damsire_id: damsire_id.clone(),
            ..own.horse
        };
        upsert(&mut self.unit.entities.horses, &mut self.idx.horses, horse);
        let jockey_id = self.text("runners.jockey_id", &mut s.jockey_id);
        let jockey_name = self.text("runners.jockey", &mut s.jockey);
        let trainer_id = self.text("runners.trainer_id", &mut s.trainer_id);
        let trainer_name = self.text("runners.trainer", &mut s.trainer);
        let owner_id = self.text("runners.owner_id", &mut s.owner_id);
        let owner_name = self.text("runners.owner", &mut s.owner);
        let (sire, dam) = (self.str("runners.sire", &s.sire), self.str("runners.dam", &s.dam));
        let damsire = self.str("runners.damsire", &s.damsire);
        self.people(Names {
            jockey: (jockey_id.as_deref(), jockey_name.as_deref()),
            trainer: (trainer_id.as_deref(), trainer_name.as_deref(), own.trainer_location),
            owner: (owner_id.as_deref(), owner_name.as_deref()),
            sire: (sire_id.as_deref(), sire, own.sire_region),
            dam: (dam_id.as_deref(), dam, own.dam_region),
            damsire: (damsire_id.as_deref(), damsire, own.damsire_region),
        });
        Runner {
            source,
            race_id: race_id.to_string(),
            horse_id,
            horse_name,
            number: own.number,
            draw: self.read("runners.draw", &s.draw, int),
            age: self.read("runners.age", &s.age, int),
            sex_code: own.sex_code,
            jockey_id,
            jockey_name,
            jockey_claim_lbs: self.read("runners.jockey_claim_lbs", &s.jockey_claim_lbs, int),
            trainer_id,
            trainer_name,
            owner_id,
            owner_name,
            sire_id,
            dam_id,
            damsire_id,
            weight_lbs: own.weight_lbs,
            headgear: self.text("runners.headgear", &mut s.headgear),
            official_rating: own.official_rating,
            silk_url: self.text("runners.silk_url", &mut s.silk_url),
            rpr: None,
            topspeed: None,
            form: None,
            spotlight: None,
            card_comment: None,
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
        }
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
}

/// The people and pedigree a runner names: (id, name) and, where a feed sends it, the trainer's
/// location and the ancestors' regions.
struct Names<'a> {
    jockey: (Option<&'a str>, Option<&'a str>),
    trainer: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    owner: (Option<&'a str>, Option<&'a str>),
    sire: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    dam: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
    damsire: (Option<&'a str>, Option<&'a str>, Option<&'a str>),
}

fn runner_label(race_id: &str, number: Option<&str>, horse: Option<&str>, i: usize) -> String {
    match (blank(number), blank(horse)) {
        (Some(n), _) => format!("runner {race_id}/#{n}"),
        (None, Some(h)) => format!("runner {race_id}/{h}"),
        (None, None) => format!("runner {race_id}/[{i}]"),
    }
}

/// Why a record has no key: `no horse_id`, or `horse_id is a list` when one was sent that cannot be read.
fn missing(key: &str, sent: &Text) -> String {
    match sent.unreadable() {
        Some(kind) => format!("{key} is {kind}"),
        None => format!("no {key}"),
    }
}
