//! Results: what a result race and runner add to the fields both feeds share (`shared.rs`): how
//! many ran, the winning time, comments and tote returns; a runner's finish (position, distances
//! beaten, starting price, prize, time) and the ratings earned in the race.

use super::rules::{distance_yards, finish_position, finish_seconds, furlongs, int, money, num, yards_to_metres};
use super::shared::{FeedRunner, Normalizer, RunnerOwn};
use crate::api::payload::{Lenient, ResultRace, ResultRunner, RunnerShared};
use crate::model::{Race, Runner, Source};

impl FeedRunner for ResultRunner {
    fn shared(&mut self) -> &mut RunnerShared {
        &mut self.shared
    }
}

impl Normalizer<'_> {
    pub(super) fn result_race(&mut self, race: Lenient<ResultRace>) {
        let mut r = match race {
            Lenient::Ok(r) => r,
            Lenient::Bad(rej) => return self.rejected_race(rej),
        };
        let Some(race) = self.race(Source::Result, &mut r.shared, false) else {
            return;
        };
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
            race_class: self.text("races.class", &mut r.class),
            sex_restriction: self.text("races.sex_rest", &mut r.sex_rest),
            distance_f: self.read("races.dist_f", &r.dist_f, furlongs),
            distance,
            distance_y,
            distance_m,
            ran,
            winning_time_detail: self.text("races.winning_time_detail", &mut r.winning_time_detail),
            comments: self.text("races.comments", &mut r.comments),
            non_runners: self.text("races.non_runners", &mut r.non_runners),
            tote_win: self.text("races.tote_win", &mut r.tote_win),
            tote_pl: self.text("races.tote_pl", &mut r.tote_pl),
            tote_ex: self.text("races.tote_ex", &mut r.tote_ex),
            tote_csf: self.text("races.tote_csf", &mut r.tote_csf),
            tote_tricast: self.text("races.tote_tricast", &mut r.tote_tricast),
            tote_trifecta: self.text("races.tote_trifecta", &mut r.tote_trifecta),
            ..race
        };
        self.race_runners(race, runners, Self::result_runner);
    }

    fn result_runner(&mut self, race: &Race, horse_id: String, mut ru: ResultRunner) {
        let own = RunnerOwn {
            sex_code: self.text("runners.sex", &mut ru.sex),
            number: self.read("runners.number", &ru.shared.number, int),
            weight_lbs: self.read("runners.weight_lbs", &ru.weight_lbs, int),
            official_rating: self.read("runners.or", &ru.official_rating, int),
            ..RunnerOwn::default()
        };
        let runner = self.runner(Source::Result, &race.id, horse_id, &mut ru.shared, own);
        let prize = self.read("runners.prize", &ru.prize, |t| money(t, &race.region));
        // Read before `position` and `time` are moved into the row.
        let finish_time_s = finish_seconds(ru.time.as_deref());
        let finish_pos = finish_position(ru.position.as_deref());
        let runner = Runner {
            // A result's ratings were earned in the race: their own columns, never the racecard's
            // pre-race `rpr`/`topspeed`.
            result_rpr: self.read("runners.rpr", &ru.rpr, int),
            result_topspeed: self.read("runners.tsr", &ru.tsr, int),
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
            ..runner
        };
        self.unit.runners.push(runner);
    }
}
