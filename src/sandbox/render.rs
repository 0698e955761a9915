//! The sandbox's JSON in the real API's string formats: numbers as strings, en dashes, `£`/`€`
//! money, 12-hour `off` times, and the field names each endpoint uses.

use chrono::{DateTime, Timelike};
use serde_json::{Value, json};

use super::data::{BOOKMAKERS, Finish, LADDER, Race, RaceType, Runner, ladder_decimal};
use super::world::{Horse, World};

/// Which racecard endpoint a race is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Free,
    Basic,
    Standard,
    Pro,
}

/// A missing rating on racecards (the real API sends an ASCII hyphen there).
const CARD_DASH: &str = "-";
/// A missing rating in results (an en dash).
const RESULT_DASH: &str = "\u{2013}";

pub fn off_time(off: &DateTime<chrono_tz::Tz>) -> String {
    let h = off.hour() % 12;
    format!("{}:{:02}", if h == 0 { 12 } else { h }, off.minute())
}

pub fn off_dt(off: &DateTime<chrono_tz::Tz>) -> String {
    off.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn thousands(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn currency(race: &Race) -> &'static str {
    if race.irish { "€" } else { "£" }
}

/// `"1m2f"`: the distance to the nearest furlong.
fn distance_round(yards: u32) -> String {
    let f = (f64::from(yards) / 220.0).round() as u32;
    let (m, f) = (f / 8, f % 8);
    match (m, f) {
        (0, f) => format!("{f}f"),
        (m, 0) => format!("{m}m"),
        (m, f) => format!("{m}m{f}f"),
    }
}

/// `"1m53y"`: the exact distance.
fn distance_exact(yards: u32) -> String {
    let (m, rem) = (yards / 1760, yards % 1760);
    let (f, y) = (rem / 220, rem % 220);
    let mut s = String::new();
    if m > 0 {
        s.push_str(&format!("{m}m"));
    }
    if f > 0 {
        s.push_str(&format!("{f}f"));
    }
    if y > 0 || s.is_empty() {
        s.push_str(&format!("{y}y"));
    }
    s
}

fn half_furlongs(yards: u32) -> f64 {
    (f64::from(yards) / 110.0).round() / 2.0
}

/// `"3.75"`, `"4"`: decimal odds with trailing zeros dropped.
fn trimmed(x: f64) -> String {
    let s = format!("{:.2}", x);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// Beaten distances: `".5"`, `"1.25"`, `"11"`.
fn lengths(x: f64) -> String {
    if x == 0.0 {
        return "0".to_string();
    }
    let s = trimmed(x);
    s.strip_prefix('0').map(str::to_string).unwrap_or(s)
}

fn race_time(secs: f64) -> String {
    let m = (secs / 60.0).floor();
    format!("{}:{:05.2}", m as u32, secs - m * 60.0)
}

fn fraction(i: usize) -> String {
    let (n, d) = LADDER[i.min(LADDER.len() - 1)];
    format!("{n}/{d}")
}

fn opt(x: Option<u32>, dash: &str) -> String {
    x.map(|v| v.to_string()).unwrap_or_else(|| dash.to_string())
}

fn silk_url(silk: u32) -> String {
    let d: Vec<char> = silk.to_string().chars().rev().take(3).collect();
    format!("https://www.rp-assets.com/svg/{}/{}/{}/{silk}.svg", d[0], d[1], d[2])
}

fn ew_terms(field: usize, handicap: bool) -> (&'static str, &'static str) {
    match field {
        0..=4 => ("1", "1"),
        5..=7 => ("2", "4"),
        16.. if handicap => ("4", "4"),
        _ => ("3", "5"),
    }
}

fn dob(h: &Horse, age: i32, year: i32) -> String {
    format!("{}-{:02}-{:02}", year - age, h.month, h.day)
}

fn jockey_label(world: &World, ru: &Runner) -> String {
    let j = &world.jockeys[ru.jockey];
    if j.claim > 0 { format!("{}({})", j.name, j.claim) } else { j.name.clone() }
}

fn betting_forecast(world: &World, race: &Race) -> String {
    let mut rs: Vec<&Runner> = race.runners.iter().collect();
    rs.sort_by_key(|ru| ru.sp);
    rs.iter()
        .take(8)
        .map(|ru| format!("{} {}", fraction(ru.sp), world.horses[ru.horse].name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Append the fields of `more` to the object `v` (keeps `json!` under the recursion limit).
fn extend(v: &mut Value, more: Value) {
    if let (Some(map), Value::Object(more)) = (v.as_object_mut(), more) {
        map.extend(more);
    }
}

/// One racecard as `/racecards/{free,basic,standard,pro}` sends it.
pub fn racecard(world: &World, race: &Race, level: Level) -> Value {
    let course = &world.courses[race.course];
    let year = chrono::Datelike::year(&race.date);
    let handicap = !race.rating_band.is_empty();
    let ew = ew_terms(race.runners.len(), handicap);
    let runners: Vec<Value> = race
        .runners
        .iter()
        .map(|ru| {
            let h = &world.horses[ru.horse];
            let sire = &world.sires[h.sire];
            let dam = &world.dams[h.dam];
            let damsire = &world.damsires[h.damsire];
            let trainer = &world.trainers[h.trainer];
            let owner = &world.owners[h.owner];
            let draw = ru.draw.map(|d| d.to_string()).unwrap_or_else(|| "0".to_string());
            let last_run = ru.last_run.map(|d| d.to_string()).unwrap_or_default();
            if level == Level::Free {
                return json!({
                    "horse": h.name, "age": ru.age.to_string(), "sex": h.sex_word(ru.age),
                    "sex_code": h.sex_code(ru.age), "colour": h.colour, "region": h.region,
                    "dam": dam.name, "sire": sire.name, "damsire": damsire.name,
                    "trainer": trainer.name, "owner": owner.name, "number": ru.number.to_string(),
                    "draw": draw, "headgear": ru.headgear, "lbs": ru.lbs.to_string(),
                    "ofr": opt(ru.ofr, CARD_DASH), "jockey": jockey_label(world, ru),
                    "last_run": last_run, "form": ru.form,
                });
            }
            let t14_pct = (ru.t14.1 * 100).checked_div(ru.t14.0).unwrap_or(0);
            let mut v = json!({
                "horse_id": h.id, "horse": h.name, "dob": dob(h, ru.age, year), "age": ru.age.to_string(),
                "sex": h.sex_word(ru.age), "sex_code": h.sex_code(ru.age), "colour": h.colour,
                "region": h.region, "breeder": h.breeder,
                "dam": dam.name, "dam_id": dam.id, "dam_region": dam.region,
                "sire": sire.name, "sire_id": sire.id, "sire_region": sire.region,
                "damsire": damsire.name, "damsire_id": damsire.id, "damsire_region": damsire.region,
                "trainer": trainer.name, "trainer_id": trainer.id, "trainer_location": trainer.location,
                "trainer_14_days": {"runs": ru.t14.0.to_string(), "wins": ru.t14.1.to_string(), "percent": t14_pct.to_string()},
                "owner": owner.name, "owner_id": owner.id,
            });
            let rest = json!({
                "prev_trainers": [], "prev_owners": [],
                "comment": ru.comment, "spotlight": ru.spotlight,
                "quotes": [], "stable_tour": [], "medical": [],
                "number": ru.number.to_string(), "draw": draw,
                "headgear": ru.headgear, "headgear_run": "", "wind_surgery": "", "wind_surgery_run": "",
                "past_results_flags": [],
                "lbs": ru.lbs.to_string(), "ofr": opt(ru.ofr, CARD_DASH), "rpr": opt(ru.rpr, CARD_DASH),
                "ts": opt(ru.ts, CARD_DASH),
                "jockey": if ru.non_runner.is_some() { "NON-RUNNER".to_string() } else { jockey_label(world, ru) },
                "jockey_id": world.jockeys[ru.jockey].id,
                "silk_url": silk_url(ru.silk), "last_run": last_run, "form": ru.form,
                "trainer_rtf": ru.trainer_rtf.to_string(),
            });
            extend(&mut v, rest);
            if level >= Level::Standard
                && let Some(map) = v.as_object_mut()
            {
                let updated = ru.odds_updated.format("%Y-%m-%d %H:%M:%S").to_string();
                let odds: Vec<Value> = ru
                    .odds
                    .iter()
                    .map(|&(b, l)| {
                        let mut o = json!({
                            "bookmaker": BOOKMAKERS[b], "fractional": fraction(l),
                            "decimal": trimmed(ladder_decimal(l)), "ew_places": ew.0, "ew_denom": ew.1,
                            "updated": updated,
                        });
                        if level == Level::Pro
                            && let Some(m) = o.as_object_mut()
                        {
                            m.insert("history".into(), json!([]));
                        }
                        o
                    })
                    .collect();
                map.insert("odds".into(), Value::Array(odds));
            }
            v
        })
        .collect();
    let prize = format!("{}{}", currency(race), thousands(race.prize));
    let distance_f = format!("{:.1}", half_furlongs(race.yards));
    if level == Level::Free {
        return json!({
            "course": course.course, "date": race.date.to_string(), "off_time": off_time(&race.off),
            "off_dt": off_dt(&race.off), "race_name": race.name, "distance_f": distance_f,
            "region": course.region_code.to_uppercase(), "pattern": race.pattern, "race_class": race.class,
            "type": race.race_type.label(), "age_band": race.age_band, "rating_band": race.rating_band,
            "prize": prize, "field_size": race.runners.len().to_string(), "going": race.going,
            "surface": race.surface, "runners": runners,
        });
    }
    let mut v = json!({
        "race_id": race.id, "course": course.course, "course_id": course.id, "date": race.date.to_string(),
        "off_time": off_time(&race.off), "off_dt": off_dt(&race.off), "race_name": race.name,
        "distance_round": distance_round(race.yards), "distance": distance_exact(race.yards),
        "distance_f": distance_f, "region": course.region_code.to_uppercase(), "pattern": race.pattern,
        "sex_restriction": race.sex_rest, "race_class": race.class, "type": race.race_type.label(),
        "age_band": race.age_band, "rating_band": race.rating_band, "prize": prize,
        "field_size": race.runners.len().to_string(), "going_detailed": "", "rail_movements": "",
        "stalls": if race.race_type == RaceType::Flat { "Inside" } else { "" }, "weather": "",
        "going": race.going, "surface": race.surface,
    });
    if let Some(map) = v.as_object_mut() {
        if level >= Level::Standard {
            map.insert("jumps".into(), json!(race.jumps));
        }
        map.insert("runners".into(), Value::Array(runners));
        map.insert("big_race".into(), json!(false));
        map.insert("is_abandoned".into(), json!(false));
        if level >= Level::Standard {
            map.insert("tip".into(), json!(race.tip));
            map.insert("verdict".into(), json!(race.verdict));
            map.insert("betting_forecast".into(), json!(betting_forecast(world, race)));
        }
    }
    v
}

/// The share of the winner's prize each place earns.
const PLACE_SHARES: [f64; 4] = [1.0, 0.47, 0.235, 0.118];

/// One result as `/results` and `/results/{race_id}` send it.
pub fn result(world: &World, race: &Race) -> Value {
    let course = &world.courses[race.course];
    let cur = currency(race);
    let mut runners: Vec<&Runner> = race.runners.iter().filter(|ru| ru.non_runner.is_none()).collect();
    runners.sort_by_key(|ru| match ru.finish {
        Finish::Placed { pos, .. } => pos,
        Finish::Failed(_) => 1000 + ru.number,
    });
    let per_length = if race.race_type == RaceType::Flat { 0.2 } else { 0.25 };
    let rows: Vec<Value> = runners
        .iter()
        .map(|ru| {
            let h = &world.horses[ru.horse];
            let sire = &world.sires[h.sire];
            let dam = &world.dams[h.dam];
            let damsire = &world.damsires[h.damsire];
            let j = &world.jockeys[ru.jockey];
            let (position, btn, ovr_btn, time, prize) = match ru.finish {
                Finish::Placed { pos, btn, ovr_btn } => {
                    let prize = match PLACE_SHARES.get(pos as usize - 1) {
                        Some(share) if race.irish => format!("€{}", (f64::from(race.prize) * share).round() as u64),
                        Some(share) => format!("{:.2}", f64::from(race.prize) * share),
                        None => String::new(),
                    };
                    (pos.to_string(), lengths(btn), lengths(ovr_btn), race_time(race.win_secs + ovr_btn * per_length), prize)
                }
                Finish::Failed(code) => (code.to_string(), "-".into(), "-".into(), "-".into(), String::new()),
            };
            let sp_dec = (ladder_decimal(ru.sp) * 100.0).floor() / 100.0;
            json!({
                "horse_id": h.id, "horse": h.full_name(),
                "sp": format!("{}{}", fraction(ru.sp), if ru.favourite { "F" } else { "" }),
                "sp_dec": format!("{sp_dec:.2}"), "number": ru.number.to_string(), "position": position,
                "draw": ru.draw.map(|d| d.to_string()).unwrap_or_else(|| "0".to_string()),
                "btn": btn, "ovr_btn": ovr_btn, "age": ru.age.to_string(), "sex": h.sex_code(ru.age),
                "weight": format!("{}-{}", ru.lbs / 14, ru.lbs % 14), "weight_lbs": ru.lbs.to_string(),
                "headgear": ru.headgear, "time": time,
                "or": opt(ru.ofr, RESULT_DASH), "rpr": opt(ru.rpr_after, RESULT_DASH), "tsr": opt(ru.tsr_after, RESULT_DASH),
                "prize": prize, "jockey": j.name, "jockey_claim_lbs": j.claim.to_string(), "jockey_id": j.id,
                "trainer": world.trainers[h.trainer].name, "trainer_id": world.trainers[h.trainer].id,
                "owner": world.owners[h.owner].name, "owner_id": world.owners[h.owner].id,
                "sire": format!("{} ({})", sire.name, sire.region), "sire_id": sire.id,
                "dam": format!("{} ({})", dam.name, dam.region), "dam_id": dam.id,
                "damsire": damsire.name, "damsire_id": damsire.id,
                "comment": ru.result_comment, "silk_url": silk_url(ru.silk),
            })
        })
        .collect();
    let diff = race.win_secs - race.std_secs;
    let detail = format!(
        "{}m {:.2}s ({} by {:.2}s)",
        (race.win_secs / 60.0).floor() as u32,
        race.win_secs % 60.0,
        if diff >= 0.0 { "slow" } else { "fast" },
        diff.abs()
    );
    let non_runners = race
        .runners
        .iter()
        .filter_map(|ru| ru.non_runner.map(|why| format!("{} ({why})", world.horses[ru.horse].name)))
        .collect::<Vec<_>>()
        .join(", ");
    let winner_dec = runners.first().map(|ru| ladder_decimal(ru.sp)).unwrap_or(2.0);
    let places = if runners.len() >= 8 { 3 } else { 2 }.min(runners.len());
    let tote_pl = runners
        .iter()
        .take(places)
        .map(|ru| format!("{cur}{:.2}", 1.0 + (ladder_decimal(ru.sp) - 1.0) / 4.0))
        .collect::<Vec<_>>()
        .join(" ");
    let second = runners.get(1).map(|ru| ladder_decimal(ru.sp)).unwrap_or(2.0);
    let third = runners.get(2).map(|ru| ladder_decimal(ru.sp)).unwrap_or(2.0);
    json!({
        "race_id": race.id, "date": race.date.to_string(), "region": course.region_code.to_uppercase(),
        "course": course.course, "course_id": course.id, "off": off_time(&race.off), "off_dt": off_dt(&race.off),
        "race_name": race.name, "type": race.race_type.label(), "class": race.class, "pattern": race.pattern,
        "rating_band": race.rating_band, "age_band": race.age_band, "sex_rest": race.sex_rest,
        "dist": distance_round(race.yards), "dist_y": race.yards.to_string(),
        "dist_m": ((f64::from(race.yards) * 0.9144).round() as u32).to_string(),
        "dist_f": format!("{}f", half_furlongs(race.yards)),
        "going": race.going, "surface": race.surface, "jumps": race.jumps, "runners": rows,
        "winning_time_detail": detail, "comments": race.comments, "non_runners": non_runners,
        "tote_win": format!("{cur}{:.2}", winner_dec),
        "tote_pl": tote_pl,
        "tote_ex": format!("{cur}{:.2}", winner_dec * second * 0.8),
        "tote_csf": format!("{cur}{:.2}", winner_dec * second * 0.85),
        "tote_tricast": format!("{cur}{:.2}", winner_dec * second * third * 0.7),
        "tote_trifecta": format!("{cur}{:.2}", winner_dec * second * third * 0.65),
    })
}

/// `/horses/{id}/pro`.
pub fn horse_pro(world: &World, h: &Horse, year: i32) -> Value {
    let age = h.age_in(year).max(2);
    let sire = &world.sires[h.sire];
    let dam = &world.dams[h.dam];
    let damsire = &world.damsires[h.damsire];
    json!({
        "id": h.id, "breeder": h.breeder, "colour": h.colour, "colour_code": h.colour.to_uppercase(),
        "dam": format!("{} ({})", dam.name, dam.region), "dam_id": dam.id,
        "damsire": format!("{} ({})", damsire.name, damsire.region), "damsire_id": damsire.id,
        "dob": dob(h, age, year), "name": h.full_name(), "sex": h.sex_word(age), "sex_code": h.sex_code(age),
        "sire": format!("{} ({})", sire.name, sire.region), "sire_id": sire.id,
    })
}

/// `/horses/{id}/standard` (the damsire's name has no suffix here, as in the real API).
pub fn horse_standard(world: &World, h: &Horse) -> Value {
    let sire = &world.sires[h.sire];
    let dam = &world.dams[h.dam];
    let damsire = &world.damsires[h.damsire];
    json!({
        "id": h.id, "dam": format!("{} ({})", dam.name, dam.region), "dam_id": dam.id,
        "damsire": damsire.name, "damsire_id": damsire.id, "name": h.full_name(),
        "sire": format!("{} ({})", sire.name, sire.region), "sire_id": sire.id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_formats_match_the_real_api() {
        assert_eq!(thousands(3140), "3,140");
        assert_eq!(thousands(512), "512");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(distance_round(1773), "1m");
        assert_eq!(distance_exact(1813), "1m53y");
        assert_eq!(distance_exact(5971), "3m3f31y");
        assert_eq!(distance_round(1100), "5f");
        assert_eq!(format!("{:.1}", half_furlongs(1813)), "8.0");
        assert_eq!(trimmed(3.75), "3.75");
        assert_eq!(trimmed(4.0), "4");
        assert_eq!(lengths(0.5), ".5");
        assert_eq!(lengths(11.0), "11");
        assert_eq!(lengths(1.25), "1.25");
        assert_eq!(race_time(103.25), "1:43.25");
        assert_eq!(race_time(61.0), "1:01.00");
        assert_eq!(silk_url(319904), "https://www.rp-assets.com/svg/4/0/9/319904.svg");
    }
}
