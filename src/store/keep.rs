//! What one write keeps and what it skips, decided once for both backends: one row per key,
//! no empty keys, no runner without its race or horse, no odds without their runner. The
//! backends only write what this module kept, so their skip counts and reasons are the same.
//!
//! Rules, in the order their `Skipped` records are reported:
//! 1. every row with an empty key part is skipped (`empty key`); of rows sharing a key the last
//!    one is kept (the newest description wins) and the earlier ones are reported;
//! 2. a runner whose race is not among the unit's races is skipped (the unit is written whole,
//!    so its races are exactly the races it may attach runners to);
//! 3. a runner whose horse is neither among the unit's horses nor already in `horses` is
//!    skipped (the backend looks the missing ones up: [`UnitRows::unlisted_horses`]);
//! 4. odds of a runner that was not kept are skipped.
//!
//! [`Settled`] is the one rule both backends render for the columns racecards and results share:
//! whose value stands once a result is stored.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::model::{
    Ancestor, Bookmaker, Course, Entities, Horse, Person, Race, RawResponse, Runner, RunnerOdds, Skipped, Source,
    Trainer, Unit,
};

/// Keeps the last row of each key (the newest description wins), in first-seen order; rows with
/// an empty key part and earlier duplicates are reported as skipped.
pub fn dedupe<'a, T, K: Hash + Eq>(
    rows: impl IntoIterator<Item = &'a T>,
    what: &str,
    key: impl Fn(&T) -> K,
    label: impl Fn(&T) -> String,
    valid: impl Fn(&T) -> bool,
    skipped: &mut Vec<Skipped>,
) -> Vec<&'a T> {
    let rows = rows.into_iter();
    let mut index: HashMap<K, usize> = HashMap::with_capacity(rows.size_hint().0);
    let mut out: Vec<&T> = Vec::with_capacity(rows.size_hint().0);
    for row in rows {
        if !valid(row) {
            skipped.push(Skipped { record: format!("{what} {}", label(row)), reason: "empty key".into() });
            continue;
        }
        match index.get(&key(row)) {
            Some(&i) => {
                skipped.push(Skipped {
                    record: format!("{what} {}", label(out[i])),
                    reason: "listed twice in one write; the later row was kept".into(),
                });
                out[i] = row;
            }
            None => {
                index.insert(key(row), out.len());
                out.push(row);
            }
        }
    }
    out
}

fn by_id<'a, T>(rows: &'a [T], what: &str, id: impl Fn(&T) -> &str, skipped: &mut Vec<Skipped>) -> Vec<&'a T> {
    dedupe(rows, what, |r| id(r).to_string(), |r| id(r).to_string(), |r| !id(r).is_empty(), skipped)
}

/// The entity rows a write keeps, one per id.
#[derive(Debug, Default)]
pub struct EntityRows<'a> {
    pub courses: Vec<&'a Course>,
    pub horses: Vec<&'a Horse>,
    pub jockeys: Vec<&'a Person>,
    pub trainers: Vec<&'a Trainer>,
    pub owners: Vec<&'a Person>,
    pub sires: Vec<&'a Ancestor>,
    pub dams: Vec<&'a Ancestor>,
    pub damsires: Vec<&'a Ancestor>,
}

impl<'a> EntityRows<'a> {
    pub fn new(e: &'a Entities, skipped: &mut Vec<Skipped>) -> Self {
        EntityRows {
            courses: by_id(&e.courses, "course", |r| &r.id, skipped),
            horses: horses(&e.horses, skipped),
            jockeys: by_id(&e.jockeys, "jockey", |r| &r.id, skipped),
            trainers: by_id(&e.trainers, "trainer", |r| &r.id, skipped),
            owners: by_id(&e.owners, "owner", |r| &r.id, skipped),
            sires: by_id(&e.sires, "sire", |r| &r.id, skipped),
            dams: by_id(&e.dams, "dam", |r| &r.id, skipped),
            damsires: by_id(&e.damsires, "damsire", |r| &r.id, skipped),
        }
    }
}

/// Horse rows (entities or profiles), one per id.
pub fn horses<'a>(rows: &'a [Horse], skipped: &mut Vec<Skipped>) -> Vec<&'a Horse> {
    by_id(rows, "horse", |r| &r.id, skipped)
}

pub fn bookmakers<'a>(rows: &'a [Bookmaker], skipped: &mut Vec<Skipped>) -> Vec<&'a Bookmaker> {
    by_id(rows, "bookmaker", |r| &r.code, skipped)
}

pub fn responses<'a>(rows: &'a [RawResponse], skipped: &mut Vec<Skipped>) -> Vec<&'a RawResponse> {
    dedupe(
        rows,
        "response",
        |r| (r.endpoint.clone(), r.params.clone()),
        |r| format!("{}?{}", r.endpoint, r.params),
        |r| !r.endpoint.is_empty(),
        skipped,
    )
}

/// Everything of a unit that a write keeps, and what it skipped, with reasons.
#[derive(Debug)]
pub struct UnitRows<'a> {
    pub entities: EntityRows<'a>,
    pub races: Vec<&'a Race>,
    pub runners: Vec<&'a Runner>,
    pub odds: Vec<&'a RunnerOdds>,
    pub bookmakers: Vec<&'a Bookmaker>,
    pub responses: Vec<&'a RawResponse>,
    pub skipped: Vec<Skipped>,
    /// Runners whose race is in the unit, before the horse rule ([`UnitRows::settle`]).
    settled: bool,
}

impl<'a> UnitRows<'a> {
    /// Rules 1 and 2. Call [`UnitRows::settle`] before writing runners or odds.
    pub fn new(unit: &'a Unit) -> Self {
        let mut skipped = Vec::new();
        let entities = EntityRows::new(&unit.entities, &mut skipped);
        let races = dedupe(
            &unit.races,
            "race",
            |r| (r.source, r.id.clone()),
            |r| r.id.clone(),
            |r| !r.id.is_empty(),
            &mut skipped,
        );
        let runners = dedupe(
            &unit.runners,
            "runner",
            |r| (r.source, r.race_id.clone(), r.horse_id.clone()),
            |r| format!("{}/{}", r.race_id, r.horse_id),
            |r| !r.race_id.is_empty() && !r.horse_id.is_empty(),
            &mut skipped,
        );
        let odds = dedupe(
            &unit.odds,
            "odds",
            |o| (o.race_id.clone(), o.horse_id.clone(), o.bookmaker.clone()),
            |o| format!("{}/{}/{}", o.race_id, o.horse_id, o.bookmaker),
            |o| !o.race_id.is_empty() && !o.horse_id.is_empty() && !o.bookmaker.is_empty(),
            &mut skipped,
        );
        let bookmakers = bookmakers(&unit.bookmakers, &mut skipped);
        let responses = responses(&unit.responses, &mut skipped);

        let race_ids: HashSet<(Source, &str)> = races.iter().map(|r| (r.source, r.id.as_str())).collect();
        let runners = runners
            .into_iter()
            .filter(|r| {
                let ok = race_ids.contains(&(r.source, r.race_id.as_str()));
                if !ok {
                    skipped.push(Skipped {
                        record: format!("runner {}/{}", r.race_id, r.horse_id),
                        reason: format!("its race {} is not in this unit", r.race_id),
                    });
                }
                ok
            })
            .collect();
        UnitRows { entities, races, runners, odds, bookmakers, responses, skipped, settled: false }
    }

    /// Horse ids of kept runners that are not among the unit's horses, sorted and distinct:
    /// the backend says which of them `horses` already holds.
    pub fn unlisted_horses(&self) -> Vec<&'a str> {
        let listed: HashSet<&str> = self.entities.horses.iter().map(|h| h.id.as_str()).collect();
        let mut ids: Vec<&'a str> =
            self.runners.iter().map(|r| r.horse_id.as_str()).filter(|h| !listed.contains(h)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Rules 3 and 4, given which of [`UnitRows::unlisted_horses`] the `horses` table holds.
    pub fn settle(&mut self, stored_horses: &HashSet<String>) {
        let listed: HashSet<&str> = self.entities.horses.iter().map(|h| h.id.as_str()).collect();
        let skipped = &mut self.skipped;
        self.runners.retain(|r| {
            let ok = listed.contains(r.horse_id.as_str()) || stored_horses.contains(&r.horse_id);
            if !ok {
                skipped.push(Skipped {
                    record: format!("runner {}/{}", r.race_id, r.horse_id),
                    reason: format!("its horse {} is neither in this unit nor in the horses table", r.horse_id),
                });
            }
            ok
        });
        let written: HashSet<(&str, &str)> =
            self.runners.iter().map(|r| (r.race_id.as_str(), r.horse_id.as_str())).collect();
        self.odds.retain(|o| {
            let ok = written.contains(&(o.race_id.as_str(), o.horse_id.as_str()));
            if !ok {
                skipped.push(Skipped {
                    record: format!("odds {}/{}/{}", o.race_id, o.horse_id, o.bookmaker),
                    reason: format!("its runner {}/{} was not written by this unit", o.race_id, o.horse_id),
                });
            }
            ok
        });
        self.settled = true;
    }

    /// Whether [`UnitRows::settle`] ran (backends assert it before writing runners).
    pub fn is_settled(&self) -> bool {
        self.settled
    }

    /// Distinct race ids kept: `fetch_coverage.races`.
    pub fn race_count(&self) -> usize {
        self.races.iter().map(|r| r.id.as_str()).collect::<HashSet<_>>().len()
    }

    /// Distinct runners kept: `fetch_coverage.runners`.
    pub fn runner_count(&self) -> usize {
        self.runners.iter().map(|r| (r.race_id.as_str(), r.horse_id.as_str())).collect::<HashSet<_>>().len()
    }
}

/// Which stored row's state decides a shared column (SCHEMA.md, "Column ownership"): before a
/// result is stored, the newest racecard's value stands (`COALESCE(new, old)`); once one is, the
/// result's value stands and a later racecard only fills what it left NULL (`COALESCE(old, new)`).
/// Results always write `COALESCE(new, old)`. Both backends render the same condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// A race: its `has_result`.
    Race,
    /// A runner: its own `result_updated_at IS NOT NULL`, not its race's `has_result`. The two
    /// differ only for a runner the result does not list (a non-runner): it has no result value
    /// to keep, so it follows the newest racecard as every unresulted row does. Keyed on the
    /// race, a racecard refreshed after the result would fill it with the older card's values
    /// while the same cards loaded before the result give the newer card's, so the rows would
    /// depend on the order racecards and results arrived.
    Runner,
}

impl Settled {
    /// The SQL condition, on the stored row named `alias`, that a result settled it.
    pub fn condition(self, alias: &str) -> String {
        match self {
            Settled::Race => format!("{alias}.has_result"),
            Settled::Runner => format!("{alias}.result_updated_at IS NOT NULL"),
        }
    }

    /// The value a racecard writes to a shared column `name`: `new` is its incoming value.
    pub fn racecard_merge(self, alias: &str, name: &str, new: &str) -> String {
        format!(
            "CASE WHEN {cond} THEN COALESCE({alias}.{name}, {new}) ELSE COALESCE({new}, {alias}.{name}) END",
            cond = self.condition(alias)
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::model::Kind;

    #[test]
    fn dedupe_keeps_the_last_row_and_reports_the_rest() {
        let rows = vec![("a", 1), ("b", 2), ("a", 3), ("", 4)];
        let mut skipped = Vec::new();
        let kept = dedupe(&rows, "x", |r| r.0, |r| r.0.to_string(), |r| !r.0.is_empty(), &mut skipped);
        assert_eq!(kept, vec![&("a", 3), &("b", 2)]);
        assert_eq!(skipped.len(), 2);
    }

    fn runner(race: &str, horse: &str) -> Runner {
        let v = serde_json::json!({"source": "racecard", "race_id": race, "horse_id": horse, "horse_name": horse});
        serde_json::from_value(v).unwrap()
    }

    fn odds(race: &str, horse: &str) -> RunnerOdds {
        serde_json::from_value(serde_json::json!({"race_id": race, "horse_id": horse, "bookmaker": "b"})).unwrap()
    }

    #[test]
    fn runners_need_their_race_and_horse_and_odds_their_runner() {
        let mut unit = Unit::new(Kind::Racecards, chrono::NaiveDate::default());
        let race = serde_json::json!({"source": "racecard", "id": "rac_1", "course_id": "c", "course_name": "C",
                                      "race_date": "2025-10-14", "region": "GB"});
        unit.races = vec![serde_json::from_value(race).unwrap()];
        unit.entities.horses = vec![Horse { id: "hrs_1".into(), ..Horse::default() }];
        unit.runners = vec![runner("rac_1", "hrs_1"), runner("rac_9", "hrs_1"), runner("rac_1", "hrs_2")];
        unit.runners.push(runner("rac_1", "hrs_3"));
        unit.odds = vec![odds("rac_1", "hrs_2"), odds("rac_1", "hrs_1")];
        let mut rows = UnitRows::new(&unit);
        assert_eq!(rows.skipped.len(), 1);
        assert!(rows.skipped[0].reason.contains("race rac_9"));
        assert_eq!(rows.unlisted_horses(), ["hrs_2", "hrs_3"]);
        rows.settle(&HashSet::from(["hrs_3".to_string()]));
        let records: Vec<&str> = rows.skipped.iter().map(|s| s.record.as_str()).collect();
        assert_eq!(records, ["runner rac_9/hrs_1", "runner rac_1/hrs_2", "odds rac_1/hrs_2/b"]);
        assert!(rows.skipped[1].reason.contains("horse hrs_2"));
        assert_eq!((rows.race_count(), rows.runner_count(), rows.odds.len()), (1, 2, 1));
    }
}
