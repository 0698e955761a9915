//! Deterministic racing days for the sandbox: the meetings, races, runners, odds and results of
//! any date, derived from the seed and drawn from the pools in `world.rs`.
//!
//! Nothing here formats JSON; `render.rs` turns these values into the API's string formats.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::London;

use super::names::*;
use super::world::{HORSE_COHORTS, HORSES_PER_COHORT, N_JOCKEYS, Rng, World, mix};

/// Racing before this day has no ids (race ids count days from here).
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1980, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};
/// Minutes after the off a race's result is published.
pub const RESULT_DELAY_MINUTES: i64 = 10;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RaceType {
    Flat,
    Hurdle,
    Chase,
    NhFlat,
}

impl RaceType {
    pub fn label(self) -> &'static str {
        match self {
            RaceType::Flat => "Flat",
            RaceType::Hurdle => "Hurdle",
            RaceType::Chase => "Chase",
            RaceType::NhFlat => "NH Flat",
        }
    }
    pub fn is_jumps(self) -> bool {
        !matches!(self, RaceType::Flat)
    }
}

#[derive(Debug)]
pub struct Day {
    pub date: NaiveDate,
    pub races: Vec<Race>,
}

#[derive(Debug, Clone)]
pub struct Race {
    pub id: String,
    pub course: usize,
    pub date: NaiveDate,
    pub off: DateTime<chrono_tz::Tz>,
    pub name: String,
    pub race_type: RaceType,
    pub class: &'static str,
    pub pattern: &'static str,
    pub rating_band: String,
    pub age_band: &'static str,
    pub sex_rest: &'static str,
    /// Distance in yards.
    pub yards: u32,
    pub going: &'static str,
    pub surface: &'static str,
    pub jumps: String,
    /// The winner's prize in whole pounds (GB) or euros (IRE).
    pub prize: u32,
    pub irish: bool,
    pub runners: Vec<Runner>,
    pub tip: String,
    pub verdict: String,
    /// Winning time in seconds.
    pub win_secs: f64,
    /// Standard time in seconds.
    pub std_secs: f64,
    pub comments: String,
}

impl Race {
    /// When the result is published.
    pub fn result_at(&self) -> DateTime<Utc> {
        self.off.with_timezone(&Utc) + Duration::minutes(RESULT_DELAY_MINUTES)
    }
    pub fn has_result(&self, now: DateTime<Utc>) -> bool {
        now >= self.result_at()
    }
}

/// A finishing outcome: a place, or a code such as `PU`.
#[derive(Debug, Clone, PartialEq)]
pub enum Finish {
    Placed { pos: u32, btn: f64, ovr_btn: f64 },
    Failed(&'static str),
}

#[derive(Debug, Clone)]
pub struct Runner {
    pub horse: usize,
    pub age: i32,
    pub number: u32,
    pub draw: Option<u32>,
    pub lbs: u32,
    pub ofr: Option<u32>,
    pub rpr: Option<u32>,
    pub ts: Option<u32>,
    pub jockey: usize,
    pub headgear: &'static str,
    pub form: String,
    pub last_run: Option<u32>,
    /// Index into `LADDER` of the starting price.
    pub sp: usize,
    pub favourite: bool,
    /// Bookmaker index and ladder index, per quoting bookmaker.
    pub odds: Vec<(usize, usize)>,
    pub odds_updated: DateTime<chrono_tz::Tz>,
    pub comment: String,
    pub spotlight: String,
    pub result_comment: String,
    pub silk: u32,
    pub trainer_rtf: u32,
    pub t14: (u32, u32),
    /// Declared but withdrawn: on the racecard, absent from the result.
    pub non_runner: Option<&'static str>,
    pub finish: Finish,
    pub rpr_after: Option<u32>,
    pub tsr_after: Option<u32>,
}

/// Fractional prices as bookmakers quote them: (numerator, denominator), shortest first.
#[rustfmt::skip]
pub const LADDER: &[(u32, u32)] = &[
    (1, 5), (2, 9), (1, 4), (2, 7), (1, 3), (4, 11), (2, 5), (4, 9), (1, 2), (8, 15), (4, 7), (8, 13),
    (4, 6), (8, 11), (4, 5), (5, 6), (10, 11), (11, 10), (6, 5), (5, 4), (11, 8), (6, 4), (13, 8),
    (7, 4), (15, 8), (2, 1), (9, 4), (5, 2), (11, 4), (3, 1), (100, 30), (7, 2), (4, 1), (9, 2), (5, 1),
    (11, 2), (6, 1), (13, 2), (7, 1), (15, 2), (8, 1), (17, 2), (9, 1), (10, 1), (11, 1), (12, 1),
    (14, 1), (16, 1), (18, 1), (20, 1), (22, 1), (25, 1), (28, 1), (33, 1), (40, 1), (50, 1), (66, 1),
    (80, 1), (100, 1), (125, 1), (150, 1), (200, 1),
];

pub fn ladder_decimal(i: usize) -> f64 {
    let (n, d) = LADDER[i.min(LADDER.len() - 1)];
    1.0 + f64::from(n) / f64::from(d)
}

fn ladder_index(decimal: f64) -> usize {
    // The ladder is ascending: find the first price at or above, then take the nearer (by ratio).
    let hi = LADDER.partition_point(|&(n, d)| 1.0 + f64::from(n) / f64::from(d) < decimal);
    if hi == 0 {
        return 0;
    }
    if hi >= LADDER.len() {
        return LADDER.len() - 1;
    }
    if ladder_decimal(hi) / decimal < decimal / ladder_decimal(hi - 1) { hi } else { hi - 1 }
}

/// The bookmakers quoting on racecards, named as the real API names them (the first six always
/// quote).
#[rustfmt::skip]
pub const BOOKMAKERS: &[&str] = &[
    "Bet365", "William Hill", "Paddy Power", "Sky Bet", "Betfair Exchange", "Coral", "Ladbrokes",
    "Betfred", "Bet Victor", "Boyle Sports", "Unibet", "Betway", "BetMGM", "Midnite", "Star Sports",
    "Virgin Bet", "talkSPORT BET", "Spreadex",
];

/// The first date with no racing is Christmas Eve; Christmas Day is blank too.
pub fn is_blank_day(date: NaiveDate) -> bool {
    date.month() == 12 && (date.day() == 24 || date.day() == 25)
}

/// The local UK instant of a wall-clock time on a date (DST gaps resolved forward).
fn london(date: NaiveDate, minutes: u32) -> DateTime<chrono_tz::Tz> {
    let t = NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap_or(NaiveTime::MIN);
    let naive = date.and_time(t);
    London
        .from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| London.from_utc_datetime(&(naive - Duration::hours(1))))
}

pub(super) fn generate_day(world: &World, date: NaiveDate) -> Day {
    let days = (date - FIRST_DAY).num_days();
    if !(0..899_999).contains(&days) || is_blank_day(date) {
        return Day { date, races: Vec::new() };
    }
    let mut r = Rng::new(mix(world.seed, days as u64 + 0x5EED));
    let gb: Vec<usize> = (0..world.courses.len()).filter(|&i| world.courses[i].region_code == "gb").collect();
    let ire: Vec<usize> = (0..world.courses.len()).filter(|&i| world.courses[i].region_code == "ire").collect();
    let n_gb = r.range(3, 4) as usize;
    let n_ire = if r.chance(0.6) { 2 } else { 1 };
    let mut chosen: Vec<usize> = Vec::new();
    for (pool, n) in [(&gb, n_gb), (&ire, n_ire)] {
        let mut tries = 0;
        while chosen.iter().filter(|c| pool.contains(c)).count() < n && tries < 100 {
            let c = *r.pick(pool);
            if !chosen.contains(&c) {
                chosen.push(c);
            }
            tries += 1;
        }
    }
    let mut used_horses: HashSet<usize> = HashSet::new();
    let mut races = Vec::new();
    for (m, &course) in chosen.iter().enumerate() {
        let n_races = r.range(6, 8) as u32;
        let evening = m % 3 == 2 || r.chance(0.15);
        let latest_start = 21 * 60 - (n_races - 1) * 30;
        let start = if evening { r.range(16 * 60 + 30, 18 * 60) as u32 } else { r.range(12 * 60, 14 * 60) as u32 };
        let start = (start.min(latest_start) / 5) * 5;
        let spacing = if r.chance(0.5) { 30 } else { 35 };
        let name = world.courses[course].course.as_str();
        let aw = name.contains("(AW)");
        let jumps_meeting = !aw && r.chance(0.45);
        let going = if aw {
            *r.pick(&["Standard", "Standard", "Standard To Slow"])
        } else {
            *r.pick(&["Good", "Good To Firm", "Good To Soft", "Soft", "Heavy", "Good", "Yielding"])
        };
        for k in 0..n_races {
            let minutes = (start + k * spacing).min(21 * 60);
            let index = races.len() as i64;
            let id = format!("rac_{}", 10_000_000 + days * 100 + index);
            races.push(generate_race(
                world,
                &mut r,
                &mut used_horses,
                RaceSpec {
                    id,
                    course,
                    date,
                    off: london(date, minutes),
                    aw,
                    jumps_meeting,
                    going,
                    last: k + 1 == n_races,
                },
            ));
        }
    }
    races.sort_by(|a, b| a.off.cmp(&b.off).then(a.id.cmp(&b.id)));
    Day { date, races }
}

struct RaceSpec {
    id: String,
    course: usize,
    date: NaiveDate,
    off: DateTime<chrono_tz::Tz>,
    aw: bool,
    jumps_meeting: bool,
    going: &'static str,
    last: bool,
}

fn generate_race(world: &World, r: &mut Rng, used: &mut HashSet<usize>, s: RaceSpec) -> Race {
    let irish = world.courses[s.course].region_code == "ire";
    let race_type = if !s.jumps_meeting {
        RaceType::Flat
    } else if s.last {
        RaceType::NhFlat
    } else if r.chance(0.55) {
        RaceType::Hurdle
    } else {
        RaceType::Chase
    };
    let furlongs: u32 = match race_type {
        RaceType::Flat => *r.pick(&[5, 5, 6, 6, 7, 7, 8, 8, 9, 10, 10, 12, 14, 16]),
        RaceType::Hurdle => *r.pick(&[16, 16, 17, 19, 20, 21, 22, 24]),
        RaceType::Chase => *r.pick(&[16, 17, 19, 20, 21, 24, 25, 26, 28]),
        RaceType::NhFlat => *r.pick(&[16, 17, 18]),
    };
    let extra = if r.chance(0.5) { r.range(10, 150) as u32 } else { 0 };
    let yards = furlongs * 220 + extra;
    let handicap = r.chance(0.55);
    let class_n = r.range(1, 6) as u32;
    let class: &'static str = if irish {
        ""
    } else {
        ["", "Class 1", "Class 2", "Class 3", "Class 4", "Class 5", "Class 6"][class_n as usize]
    };
    let pattern = if !handicap && class_n == 1 && r.chance(0.5) {
        if race_type == RaceType::Flat {
            r.pick_str(&["Listed", "Group 3", "Group 2"])
        } else {
            r.pick_str(&["Listed", "Grade 2", "Grade 3"])
        }
    } else {
        ""
    };
    let top: u32 = [0, 110, 100, 90, 80, 70, 60][class_n as usize];
    let rating_band =
        if handicap { format!("0-{}", if race_type.is_jumps() { top + 45 } else { top }) } else { String::new() };
    let (age_band, age_lo, age_hi) = match race_type {
        RaceType::Flat => *r.pick(&[("2yo", 2, 2), ("3yo", 3, 3), ("3yo+", 3, 7), ("3yo+", 3, 7), ("4yo+", 4, 8)]),
        RaceType::NhFlat => ("4yo+", 4, 6),
        _ => *r.pick(&[("4yo+", 4, 12), ("4yo+", 4, 12), ("5yo+", 5, 12)]),
    };
    let sex_rest = if r.chance(0.1) { if race_type == RaceType::Flat { "f" } else { "f&m" } } else { "" };
    let base = [0u32, 40_000, 18_000, 9_000, 5_500, 4_200, 3_200][class_n as usize];
    let prize = (base + r.below(u64::from(base) / 2) as u32) / 10 * 10;
    let prize = if irish { prize * 2 + 2000 } else { prize };
    let surface = if s.aw { "AW" } else { "Turf" };
    let jumps = match race_type {
        RaceType::Hurdle => format!("{} hurdles", furlongs / 2),
        RaceType::Chase => format!("{} fences", furlongs * 5 / 8),
        _ => String::new(),
    };

    // Field: 5..20, about 9.6 on average (the smaller of two uniform draws).
    let declared = 5 + r.below(16).min(r.below(16)) as usize;
    let year = s.date.year();
    let mut picks: Vec<(usize, i32)> = Vec::with_capacity(declared);
    let mut tries = 0;
    while picks.len() < declared && tries < 400 {
        tries += 1;
        let age = r.range(age_lo, age_hi) as i32;
        let cohort = (year - age - 1990).rem_euclid(HORSE_COHORTS as i32) as u32;
        let slot = r.below(u64::from(HORSES_PER_COHORT)) as u32;
        let h = (slot * HORSE_COHORTS + cohort) as usize;
        let horse = &world.horses[h];
        if used.contains(&h) || horse.jumper != race_type.is_jumps() || (!sex_rest.is_empty() && !horse.female) {
            continue;
        }
        used.insert(h);
        picks.push((h, age));
    }

    // Strengths decide the market and the finishing order.
    let strengths: Vec<f64> = picks.iter().map(|_| (r.f64() * 2.2).exp()).collect();
    let total: f64 = strengths.iter().sum();
    let overround = 1.18;
    let favourite = strengths.iter().enumerate().fold(0, |b, (i, s)| if *s > strengths[b] { i } else { b });
    let mut runners: Vec<Runner> = Vec::with_capacity(picks.len());
    let flat = race_type == RaceType::Flat;
    let mut draws: Vec<u32> = (1..=picks.len() as u32).collect();
    for i in (1..draws.len()).rev() {
        let j = r.below(i as u64 + 1) as usize;
        draws.swap(i, j);
    }
    let off_utc = s.off;
    for (i, &(h, age)) in picks.iter().enumerate() {
        let p = strengths[i] / total * overround;
        let sp = ladder_index(1.0 / p);
        // The six biggest firms always quote; the rest now and then (kept in bookmaker order).
        let mut odds: Vec<(usize, usize)> = Vec::with_capacity(BOOKMAKERS.len());
        for b in 0..BOOKMAKERS.len() {
            if b < 6 || r.chance(0.5) {
                let step = (sp as i64 + r.range(-1, 1)).clamp(0, LADDER.len() as i64 - 1);
                odds.push((b, step as usize));
            }
        }
        let rating = if handicap {
            Some(top.saturating_sub(r.below(25) as u32).max(40))
        } else if r.chance(0.5) {
            Some(40 + r.below(80) as u32)
        } else {
            None
        };
        let debut = r.chance(0.12);
        let lbs = if flat { r.range(113, 140) } else { r.range(140, 168) } as u32;
        let jockey = r.below(u64::from(N_JOCKEYS)) as usize;
        runners.push(Runner {
            horse: h,
            age,
            number: 0,
            draw: if flat { Some(draws[i]) } else { None },
            lbs,
            ofr: rating,
            rpr: if r.chance(0.85) { Some(rating.unwrap_or(70) + r.below(15) as u32) } else { None },
            ts: if r.chance(0.7) { Some(r.range(10, 110) as u32) } else { None },
            jockey,
            headgear: r.pick_str(&["", "", "", "", "p", "t", "h", "b", "v", "tp", "cp"]),
            form: if debut { String::new() } else { form(r, race_type.is_jumps()) },
            last_run: if debut { None } else { Some(r.range(7, 180) as u32) },
            sp,
            favourite: i == favourite,
            odds,
            odds_updated: off_utc - Duration::minutes(r.range(1, 600)),
            comment: pick_phrase(r, RACECARD_COMMENTS),
            spotlight: format!("{} {}", pick_phrase(r, SPOTLIGHT_A), pick_phrase(r, SPOTLIGHT_B)),
            result_comment: String::new(),
            silk: 300_000 + r.below(90_000) as u32,
            trainer_rtf: r.range(0, 60) as u32,
            t14: (r.range(0, 20) as u32, 0),
            non_runner: None,
            finish: Finish::Failed(""),
            rpr_after: None,
            tsr_after: None,
        });
    }
    // Numbers follow weight (top weight is number 1), as on a real card.
    let mut order: Vec<usize> = (0..runners.len()).collect();
    order.sort_by(|&a, &b| runners[b].lbs.cmp(&runners[a].lbs).then(a.cmp(&b)));
    for (n, &i) in order.iter().enumerate() {
        runners[i].number = n as u32 + 1;
    }
    for ru in runners.iter_mut() {
        ru.t14.1 = (ru.t14.0 as f64 * r.f64() * 0.4) as u32;
    }
    // A non-runner now and then (only from fields that keep 5 runners).
    if runners.len() > 5 && r.chance(0.25) {
        let i = r.below(runners.len() as u64) as usize;
        runners[i].non_runner =
            Some(*r.pick(&["unsuitable ground", "self certificate", "vet's certificate", "travel problems"]));
    }

    // Finishing order: Plackett-Luce on strengths; jumps races have fallers and pulled-up runners.
    let mut left: Vec<usize> = (0..runners.len()).filter(|&i| runners[i].non_runner.is_none()).collect();
    let mut failed: Vec<usize> = Vec::new();
    let fail_p = if race_type.is_jumps() && race_type != RaceType::NhFlat { 0.08 } else { 0.01 };
    left.retain(|&i| {
        if r.chance(fail_p) && i != favourite {
            failed.push(i);
            false
        } else {
            true
        }
    });
    if left.is_empty() {
        left.append(&mut failed);
    }
    let mut placed: Vec<usize> = Vec::new();
    while !left.is_empty() {
        let sum: f64 = left.iter().map(|&i| strengths[i]).sum();
        let mut x = r.f64() * sum;
        let mut k = left.len() - 1;
        for (j, &i) in left.iter().enumerate() {
            x -= strengths[i];
            if x <= 0.0 {
                k = j;
                break;
            }
        }
        placed.push(left.remove(k));
    }
    let mut ovr = 0.0;
    for (p, &i) in placed.iter().enumerate() {
        let btn = if p == 0 {
            0.0
        } else {
            *r.pick(&[0.05, 0.1, 0.25, 0.5, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0])
        };
        ovr += btn;
        runners[i].finish = Finish::Placed { pos: p as u32 + 1, btn, ovr_btn: ovr };
        runners[i].result_comment = pick_phrase(r, RESULT_COMMENTS);
    }
    for &i in &failed {
        runners[i].finish = Finish::Failed(if race_type == RaceType::Flat {
            r.pick_str(&["UR", "PU"])
        } else {
            r.pick_str(&["PU", "PU", "F", "UR", "BD"])
        });
        runners[i].result_comment = "Behind when pulled up or lost rider".to_string();
    }
    for ru in runners.iter_mut() {
        ru.rpr_after = if r.chance(0.9) { Some(30 + r.below(100) as u32) } else { None };
        ru.tsr_after = if r.chance(0.75) { Some(r.below(100) as u32) } else { None };
    }

    let per_f = match race_type {
        RaceType::Flat => 12.3,
        RaceType::Hurdle | RaceType::NhFlat => 13.9,
        RaceType::Chase => 14.3,
    };
    let going_factor = match s.going {
        "Good To Firm" => 0.98,
        "Good To Soft" | "Yielding" | "Standard To Slow" => 1.03,
        "Soft" => 1.07,
        "Heavy" => 1.13,
        _ => 1.0,
    };
    let std_secs = (f64::from(yards) / 220.0 * per_f).max(60.5);
    let win_secs = (std_secs * going_factor * (0.98 + r.f64() * 0.05)).max(60.5);
    let course_name = world.courses[s.course].course.clone();
    let name = race_name(r, race_type, handicap, age_band, sex_rest, irish, &course_name, pattern);
    let tip = runners.get(favourite).map(|ru| world.horses[ru.horse].name.clone()).unwrap_or_default();
    let verdict = format!("{} sets the standard and can take this.", tip);
    Race {
        id: s.id,
        course: s.course,
        date: s.date,
        off: s.off,
        name,
        race_type,
        class,
        pattern,
        rating_band,
        age_band,
        sex_rest,
        yards,
        going: s.going,
        surface,
        jumps,
        prize,
        irish,
        runners,
        tip,
        verdict,
        win_secs,
        std_secs,
        comments: String::new(),
    }
}

fn form(r: &mut Rng, jumps: bool) -> String {
    let n = r.range(1, 6);
    let mut s = String::new();
    for _ in 0..n {
        let c = if jumps && r.chance(0.08) {
            *r.pick(&['P', 'F', 'U'])
        } else if r.chance(0.08) {
            *r.pick(&['-', '/'])
        } else {
            *r.pick(&['1', '2', '3', '4', '5', '6', '7', '8', '9', '0'])
        };
        s.push(c);
    }
    s.trim_start_matches(['-', '/']).to_string()
}

fn race_name(
    r: &mut Rng,
    t: RaceType,
    handicap: bool,
    age_band: &str,
    sex_rest: &str,
    irish: bool,
    course: &str,
    pattern: &str,
) -> String {
    let sponsor = if r.chance(0.2) { format!("{course} Racecourse Supports") } else { (*r.pick(SPONSORS)).to_string() };
    let fillies = if sex_rest.is_empty() {
        ""
    } else if t == RaceType::Flat {
        "Fillies' "
    } else {
        "Mares' "
    };
    let kind = match (t, handicap) {
        (RaceType::Flat, true) if age_band == "2yo" => "Nursery Handicap".to_string(),
        (RaceType::Flat, true) => format!("{fillies}Handicap"),
        (RaceType::Flat, false) if !pattern.is_empty() => format!("{fillies}Stakes ({pattern})"),
        (RaceType::Flat, false) => {
            format!("{fillies}{}", r.pick(&["Maiden Stakes", "Novice Stakes", "Conditions Stakes"]))
        }
        (RaceType::Hurdle, true) => format!("{fillies}Handicap Hurdle"),
        (RaceType::Hurdle, false) => {
            format!("{fillies}{}", r.pick(&["Novices' Hurdle", "Maiden Hurdle"]))
        }
        (RaceType::Chase, true) => "Handicap Chase".to_string(),
        (RaceType::Chase, false) => (*r.pick(&["Novices' Chase", "Beginners Chase"])).to_string(),
        (RaceType::NhFlat, _) if irish => "INH Flat Race".to_string(),
        (RaceType::NhFlat, _) => "Standard Open National Hunt Flat Race".to_string(),
    };
    format!("{sponsor} {kind}")
}

fn pick_phrase(r: &mut Rng, xs: &[&str]) -> String {
    (*r.pick(xs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_year_generates_with_unique_race_ids_and_plausible_fields() {
        let t0 = std::time::Instant::now();
        let w = World::new(42);
        eprintln!("world built in {:?}", t0.elapsed());
        let start = std::time::Instant::now();
        let mut ids = HashSet::new();
        let mut races = 0;
        let mut runners = 0;
        let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
        for d in 0..365 {
            let day = w.day(first + Duration::days(d));
            for race in &day.races {
                assert!(ids.insert(race.id.clone()), "duplicate {}", race.id);
                assert!((5..=20).contains(&race.runners.len()), "{} has {}", race.id, race.runners.len());
                runners += race.runners.len();
            }
            races += day.races.len();
        }
        eprintln!("a year of racing generated in {:?}", start.elapsed());
        let avg = races as f64 / 363.0;
        assert!((30.0..42.0).contains(&avg), "{avg} races a day");
        let per_race = runners as f64 / races as f64;
        assert!((8.5..11.0).contains(&per_race), "{per_race} runners a race");
    }

    #[test]
    fn the_price_ladder_is_ascending_and_nearest_wins() {
        assert!((1..LADDER.len()).all(|i| ladder_decimal(i) > ladder_decimal(i - 1)));
        assert_eq!(LADDER[ladder_index(3.25)], (9, 4));
        assert_eq!(LADDER[ladder_index(1.01)], (1, 5));
        assert_eq!(LADDER[ladder_index(900.0)], (200, 1));
    }

    #[test]
    fn race_ids_lead_back_to_their_race() {
        let w = World::new(7);
        let day = w.day(NaiveDate::from_ymd_opt(2025, 10, 7).unwrap_or_default());
        let race = &day.races[3];
        let (d, i) = w.race(&race.id).unwrap_or_else(|| panic!("{} not found", race.id));
        assert_eq!(d.races[i].id, race.id);
        assert!(w.race("rac_1").is_none());
    }
}
