//! Racecards: what a racecard race and runner add to the fields both feeds share (`shared.rs`):
//! prize, declared field size, going detail, flags and the card's words; a runner's horse details,
//! pre-race ratings, form and its bookmakers' odds.

use super::rules::{date, distance_yards, flag, furlongs, int, money, odds_decimal, uk_local_instant, yards_to_metres};
use super::shared::{FeedRunner, Normalizer, RunnerOwn};
use crate::api::payload::{Lenient, Odds, RacecardRace, RacecardRunner, Records, RunnerShared};
use crate::model::{Bookmaker, Horse, Race, Runner, RunnerOdds, Source, bookmaker_code, bookmaker_kind};

impl FeedRunner for RacecardRunner {
    fn shared(&mut self) -> &mut RunnerShared {
        &mut self.shared
    }
}

impl Normalizer<'_> {
    pub(super) fn racecard_race(&mut self, race: Lenient<RacecardRace>) {
        let mut r = match race {
            Lenient::Ok(r) => r,
            Lenient::Bad(rej) => return self.rejected_race(rej),
        };
        let free = r.shared.course_id.as_deref().is_none()
            && r.runners.iter().all(|x| match x {
                Lenient::Ok(ru) => ru.shared.horse_id.as_deref().is_none(),
                Lenient::Bad(rej) => rej.hint.horse_id.is_none(),
            });
        let Some(race) = self.race(Source::Racecard, &mut r.shared, free) else {
            return;
        };
        let distance = self.text("races.distance", &mut r.distance);
        let distance_y = distance.as_deref().and_then(distance_yards);
        let prize = self.read("races.prize", &r.prize, |t| money(t, &race.region));
        let field_size = field_size(self.read("races.field_size", &r.field_size, int), r.runners.len());
        let runners = std::mem::take(&mut r.runners);
        let runners = self.records("races.runners", runners);
        let race = Race {
            race_class: self.text("races.race_class", &mut r.race_class),
            sex_restriction: self.text("races.sex_restriction", &mut r.sex_restriction),
            distance_f: self.read("races.distance_f", &r.distance_f, furlongs),
            distance,
            distance_y,
            distance_m: distance_y.map(yards_to_metres),
            going_detailed: self.text("races.going_detailed", &mut r.going_detailed),
            prize_amount: prize.map(|p| p.0),
            prize_currency: prize.and_then(|p| p.1).map(str::to_string),
            field_size,
            big_race: self.read("races.big_race", &r.big_race, flag),
            is_abandoned: self.read("races.is_abandoned", &r.is_abandoned, flag),
            stalls: self.text("races.stalls", &mut r.stalls),
            weather: self.text("races.weather", &mut r.weather),
            rail_movements: self.text("races.rail_movements", &mut r.rail_movements),
            tip: self.text("races.tip", &mut r.tip),
            verdict: self.text("races.verdict", &mut r.verdict),
            betting_forecast: self.text("races.betting_forecast", &mut r.betting_forecast),
            ..race
        };
        self.race_runners(race, runners, Self::racecard_runner);
    }

    fn racecard_runner(&mut self, race: &Race, horse_id: String, mut ru: RacecardRunner) {
        let horse = Horse {
            dob: self.read("runners.dob", &ru.dob, date),
            colour: self.text("runners.colour", &mut ru.colour),
            breeder: self.text("runners.breeder", &mut ru.breeder),
            region: self.text("runners.region", &mut ru.region),
            ..Horse::default()
        };
        let own = RunnerOwn {
            sex_code: self.text("runners.sex_code", &mut ru.sex_code),
            horse,
            trainer_location: self.str("runners.trainer_location", &ru.trainer_location),
            sire_region: self.str("runners.sire_region", &ru.sire_region),
            dam_region: self.str("runners.dam_region", &ru.dam_region),
            damsire_region: self.str("runners.damsire_region", &ru.damsire_region),
            // A non-runner is numbered `NR`: no number, not a drop.
            number: int(self.str("runners.number", &ru.shared.number)),
            weight_lbs: self.read("runners.lbs", &ru.lbs, int),
            official_rating: self.read("runners.ofr", &ru.ofr, int),
        };
        let runner = self.runner(Source::Racecard, &race.id, horse_id, &mut ru.shared, own);
        let odds = std::mem::take(&mut ru.odds);
        let odds = self.records("runners.odds", odds);
        self.odds(&race.id, &runner.horse_id, odds);
        let runner = Runner {
            rpr: self.read("runners.rpr", &ru.rpr, int),
            topspeed: self.read("runners.ts", &ru.ts, int),
            form: self.text("runners.form", &mut ru.form),
            spotlight: self.text("runners.spotlight", &mut ru.spotlight),
            card_comment: self.text("runners.comment", &mut ru.comment),
            ..runner
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
