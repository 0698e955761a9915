//! Payload types: what The Racing API sends, accepted leniently, field by field.
//!
//! Every scalar is a [`Text`]: the API sends numbers as strings, ratings as an en dash, blanks as
//! `""`, and could send a bare number anywhere; `Text` takes any JSON scalar and keeps it as text,
//! so interpreting it is left to `normalize`. A list or an object where a scalar belongs is
//! [`Text::Unreadable`], and a nested list of records that is not a list is an empty, unreadable
//! [`List`]: the record is still read, and the normaliser stores that field as NULL and counts it
//! (`JobReport::dropped_fields`). Every field is optional (a missing field is `Missing`), and every
//! record keeps the fields it does not know in `extra`, so a new API field never fails a parse.
//! Only a record that is not an object becomes a [`Lenient::Bad`] with the reason, so one bad
//! record never fails its page. The fields racecards and results both send under one name are one
//! struct each ([`RaceShared`], [`RunnerShared`]), flattened into each feed's record.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;

/// A scalar as the API sent it, as text: `"10"`, `"–"`, `""`, or a JSON number or bool turned
/// into its text. A list or an object where a scalar belongs is [`Text::Unreadable`]: the record
/// is still read, and the normaliser stores the field as NULL and counts it as dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Text {
    /// The field was missing or `null`.
    #[default]
    Missing,
    Sent(String),
    /// A list or an object (named: `a list`, `an object`) where a scalar belongs.
    Unreadable(&'static str),
}

impl Text {
    pub fn as_deref(&self) -> Option<&str> {
        match self {
            Text::Sent(s) => Some(s),
            _ => None,
        }
    }

    /// Moves the text out, leaving `Missing` (an unreadable field stays unreadable).
    pub fn take(&mut self) -> Option<String> {
        match std::mem::take(self) {
            Text::Sent(s) => Some(s),
            other => {
                *self = other;
                None
            }
        }
    }

    /// What was sent instead of a scalar, if that is why the field has no text.
    pub fn unreadable(&self) -> Option<&'static str> {
        match self {
            Text::Unreadable(kind) => Some(kind),
            _ => None,
        }
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::Sent(s.to_string())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_deref().serialize(s)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text::Sent(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text::Sent(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text::Sent(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text::Sent(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text::Sent(v.to_string()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text::Sent(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text::Missing)
    }
    fn visit_none<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text::Missing)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text, D::Error> {
        d.deserialize_any(TextVisitor)
    }
    // A list or an object is read through (the deserialiser wants it consumed) and dropped.
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        while seq.next_element::<de::IgnoredAny>()?.is_some() {}
        Ok(Text::Unreadable("a list"))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        Ok(Text::Unreadable("an object"))
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
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

/// A list of records inside a record (a race's runners, a runner's odds), each read on its own.
/// Missing or `null` is empty; a scalar or an object where the list belongs is empty and
/// `unreadable`, so the record holding it is still read (and the normaliser counts the drop).
#[derive(Debug, Clone, PartialEq)]
pub struct List<T> {
    pub items: Records<T>,
    /// What was sent instead of a list (`a string`, `an object`), if anything.
    pub unreadable: Option<&'static str>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List { items: Vec::new(), unreadable: None }
    }
}

impl<T> std::ops::Deref for List<T> {
    type Target = Records<T>;
    fn deref(&self) -> &Records<T> {
        &self.items
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

struct ListVisitor<T>(std::marker::PhantomData<T>);

fn not_a_list<T, E>(kind: &'static str) -> Result<List<T>, E> {
    Ok(List { items: Vec::new(), unreadable: Some(kind) })
}

impl<'de, T: DeserializeOwned> Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Lenient<T>>()? {
            items.push(item);
        }
        Ok(List { items, unreadable: None })
    }
    fn visit_unit<E: de::Error>(self) -> Result<List<T>, E> {
        Ok(List::default())
    }
    fn visit_none<E: de::Error>(self) -> Result<List<T>, E> {
        Ok(List::default())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
        while map.next_entry::<de::IgnoredAny, de::IgnoredAny>()?.is_some() {}
        not_a_list("an object")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<List<T>, E> {
        not_a_list("a string")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<List<T>, E> {
        not_a_list("a bool")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<List<T>, E> {
        not_a_list("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<List<T>, E> {
        not_a_list("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<List<T>, E> {
        not_a_list("a number")
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
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

/// The race fields racecards and results both send, under the same names: read once for both
/// feeds, flattened into [`RacecardRace`] and [`ResultRace`].
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RaceShared {
    pub race_id: Text,
    pub date: Text,
    pub region: Text,
    pub course: Text,
    pub course_id: Text,
    pub off_dt: Text,
    pub race_name: Text,
    #[serde(rename = "type")]
    pub race_type: Text,
    pub pattern: Text,
    pub rating_band: Text,
    pub age_band: Text,
    pub going: Text,
    pub surface: Text,
    pub jumps: Text,
}

/// One race of a racecard (free racecards send no ids, basic ones no odds).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RacecardRace {
    /// Declared before `extra`, so the shared fields are taken before `extra` gets what is left.
    #[serde(flatten)]
    pub shared: RaceShared,
    /// 12-hour clock without am/pm: never used for times (see `off_dt`).
    pub off_time: Text,
    pub distance_round: Text,
    pub distance: Text,
    /// Furlongs as a decimal string: `"8.0"`.
    pub distance_f: Text,
    pub sex_restriction: Text,
    pub race_class: Text,
    /// Formatted money: `"£3,140"`, `"€7,080"`.
    pub prize: Text,
    pub field_size: Text,
    pub going_detailed: Text,
    pub rail_movements: Text,
    pub stalls: Text,
    pub weather: Text,
    /// Yes/no flags: a JSON bool, or `true`/`false`/`1`/`0`/`yes`/`no` (`normalize::flag`).
    pub big_race: Text,
    pub is_abandoned: Text,
    pub tip: Text,
    pub verdict: Text,
    pub betting_forecast: Text,
    pub runners: List<RacecardRunner>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The runner fields racecards and results both send, under the same names and with the same
/// meaning: read once for both feeds, flattened into [`RacecardRunner`] and [`ResultRunner`].
/// (`comment` and `rpr` are sent by both but mean different things, so each feed keeps its own.)
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RunnerShared {
    pub horse_id: Text,
    pub horse: Text,
    pub number: Text,
    pub draw: Text,
    pub age: Text,
    pub headgear: Text,
    pub jockey: Text,
    pub jockey_id: Text,
    pub jockey_claim_lbs: Text,
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
    pub silk_url: Text,
}

/// One runner of a racecard race.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RacecardRunner {
    /// Declared before `extra`, so the shared fields are taken before `extra` gets what is left.
    #[serde(flatten)]
    pub shared: RunnerShared,
    pub dob: Text,
    /// A word: `gelding`; the code is `sex_code`.
    pub sex: Text,
    pub sex_code: Text,
    pub colour: Text,
    /// The horse's breeding region: `IRE`.
    pub region: Text,
    pub breeder: Text,
    pub dam_region: Text,
    pub sire_region: Text,
    pub damsire_region: Text,
    pub trainer_location: Text,
    pub comment: Text,
    pub spotlight: Text,
    pub lbs: Text,
    pub ofr: Text,
    pub rpr: Text,
    pub ts: Text,
    pub last_run: Text,
    pub form: Text,
    pub odds: List<Odds>,
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
    /// Declared before `extra`, so the shared fields are taken before `extra` gets what is left.
    #[serde(flatten)]
    pub shared: RaceShared,
    /// 12-hour clock without am/pm: never used for times (see `off_dt`).
    pub off: Text,
    pub class: Text,
    pub sex_rest: Text,
    pub dist: Text,
    pub dist_y: Text,
    pub dist_m: Text,
    /// Furlongs with a unit: `"11f"`.
    pub dist_f: Text,
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
    pub runners: List<ResultRunner>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One runner of a result.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ResultRunner {
    /// Declared before `extra`, so the shared fields are taken before `extra` gets what is left.
    #[serde(flatten)]
    pub shared: RunnerShared,
    pub sp: Text,
    pub sp_dec: Text,
    /// `"1"`, `"PU"`, `"UR"`, `"Died as a 5"`.
    pub position: Text,
    pub btn: Text,
    pub ovr_btn: Text,
    /// The code: `G`.
    pub sex: Text,
    /// Stones and pounds: `"8-10"`.
    pub weight: Text,
    pub weight_lbs: Text,
    /// `"1:43.25"`.
    pub time: Text,
    #[serde(rename = "or")]
    pub official_rating: Text,
    pub rpr: Text,
    pub tsr: Text,
    /// A bare number (`"4187.20"`) or with a currency sign (`"€7080"`); `""` when unplaced.
    pub prize: Text,
    pub comment: Text,
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
        assert_eq!(r.shared.horse_id.as_deref(), Some("hrs_1"));
        assert_eq!(r.shared.age.as_deref(), Some("5"));
        assert_eq!(r.shared.draw.as_deref(), None);
        assert_eq!(r.ofr.as_deref(), None);
        assert_eq!(r.extra.get("new_field"), Some(&serde_json::json!([1])));
    }

    #[test]
    fn a_bad_field_drops_alone_and_a_bad_record_is_rejected_alone() {
        let page: ResultsPage = serde_json::from_str(
            r#"{"results":[{"race_id":"rac_1","runners":[]},{"race_id":"rac_2","region":"GB","course":{"x":[1]},"runners":"none"},7]}"#,
        )
        .unwrap();
        let list = page.results.unwrap();
        assert!(matches!(&list[0], Lenient::Ok(r) if r.shared.race_id.as_deref() == Some("rac_1")));
        match &list[1] {
            Lenient::Ok(r) => {
                assert_eq!(r.shared.race_id.as_deref(), Some("rac_2"));
                assert_eq!(r.shared.course, Text::Unreadable("an object"));
                assert_eq!((r.runners.len(), r.runners.unreadable), (0, Some("a string")));
            }
            Lenient::Bad(r) => panic!("an object course drops the field, not the race: {r:?}"),
        }
        assert!(matches!(&list[2], Lenient::Bad(r) if r.error.contains("a number")));
        let r: ResultRunner = serde_json::from_str(r#"{"horse_id":"hrs_1","sp":["9/2"],"or":{"v":1}}"#).unwrap();
        assert_eq!((r.sp.unreadable(), r.official_rating.unreadable()), (Some("a list"), Some("an object")));
        assert_eq!(r.shared.horse_id.as_deref(), Some("hrs_1"));
    }

    #[test]
    fn flags_accept_bools_and_text() {
        let r: RacecardRace =
            serde_json::from_str(r#"{"big_race":true,"is_abandoned":"false","runners":null}"#).unwrap();
        assert_eq!(r.big_race, Text::from("true"));
        assert_eq!(r.is_abandoned, Text::from("false"));
        assert!(r.runners.is_empty());
    }

    #[test]
    fn a_body_without_the_list_says_so() {
        let page: RacecardsPage = serde_json::from_str(r#"{"detail":"Not Found"}"#).unwrap();
        assert!(page.racecards.is_none());
        assert_eq!(page.extra.get("detail"), Some(&Value::from("Not Found")));
    }
}
