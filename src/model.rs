//! Typed, normalised rows: what `api::normalize` produces and `store` writes.
//!
//! Field names follow docs/schema.md column names exactly. `None` means "this source did not
//! provide a value"; the store never overwrites a column with a value its source does not own
//! (see `Source`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Which API feed a row came from. Decides column ownership in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Racecard,
    Result,
}

/// What a unit of work fetches: one endpoint family for one racing day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Racecards,
    Results,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Racecards, Kind::Results];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Racecards => "racecards",
            Kind::Results => "results",
        }
    }

    pub fn source(self) -> Source {
        match self {
            Kind::Racecards => Source::Racecard,
            Kind::Results => Source::Result,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "racecards" => Ok(Kind::Racecards),
            "results" => Ok(Kind::Results),
            other => Err(format!("unknown coverage kind {other:?} (racecards or results)")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Course {
    pub id: String,
    pub name: String,
    /// Lower case, as used in requests: `gb`, `ire`.
    pub region_code: String,
    /// The region's name: `Great Britain`.
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BookmakerKind {
    Online,
    Exchange,
    Spread,
}

impl BookmakerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BookmakerKind::Online => "online",
            BookmakerKind::Exchange => "exchange",
            BookmakerKind::Spread => "spread",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bookmaker {
    /// snake_case code: `bet365`, `william_hill`.
    pub code: String,
    pub name: String,
    pub kind: BookmakerKind,
    /// `seed` or `odds`.
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Horse {
    pub id: String,
    pub name: String,
    pub sex_code: Option<String>,
    pub dob: Option<NaiveDate>,
    pub colour: Option<String>,
    pub breeder: Option<String>,
    pub region: Option<String>,
    pub sire_id: Option<String>,
    pub dam_id: Option<String>,
    pub damsire_id: Option<String>,
}

/// A jockey or an owner: an id and a name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trainer {
    pub id: String,
    pub name: String,
    pub location: Option<String>,
}

/// A sire, dam or damsire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ancestor {
    pub id: String,
    pub name: String,
    pub region: Option<String>,
}

/// Every entity mentioned by the runners of one unit, deduplicated by id (last one seen wins).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Entities {
    pub courses: Vec<Course>,
    pub horses: Vec<Horse>,
    pub jockeys: Vec<Person>,
    pub trainers: Vec<Trainer>,
    pub owners: Vec<Person>,
    pub sires: Vec<Ancestor>,
    pub dams: Vec<Ancestor>,
    pub damsires: Vec<Ancestor>,
}

impl Entities {
    pub fn len(&self) -> usize {
        self.courses.len()
            + self.horses.len()
            + self.jockeys.len()
            + self.trainers.len()
            + self.owners.len()
            + self.sires.len()
            + self.dams.len()
            + self.damsires.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One race as one source describes it. Columns the source does not own stay `None` and are
/// never written by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Race {
    pub source: Source,
    pub id: String,
    pub course_id: String,
    pub course_name: String,
    pub race_date: NaiveDate,
    pub off_at: Option<DateTime<Utc>>,
    /// Upper case as the response says it: `GB`, `IRE`.
    pub region: String,
    pub race_name: Option<String>,
    pub race_type: Option<String>,
    pub race_class: Option<String>,
    pub pattern: Option<String>,
    pub rating_band: Option<String>,
    pub age_band: Option<String>,
    pub sex_restriction: Option<String>,
    pub distance: Option<String>,
    pub distance_f: Option<f64>,
    pub distance_y: Option<i32>,
    pub distance_m: Option<i32>,
    pub going: Option<String>,
    pub going_detailed: Option<String>,
    pub surface: Option<String>,
    pub jumps: Option<String>,
    pub prize_amount: Option<f64>,
    pub prize_currency: Option<String>,
    /// The declared field (racecards only): a pre-race value.
    pub field_size: Option<i32>,
    /// How many ran: the runners in the result (results only).
    pub ran: Option<i32>,
    // racecards only
    pub big_race: Option<bool>,
    pub is_abandoned: Option<bool>,
    pub stalls: Option<String>,
    pub weather: Option<String>,
    pub rail_movements: Option<String>,
    pub tip: Option<String>,
    pub verdict: Option<String>,
    pub betting_forecast: Option<String>,
    // results only
    pub winning_time_detail: Option<String>,
    pub comments: Option<String>,
    pub non_runners: Option<String>,
    pub tote_win: Option<String>,
    pub tote_pl: Option<String>,
    pub tote_ex: Option<String>,
    pub tote_csf: Option<String>,
    pub tote_tricast: Option<String>,
    pub tote_trifecta: Option<String>,
}

/// One runner in one race as one source describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Runner {
    pub source: Source,
    pub race_id: String,
    pub horse_id: String,
    pub horse_name: String,
    pub number: Option<i32>,
    pub draw: Option<i32>,
    pub age: Option<i32>,
    pub sex_code: Option<String>,
    pub jockey_id: Option<String>,
    pub jockey_name: Option<String>,
    pub jockey_claim_lbs: Option<i32>,
    pub trainer_id: Option<String>,
    pub trainer_name: Option<String>,
    pub owner_id: Option<String>,
    pub owner_name: Option<String>,
    pub sire_id: Option<String>,
    pub dam_id: Option<String>,
    pub damsire_id: Option<String>,
    pub weight_lbs: Option<i32>,
    pub headgear: Option<String>,
    pub official_rating: Option<i32>,
    pub silk_url: Option<String>,
    // racecards only
    /// The ratings going into the race (racecard `rpr`, `ts`).
    pub rpr: Option<i32>,
    pub topspeed: Option<i32>,
    pub form: Option<String>,
    pub spotlight: Option<String>,
    pub card_comment: Option<String>,
    // results only
    pub position: Option<String>,
    pub finish_position: Option<i32>,
    pub btn: Option<f64>,
    pub ovr_btn: Option<f64>,
    pub sp: Option<String>,
    pub sp_decimal: Option<f64>,
    pub prize_amount: Option<f64>,
    pub prize_currency: Option<String>,
    pub finish_time: Option<String>,
    pub finish_time_s: Option<f64>,
    pub comment: Option<String>,
    /// The ratings earned in the race (result `rpr`, `tsr`).
    pub result_rpr: Option<i32>,
    pub result_topspeed: Option<i32>,
}

/// The latest quote of one bookmaker for one runner, from racecard `odds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerOdds {
    pub race_id: String,
    pub horse_id: String,
    /// Bookmaker code (snake_case of the name the API sends).
    pub bookmaker: String,
    pub fractional: Option<String>,
    pub decimal: Option<f64>,
    pub ew_places: Option<i32>,
    pub ew_denom: Option<i32>,
    /// The API's `updated`, a UK local time, as an instant.
    pub quoted_at: Option<DateTime<Utc>>,
}

/// A raw API response, kept byte for byte so data can be re-derived without spending calls.
#[derive(Debug, Clone, PartialEq)]
pub struct RawResponse {
    /// Path below the base URL: `/racecards/pro`.
    pub endpoint: String,
    /// The query string as sent, keys in a stable order: `date=2025-10-14&region_codes=gb`.
    pub params: String,
    pub status: u16,
    pub fetched_at: DateTime<Utc>,
    pub body: bytes::Bytes,
}

/// A record that could not be stored, with the reason. Counted, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// What was skipped: `runner rac_123/#4 (no horse_id)`, `race rac_9 (no off_dt)`.
    pub record: String,
    pub reason: String,
}

/// Everything one unit of work (one endpoint family, one racing day) writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub kind: Kind,
    pub race_date: NaiveDate,
    pub entities: Entities,
    pub races: Vec<Race>,
    pub runners: Vec<Runner>,
    pub odds: Vec<RunnerOdds>,
    /// Bookmakers seen in `odds`, to add to the bookmakers table with source `odds`.
    pub bookmakers: Vec<Bookmaker>,
    pub responses: Vec<RawResponse>,
    /// Pages fetched (results are paged by 50).
    pub pages: u32,
    pub api_calls: u32,
    pub skipped: Vec<Skipped>,
    /// Fields sent but not storable (a list where a scalar belongs, a value that does not parse),
    /// counted by `record.field` as the API names it (`runners.sp`): stored as NULL, the record kept.
    pub dropped: std::collections::BTreeMap<String, u64>,
    /// The lower-case region codes the unit's requests asked for (an empty list asks for every
    /// region); `None` when unknown. Recorded in `fetch_coverage.regions`, so a later run asking
    /// for a region this fetch did not knows to fetch the day again.
    pub regions: Option<Vec<String>>,
    /// Whether the racing day was over (the run's racing day was after `race_date`) when the unit
    /// was fetched: results fetched earlier miss the races still to run.
    pub day_over: bool,
}

impl Unit {
    pub fn new(kind: Kind, race_date: NaiveDate) -> Self {
        Self {
            kind,
            race_date,
            entities: Entities::default(),
            races: Vec::new(),
            runners: Vec::new(),
            odds: Vec::new(),
            bookmakers: Vec::new(),
            responses: Vec::new(),
            pages: 0,
            api_calls: 0,
            skipped: Vec::new(),
            dropped: Default::default(),
            regions: None,
            day_over: false,
        }
    }
}

/// The bookmakers the original system seeded: (code, name, kind). Others are added with source
/// `odds` when racecard odds mention them.
pub const SEED_BOOKMAKERS: [(&str, &str, BookmakerKind); 19] = [
    ("bet365", "Bet365", BookmakerKind::Online),
    ("william_hill", "William Hill", BookmakerKind::Online),
    ("paddy_power", "Paddy Power", BookmakerKind::Online),
    ("ladbrokes", "Ladbrokes", BookmakerKind::Online),
    ("coral", "Coral", BookmakerKind::Online),
    ("betfred", "Betfred", BookmakerKind::Online),
    ("sky_bet", "Sky Bet", BookmakerKind::Online),
    ("bet_victor", "Bet Victor", BookmakerKind::Online),
    ("unibet", "Unibet", BookmakerKind::Online),
    ("betway", "Betway", BookmakerKind::Online),
    ("boyle_sports", "Boyle Sports", BookmakerKind::Online),
    ("888_sport", "888 Sport", BookmakerKind::Online),
    ("betfair_sportsbook", "Betfair Sportsbook", BookmakerKind::Online),
    ("tote", "Tote", BookmakerKind::Online),
    ("betfair_exchange", "Betfair Exchange", BookmakerKind::Exchange),
    ("matchbook", "Matchbook", BookmakerKind::Exchange),
    ("smarkets", "Smarkets", BookmakerKind::Exchange),
    ("spreadex", "Spreadex", BookmakerKind::Spread),
    ("sporting_index", "Sporting Index", BookmakerKind::Spread),
];

/// The seeded bookmakers as rows (source `seed`).
pub fn seed_bookmakers() -> Vec<Bookmaker> {
    SEED_BOOKMAKERS
        .iter()
        .map(|(code, name, kind)| Bookmaker {
            code: (*code).to_string(),
            name: (*name).to_string(),
            kind: *kind,
            source: "seed".to_string(),
        })
        .collect()
}

/// The code of a bookmaker name as the API sends it: lower case, runs of anything but letters
/// and digits as one `_`. `"Sky Bet"` -> `sky_bet`, `"Bet365"` -> `bet365`.
pub fn bookmaker_code(name: &str) -> String {
    let mut code = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            code.push(c.to_ascii_lowercase());
        } else if !code.ends_with('_') && !code.is_empty() {
            code.push('_');
        }
    }
    while code.ends_with('_') {
        code.pop();
    }
    code
}

/// The kind of a bookmaker seen in odds: the seed's kind when known, else by name.
pub fn bookmaker_kind(code: &str) -> BookmakerKind {
    if let Some((_, _, kind)) = SEED_BOOKMAKERS.iter().find(|(c, _, _)| *c == code) {
        return *kind;
    }
    if code.contains("exchange") || code == "betdaq" {
        BookmakerKind::Exchange
    } else if code.starts_with("spread") || code.contains("index") {
        BookmakerKind::Spread
    } else {
        BookmakerKind::Online
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bookmaker_codes_are_snake_case_of_names() {
        assert_eq!(bookmaker_code("Sky Bet"), "sky_bet");
        assert_eq!(bookmaker_code("Bet365"), "bet365");
        assert_eq!(bookmaker_code("talkSPORT BET"), "talksport_bet");
        assert_eq!(bookmaker_code(" 888 Sport "), "888_sport");
        for (code, name, _) in SEED_BOOKMAKERS {
            assert_eq!(bookmaker_code(name), code, "seed {name}");
        }
    }
}
