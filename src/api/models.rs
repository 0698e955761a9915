//! Payload types: what The Racing API sends, accepted leniently.
//!
//! Every scalar is a [`Text`]: the API sends numbers as strings, ratings as an en dash, blanks as
//! `""`, and could send a bare number anywhere; `Text` takes any JSON scalar and keeps it as text,
//! so interpreting it is left to `normalize`. Every field is optional (a missing field is `None`),
//! and every record keeps the fields it does not know in `extra`, so a new API field never fails a
//! parse. A record that still cannot be read (an object where a string belongs) becomes a
//! [`Lenient::Bad`] carrying its ids and the reason, so one bad record never fails its page.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A scalar as the API sent it, as text: `"10"`, `"–"`, `""`, or a JSON number or bool turned
/// into its text. `None` when the field was missing or `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Option<String>);

impl Text {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// Moves the text out, leaving `None`.
    pub fn take(&mut self) -> Option<String> {
        self.0.take()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text(Some(s.to_string()))
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number, bool or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(Some(v.to_string())))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(None))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

/// A yes/no flag: a JSON bool, or the text `true`/`false`/`1`/`0`/`yes`/`no`; anything blank is
/// `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Null => Ok(Flag(None)),
            Value::Bool(b) => Ok(Flag(Some(b))),
            Value::Number(n) => Ok(Flag(Some(n.as_f64().is_some_and(|x| x != 0.0)))),
            Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "" | "-" | "\u{2013}" => Ok(Flag(None)),
                "true" | "1" | "yes" | "y" => Ok(Flag(Some(true))),
                "false" | "0" | "no" | "n" => Ok(Flag(Some(false))),
                other => Err(de::Error::custom(format!("expected a yes/no flag, got {other:?}"))),
            },
            other => Err(de::Error::custom(format!("expected a yes/no flag, got {other}"))),
        }
    }
}

/// The ids a record carried, read before its type was tried, so a rejected record can still be
/// named and filtered by region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Hint {
    pub race_id: Option<String>,
    pub horse_id: Option<String>,
    pub number: Option<String>,
    pub region: Option<String>,
    pub bookmaker: Option<String>,
    pub id: Option<String>,
}

impl Hint {
    fn of(v: &Value) -> Hint {
        let get = |k: &str| match v.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Hint {
            race_id: get("race_id"),
            horse_id: get("horse_id"),
            number: get("number"),
            region: get("region"),
            bookmaker: get("bookmaker"),
            id: get("id"),
        }
    }
}

/// A record that could not be read as its type: its ids and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    pub hint: Hint,
    pub error: String,
}

/// One record of a list, read on its own: either the typed record or why it was rejected.
#[derive(Debug, Clone, PartialEq)]
pub enum Lenient<T> {
    Ok(T),
    Bad(Rejected),
}

impl<T> Lenient<T> {
    pub fn ok(&self) -> Option<&T> {
        match self {
            Lenient::Ok(t) => Some(t),
            Lenient::Bad(_) => None,
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        if !value.is_object() {
            return Ok(Lenient::Bad(Rejected {
                hint: Hint::default(),
                error: format!("expected an object, got {}", kind_of(&value)),
            }));
        }
        let hint = Hint::of(&value);
        Ok(match T::deserialize(value) {
            Ok(t) => Lenient::Ok(t),
            Err(e) => Lenient::Bad(Rejected { hint, error: e.to_string() }),
        })
    }
}

impl<T: Serialize> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Lenient::Ok(t) => t.serialize(s),
            Lenient::Bad(r) => r.serialize(s),
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A list of records, each read on its own; `null` is an empty list.
pub type Records<T> = Vec<Lenient<T>>;

fn records<'de, D, T>(d: D) -> Result<Records<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(Option::<Records<T>>::deserialize(d)?.unwrap_or_default())
}

/// `/racecards/pro|standard|basic|free` and `/racecards/big-races`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RacecardsPage {
    /// `None` when the body had no `racecards` key (not a racecards body).
    #[serde(deserialize_with = "some_records")]
    pub racecards: Option<Records<RacecardRace>>,
    pub total: Text,
    pub limit: Text,
    pub skip: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn some_records<'de, D, T>(d: D) -> Result<Option<Records<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(Some(Option::<Records<T>>::deserialize(d)?.unwrap_or_default()))
}

/// One race of a racecard (free racecards send no ids, basic ones no odds).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RacecardRace {
    pub race_id: Text,
    pub course: Text,
    pub course_id: Text,
    pub date: Text,
    /// 12-hour clock without am/pm: never used for times (see `off_dt`).
    pub off_time: Text,
    pub off_dt: Text,
    pub race_name: Text,
    pub distance_round: Text,
    pub distance: Text,
    /// Furlongs as a decimal string: `"8.0"`.
    pub distance_f: Text,
    pub region: Text,
    pub pattern: Text,
    pub sex_restriction: Text,
    pub race_class: Text,
    #[serde(rename = "type")]
    pub race_type: Text,
    pub age_band: Text,
    pub rating_band: Text,
    /// Formatted money: `"£3,140"`, `"€7,080"`.
    pub prize: Text,
    pub field_size: Text,
    pub going_detailed: Text,
    pub rail_movements: Text,
    pub stalls: Text,
    pub weather: Text,
    pub going: Text,
    pub surface: Text,
    pub jumps: Text,
    pub big_race: Flag,
    pub is_abandoned: Flag,
    pub tip: Text,
    pub verdict: Text,
    pub betting_forecast: Text,
    #[serde(deserialize_with = "records")]
    pub runners: Records<RacecardRunner>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One runner of a racecard race.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RacecardRunner {
    pub horse_id: Text,
    pub horse: Text,
    pub dob: Text,
    pub age: Text,
    /// A word: `gelding`; the code is `sex_code`.
    pub sex: Text,
    pub sex_code: Text,
    pub colour: Text,
    /// The horse's breeding region: `IRE`.
    pub region: Text,
    pub breeder: Text,
    pub dam: Text,
    pub dam_id: Text,
    pub dam_region: Text,
    pub sire: Text,
    pub sire_id: Text,
    pub sire_region: Text,
    pub damsire: Text,
    pub damsire_id: Text,
    pub damsire_region: Text,
    pub trainer: Text,
    pub trainer_id: Text,
    pub trainer_location: Text,
    pub owner: Text,
    pub owner_id: Text,
    pub comment: Text,
    pub spotlight: Text,
    pub number: Text,
    pub draw: Text,
    pub headgear: Text,
    pub lbs: Text,
    pub ofr: Text,
    pub rpr: Text,
    pub ts: Text,
    pub jockey: Text,
    pub jockey_id: Text,
    pub jockey_claim_lbs: Text,
    pub silk_url: Text,
    pub last_run: Text,
    pub form: Text,
    #[serde(deserialize_with = "records")]
    pub odds: Records<Odds>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One bookmaker's quote for a racecard runner.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct Odds {
    pub bookmaker: Text,
    pub fractional: Text,
    /// `"23"`; `"0"` with fractional `"SP"` means no fixed price.
    pub decimal: Text,
    pub ew_places: Text,
    pub ew_denom: Text,
    /// UK local time: `"2025-10-14 13:43:08"`.
    pub updated: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `/results` and `/results/today`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResultsPage {
    /// `None` when the body had no `results` key (not a results body).
    #[serde(deserialize_with = "some_records")]
    pub results: Option<Records<ResultRace>>,
    pub total: Text,
    pub limit: Text,
    pub skip: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One race of a results page, or the body of `/results/{race_id}`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResultRace {
    pub race_id: Text,
    pub date: Text,
    pub region: Text,
    pub course: Text,
    pub course_id: Text,
    /// 12-hour clock without am/pm: never used for times (see `off_dt`).
    pub off: Text,
    pub off_dt: Text,
    pub race_name: Text,
    #[serde(rename = "type")]
    pub race_type: Text,
    pub class: Text,
    pub pattern: Text,
    pub rating_band: Text,
    pub age_band: Text,
    pub sex_rest: Text,
    pub dist: Text,
    pub dist_y: Text,
    pub dist_m: Text,
    /// Furlongs with a unit: `"11f"`.
    pub dist_f: Text,
    pub going: Text,
    pub surface: Text,
    pub jumps: Text,
    /// Not sent by results today, and not used: `races.field_size` is the racecard's declared
    /// field, and a result's `ran` is the runners it lists.
    pub field_size: Text,
    pub winning_time_detail: Text,
    pub comments: Text,
    pub non_runners: Text,
    pub tote_win: Text,
    pub tote_pl: Text,
    pub tote_ex: Text,
    pub tote_csf: Text,
    pub tote_tricast: Text,
    pub tote_trifecta: Text,
    #[serde(deserialize_with = "records")]
    pub runners: Records<ResultRunner>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One runner of a result.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResultRunner {
    pub horse_id: Text,
    pub horse: Text,
    pub sp: Text,
    pub sp_dec: Text,
    pub number: Text,
    /// `"1"`, `"PU"`, `"UR"`, `"Died as a 5"`.
    pub position: Text,
    pub draw: Text,
    pub btn: Text,
    pub ovr_btn: Text,
    pub age: Text,
    /// The code: `G`.
    pub sex: Text,
    /// Stones and pounds: `"8-10"`.
    pub weight: Text,
    pub weight_lbs: Text,
    pub headgear: Text,
    /// `"1:43.25"`.
    pub time: Text,
    #[serde(rename = "or")]
    pub official_rating: Text,
    pub rpr: Text,
    pub tsr: Text,
    /// A bare number (`"4187.20"`) or with a currency sign (`"€7080"`); `""` when unplaced.
    pub prize: Text,
    pub jockey: Text,
    pub jockey_claim_lbs: Text,
    pub jockey_id: Text,
    pub trainer: Text,
    pub trainer_id: Text,
    pub owner: Text,
    pub owner_id: Text,
    pub sire: Text,
    pub sire_id: Text,
    pub dam: Text,
    pub dam_id: Text,
    pub damsire: Text,
    pub damsire_id: Text,
    pub comment: Text,
    pub silk_url: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `/courses`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CoursesPage {
    #[serde(deserialize_with = "some_records")]
    pub courses: Option<Records<CoursePayload>>,
    pub total: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct CoursePayload {
    pub id: Text,
    pub course: Text,
    pub region_code: Text,
    pub region: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One item of `/courses/regions` (a top-level array).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RegionPayload {
    pub region: Text,
    pub region_code: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `/horses/{id}/pro` (and the smaller `/standard`, which lacks dob, sex, colour and breeder).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct HorsePro {
    pub id: Text,
    pub name: Text,
    pub sex: Text,
    pub sex_code: Text,
    pub dob: Text,
    pub colour: Text,
    pub colour_code: Text,
    pub breeder: Text,
    pub region: Text,
    pub sire: Text,
    pub sire_id: Text,
    pub dam: Text,
    pub dam_id: Text,
    pub damsire: Text,
    pub damsire_id: Text,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_takes_any_scalar() {
        let r: RacecardRunner =
            serde_json::from_str(r#"{"horse_id":"hrs_1","age":5,"draw":null,"lbs":"133","new_field":[1]}"#).unwrap();
        assert_eq!(r.horse_id.as_deref(), Some("hrs_1"));
        assert_eq!(r.age.as_deref(), Some("5"));
        assert_eq!(r.draw.as_deref(), None);
        assert_eq!(r.ofr.as_deref(), None);
        assert_eq!(r.extra.get("new_field"), Some(&serde_json::json!([1])));
    }

    #[test]
    fn a_bad_record_is_rejected_alone() {
        let page: ResultsPage = serde_json::from_str(
            r#"{"results":[{"race_id":"rac_1","runners":[]},{"race_id":"rac_2","region":"GB","course":{"x":1}},7]}"#,
        )
        .unwrap();
        let list = page.results.unwrap();
        assert!(matches!(&list[0], Lenient::Ok(r) if r.race_id.as_deref() == Some("rac_1")));
        match &list[1] {
            Lenient::Bad(r) => {
                assert_eq!(r.hint.race_id.as_deref(), Some("rac_2"));
                assert_eq!(r.hint.region.as_deref(), Some("GB"));
            }
            Lenient::Ok(_) => panic!("an object course must be rejected"),
        }
        assert!(matches!(&list[2], Lenient::Bad(r) if r.error.contains("a number")));
    }

    #[test]
    fn flags_accept_bools_and_text() {
        let r: RacecardRace =
            serde_json::from_str(r#"{"big_race":true,"is_abandoned":"false","runners":null}"#).unwrap();
        assert_eq!(r.big_race, Flag(Some(true)));
        assert_eq!(r.is_abandoned, Flag(Some(false)));
        assert!(r.runners.is_empty());
    }

    #[test]
    fn a_body_without_the_list_says_so() {
        let page: RacecardsPage = serde_json::from_str(r#"{"detail":"Not Found"}"#).unwrap();
        assert!(page.racecards.is_none());
        assert_eq!(page.extra.get("detail"), Some(&Value::from("Not Found")));
    }
}
