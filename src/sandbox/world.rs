//! The seeded pools the sandbox draws from: courses, horses and their pedigrees, jockeys,
//! trainers and owners, so the same names and ids recur across days; and the seeded generator.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::data::{Day, FIRST_DAY, generate_day};
use super::names::*;

/// Real GB and IRE course ids and names (`courses_seen.json` beside this file, from real API responses).
const COURSES_JSON: &str = include_str!("courses_seen.json");

/// Days kept in the generated-day cache before it is emptied.
pub(super) const CACHE_DAYS: usize = 1200;

pub(super) const HORSE_COHORTS: u32 = 50;
pub(super) const HORSES_PER_COHORT: u32 = 400;
const N_HORSES: u32 = HORSE_COHORTS * HORSES_PER_COHORT;
const N_SIRES: u32 = 220;
const N_DAMS: u32 = 6000;
const N_DAMSIRES: u32 = 300;
pub(super) const N_JOCKEYS: u32 = 320;
const N_TRAINERS: u32 = 380;
const N_OWNERS: u32 = 2600;
/// A small, fast, seedable generator (splitmix64): the same seed gives the same data on every
/// platform and version, which `fastrand` does not promise.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo { lo } else { lo + self.below((hi - lo + 1) as u64) as i64 }
    }
    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    pub fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len() as u64) as usize]
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// Mixes values into one seed.
pub fn mix(a: u64, b: u64) -> u64 {
    let mut r = Rng::new(a ^ b.wrapping_mul(0xA24B_AED4_963E_E407));
    r.next_u64()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Course {
    pub id: String,
    pub course: String,
    pub region_code: String,
    pub region: String,
}

#[derive(Debug, Deserialize)]
struct CoursesFile {
    courses: Vec<Course>,
}

/// The courses the sandbox races on. The embedded file is checked by a unit test, so a parse
/// failure here cannot happen at run time; it would still only give an empty list.
pub fn courses() -> Vec<Course> {
    serde_json::from_str::<CoursesFile>(COURSES_JSON).map(|f| f.courses).unwrap_or_default()
}

#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    /// Jockeys: the claim in lbs (0 for a fully qualified rider). Trainers: unused.
    pub claim: u8,
    /// Trainers: the yard's location.
    pub location: &'static str,
}

#[derive(Debug, Clone)]
pub struct Ancestor {
    pub id: String,
    pub name: String,
    pub region: &'static str,
}

#[derive(Debug, Clone)]
pub struct Horse {
    pub id: String,
    pub name: String,
    pub region: &'static str,
    pub cohort: u32,
    pub month: u32,
    pub day: u32,
    /// `true` for a horse kept for jump racing.
    pub jumper: bool,
    pub female: bool,
    pub gelded: bool,
    pub colour: &'static str,
    pub breeder: String,
    pub sire: usize,
    pub dam: usize,
    pub damsire: usize,
    pub trainer: usize,
    pub owner: usize,
}

impl Horse {
    /// The name with its breeding suffix, as results and horse profiles show it.
    pub fn full_name(&self) -> String {
        format!("{} ({})", self.name, self.region)
    }
    /// Age on a date, given the horse's cohort (cohorts repeat every 50 years).
    pub fn age_in(&self, year: i32) -> i32 {
        let c = self.cohort as i32;
        let base = 1990 + c;
        let span = HORSE_COHORTS as i32;
        (year - base).rem_euclid(span)
    }
    pub fn sex_code(&self, age: i32) -> &'static str {
        match (self.female, self.gelded, age) {
            (true, _, a) if a <= 4 => "F",
            (true, _, _) => "M",
            (false, true, _) => "G",
            (false, false, a) if a <= 4 => "C",
            (false, false, _) => "H",
        }
    }
    pub fn sex_word(&self, age: i32) -> &'static str {
        match self.sex_code(age) {
            "F" => "filly",
            "M" => "mare",
            "G" => "gelding",
            "C" => "colt",
            _ => "horse",
        }
    }
}

/// The seeded pools every day draws from, so the same horses, jockeys, trainers and owners
/// recur across days.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    pub courses: Vec<Course>,
    pub horses: Vec<Horse>,
    pub sires: Vec<Ancestor>,
    pub dams: Vec<Ancestor>,
    pub damsires: Vec<Ancestor>,
    pub jockeys: Vec<Person>,
    pub trainers: Vec<Person>,
    pub owners: Vec<Person>,
    horse_index: HashMap<String, usize>,
    cache: Mutex<HashMap<NaiveDate, Arc<Day>>>,
}

const STRIDE: u64 = 2311;

fn entity_number(seed: u64, kind: u64, base: u64, i: u32) -> u64 {
    base + u64::from(i) * STRIDE + mix(seed, kind) % STRIDE
}

impl World {
    pub fn new(seed: u64) -> Self {
        let mut r = Rng::new(mix(seed, 1));
        let ancestor = |r: &mut Rng, prefix: &str, kind: u64, base: u64, i: u32| Ancestor {
            id: format!("{prefix}_{}", entity_number(seed, kind, base, i)),
            name: horse_name(r),
            region: r.pick_str(&["GB", "IRE", "IRE", "GB", "FR", "USA"]),
        };
        let sires = (0..N_SIRES).map(|i| ancestor(&mut r, "sir", 2, 3_100_000, i)).collect();
        let dams = (0..N_DAMS).map(|i| ancestor(&mut r, "dam", 3, 4_800_000, i)).collect();
        let damsires = (0..N_DAMSIRES).map(|i| ancestor(&mut r, "dsi", 4, 700_000, i)).collect();
        let person = |r: &mut Rng, prefix: &str, kind: u64, base: u64, i: u32| Person {
            id: format!("{prefix}_{}", entity_number(seed, kind, base, i)),
            name: person_name(r),
            claim: 0,
            location: "",
        };
        let jockeys = (0..N_JOCKEYS)
            .map(|i| {
                let mut p = person(&mut r, "jky", 5, 40_000, i);
                if r.chance(0.2) {
                    p.claim = *r.pick(&[3u8, 5, 7]);
                }
                p
            })
            .collect();
        let trainers = (0..N_TRAINERS)
            .map(|i| {
                let mut p = person(&mut r, "trn", 6, 100_000, i);
                p.location = *r.pick(LOCATIONS);
                p
            })
            .collect();
        let owners = (0..N_OWNERS)
            .map(|i| {
                let mut p = person(&mut r, "own", 7, 1_100_000, i);
                p.name = owner_name(&mut r);
                p
            })
            .collect();
        let mut horses = Vec::with_capacity(N_HORSES as usize);
        let mut horse_index = HashMap::with_capacity(N_HORSES as usize);
        for i in 0..N_HORSES {
            let dam = r.below(u64::from(N_DAMS)) as usize;
            let h = Horse {
                id: format!("hrs_{}", entity_number(seed, 8, 3_000_000, i)),
                name: horse_name(&mut r),
                region: r.pick_str(&["GB", "GB", "IRE", "IRE", "IRE", "FR", "USA", "GER"]),
                cohort: i % HORSE_COHORTS,
                month: r.range(1, 6) as u32,
                day: r.range(1, 28) as u32,
                jumper: r.chance(0.45),
                female: r.chance(0.4),
                gelded: r.chance(0.6),
                colour: r.pick_str(&["b", "b", "br", "ch", "gr", "b/br", "bl"]),
                breeder: breeder_name(&mut r),
                sire: r.below(u64::from(N_SIRES)) as usize,
                dam,
                damsire: dam % N_DAMSIRES as usize,
                trainer: r.below(u64::from(N_TRAINERS)) as usize,
                owner: r.below(u64::from(N_OWNERS)) as usize,
            };
            horse_index.insert(h.id.clone(), i as usize);
            horses.push(h);
        }
        Self {
            seed,
            courses: courses(),
            horses,
            sires,
            dams,
            damsires,
            jockeys,
            trainers,
            owners,
            horse_index,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn horse(&self, id: &str) -> Option<&Horse> {
        self.horse_index.get(id).map(|&i| &self.horses[i])
    }

    /// The racing of one UK day, generated once and cached.
    pub fn day(&self, date: NaiveDate) -> Arc<Day> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = cache.get(&date) {
            return Arc::clone(d);
        }
        let day = Arc::new(generate_day(self, date));
        if cache.len() >= CACHE_DAYS {
            cache.clear();
        }
        cache.insert(date, Arc::clone(&day));
        day
    }

    /// The race with this id (`rac_NNNNNNNN`), if it exists.
    pub fn race(&self, race_id: &str) -> Option<(Arc<Day>, usize)> {
        let n: i64 = race_id.strip_prefix("rac_")?.parse().ok()?;
        let rel = n - 10_000_000;
        if rel < 0 {
            return None;
        }
        let date = FIRST_DAY.checked_add_signed(Duration::days(rel / 100))?;
        let day = self.day(date);
        let idx = day.races.iter().position(|r| r.id == race_id)?;
        Some((day, idx))
    }
}

pub(super) fn horse_name(r: &mut Rng) -> String {
    let a = *r.pick(NAME_A);
    if r.chance(0.25) {
        return format!("{a}{}", r.pick(&["ski", "ella", "ino", "ano", "ara", "ette", "mond"]));
    }
    let b = *r.pick(NAME_B);
    format!("{a} {b}")
}

fn person_name(r: &mut Rng) -> String {
    format!("{} {}", r.pick(FIRST_NAMES), r.pick(SURNAMES))
}

fn owner_name(r: &mut Rng) -> String {
    match r.below(5) {
        0 => format!("{} Racing", r.pick(SURNAMES)),
        1 => format!("The {} Partnership", r.pick(NAME_B)),
        2 => format!("{} {} Ltd", r.pick(NAME_A), r.pick(&["Bloodstock", "Capital", "Holdings", "Thoroughbreds"])),
        3 => format!("Mr & Mrs {} {}", r.pick(FIRST_NAMES), r.pick(SURNAMES)),
        _ => person_name(r),
    }
}

fn breeder_name(r: &mut Rng) -> String {
    match r.below(3) {
        0 => format!("{} Stud", r.pick(SURNAMES)),
        1 => format!("{} Breeding", r.pick(NAME_A)),
        _ => person_name(r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_courses_parse_and_have_both_regions() {
        let cs = courses();
        assert_eq!(cs.len(), 87);
        assert!(cs.iter().any(|c| c.region_code == "ire"));
        assert!(cs.iter().all(|c| c.id.starts_with("crs_")));
    }

    #[test]
    fn horse_ids_lead_back_to_their_horse() {
        let w = World::new(3);
        let h = &w.horses[1234];
        assert_eq!(w.horse(&h.id).map(|x| x.name.clone()), Some(h.name.clone()));
        assert!(w.horse("hrs_1").is_none());
    }
}
