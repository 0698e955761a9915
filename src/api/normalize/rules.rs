//! The normalisation rules of docs/schema.md, one pure function each: API strings to typed
//! values (blanks and dashes, numbers, money with currency, distances, finish times, positions,
//! odds, instants). `normalize` applies them to whole payloads.

use super::super::payload::Text;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Europe::London;

/// `""`, `"-"`, the en dash `"–"` and the em dash become `None`; other text is trimmed.
pub fn blank(s: Option<&str>) -> Option<&str> {
    let t = s?.trim();
    match t {
        "" | "-" | "\u{2013}" | "\u{2014}" => None,
        _ => Some(t),
    }
}

/// A whole number sent as text: `"10"` -> 10, `"10.0"` -> 10; anything else (`"8-10"`, `"–"`) is
/// `None`.
pub fn int(s: Option<&str>) -> Option<i32> {
    let t = blank(s)?;
    if let Ok(n) = t.parse::<i32>() {
        return Some(n);
    }
    let x = t.parse::<f64>().ok()?;
    (x.fract() == 0.0 && x.abs() <= f64::from(i32::MAX)).then_some(x as i32)
}

/// A number sent as text: `"9.50"` -> 9.5, `".75"` -> 0.75.
pub fn num(s: Option<&str>) -> Option<f64> {
    blank(s)?.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// Money with its currency: `"£3,140"` -> (3140, GBP), `"€7080"` -> (7080, EUR); a bare
/// `"4187.20"` takes the currency of the race's region (`GB` -> GBP, `IRE` -> EUR, else none).
pub fn money(s: Option<&str>, region: &str) -> Option<(f64, Option<&'static str>)> {
    let t = blank(s)?;
    let currency = if t.contains('£') {
        Some("GBP")
    } else if t.contains('€') {
        Some("EUR")
    } else if t.contains('$') {
        Some("USD")
    } else {
        region_currency(region)
    };
    let digits: String = t.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect();
    let amount = digits.parse::<f64>().ok().filter(|x| x.is_finite())?;
    Some((amount, currency))
}

/// The currency of bare amounts in a region's races.
pub fn region_currency(region: &str) -> Option<&'static str> {
    if region.eq_ignore_ascii_case("GB") {
        Some("GBP")
    } else if region.eq_ignore_ascii_case("IRE") {
        Some("EUR")
    } else {
        None
    }
}

/// Exact yards of a text distance: `"1m2f110y"` -> 2310, `"5f"` -> 1100, `"2m4f"` -> 4400,
/// `"5½f"` -> 1210. `None` for anything that is not miles, furlongs and yards.
pub fn distance_yards(s: &str) -> Option<i32> {
    let t = blank(Some(s))?;
    let mut total = 0.0_f64;
    let mut digits = String::new();
    let mut half = false;
    let mut any = false;
    for c in t.chars() {
        match c {
            '0'..='9' | '.' => digits.push(c),
            '½' => half = true,
            'm' | 'f' | 'y' => {
                if digits.is_empty() && !half {
                    return None;
                }
                let mut n = if digits.is_empty() { 0.0 } else { digits.parse::<f64>().ok()? };
                if half {
                    n += 0.5;
                }
                total += n * match c {
                    'm' => 1760.0,
                    'f' => 220.0,
                    _ => 1.0,
                };
                digits.clear();
                half = false;
                any = true;
            }
            ' ' => {}
            _ => return None,
        }
    }
    if !any || !digits.is_empty() || half {
        return None;
    }
    Some(total.round() as i32)
}

/// Metres of a distance in yards, rounded: 2310 -> 2112.
pub fn yards_to_metres(yards: i32) -> i32 {
    (f64::from(yards) * 0.9144).round() as i32
}

/// Furlongs as a number: `"8.0"` -> 8.0, `"11f"` -> 11.0.
pub fn furlongs(s: Option<&str>) -> Option<f64> {
    let t = blank(s)?;
    let t = t.strip_suffix('f').unwrap_or(t).trim();
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A finish time in seconds: `"1:43.25"` -> 103.25, `"58.40"` -> 58.4, `"4m 3.20s"` -> 243.2;
/// `"-"` -> `None`.
pub fn finish_seconds(s: Option<&str>) -> Option<f64> {
    let t = blank(s)?;
    let secs = |x: &str| x.trim().trim_end_matches('s').trim().parse::<f64>().ok();
    let (mins, rest) = match t.split_once(':').or_else(|| t.split_once('m')) {
        Some((m, rest)) => (m.trim().parse::<u32>().ok()?, rest),
        None => (0, t),
    };
    let total = f64::from(mins) * 60.0 + secs(rest)?;
    total.is_finite().then_some(total)
}

/// The place of a runner that finished: `"1"` -> 1; `"PU"`, `"UR"`, `"Died as a 5"` -> `None`.
pub fn finish_position(s: Option<&str>) -> Option<i32> {
    let t = blank(s)?;
    if t.bytes().all(|b| b.is_ascii_digit()) { t.parse().ok() } else { None }
}

/// Decimal odds: a price above zero. `"0"` (sent with fractional `"SP"`) and `"-"` are `None`.
pub fn odds_decimal(s: Option<&str>) -> Option<f64> {
    num(s).filter(|x| *x > 0.0)
}

/// An ISO 8601 instant with offset (`off_dt`): `"2025-10-07T20:30:00+01:00"` -> 19:30 UTC.
pub fn off_instant(s: Option<&str>) -> Option<DateTime<Utc>> {
    let t = blank(s)?;
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A UK local time without offset (odds `updated`: `"2025-10-14 13:43:08"`) as an instant. In the
/// autumn's repeated hour the earlier instant is taken; a time in the spring gap is read an hour
/// later. Text with an offset is read as an instant.
pub fn uk_local_instant(s: Option<&str>) -> Option<DateTime<Utc>> {
    let t = blank(s)?;
    if let Some(d) = off_instant(Some(t)) {
        return Some(d);
    }
    let naive = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    London
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| London.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())
        .map(|d| d.with_timezone(&Utc))
}

/// The UK racing day of a race: its `date`, else the London date of its off instant.
pub fn race_day(date_text: Option<&str>, off_at: Option<DateTime<Utc>>) -> Option<NaiveDate> {
    date(date_text).or_else(|| off_at.map(|t| t.with_timezone(&London).date_naive()))
}

/// The name of a region code: `GB` -> `Great Britain`, `ire` -> `Ireland`; unknown codes are
/// returned upper case.
pub fn region_name(code: &str) -> String {
    let name = match code.to_ascii_uppercase().as_str() {
        "GB" => "Great Britain",
        "IRE" => "Ireland",
        "FR" => "France",
        "AUS" => "Australia",
        "USA" => "United States",
        "CAN" => "Canada",
        "NZ" => "New Zealand",
        "JPN" => "Japan",
        "GER" => "Germany",
        "ITY" => "Italy",
        "SPA" => "Spain",
        "HK" => "Hong Kong",
        "UAE" => "United Arab Emirates",
        "SAF" => "South Africa",
        "ARG" => "Argentina",
        other => return other.to_string(),
    };
    name.to_string()
}

/// The breeding suffix of a name: `"Veraison (IRE)"` -> `IRE`.
pub fn name_region(name: &str) -> Option<&str> {
    let inner = name.trim().strip_suffix(')')?;
    let (_, code) = inner.rsplit_once('(')?;
    (!code.is_empty() && code.len() <= 4 && code.bytes().all(|b| b.is_ascii_uppercase())).then_some(code)
}

/// An entity's name as both feeds can agree on it: results send `"Veraison (IRE)"`, racecards
/// `"Veraison"` with the region apart, so the suffix is dropped (and returned as the region).
pub fn bare_name(name: &str) -> (&str, Option<&str>) {
    match name_region(name) {
        Some(code) => {
            let trimmed = name.trim();
            let base = trimmed[..trimmed.len() - code.len() - 2].trim_end();
            if base.is_empty() { (trimmed, None) } else { (base, Some(code)) }
        }
        None => (name.trim(), None),
    }
}

/// A jockey's name without the allowance racecards append: `"Tommie Jakes(5)"` -> `Tommie Jakes`.
pub fn jockey_bare_name(name: &str) -> &str {
    let trimmed = name.trim();
    if let Some(inner) = trimmed.strip_suffix(')')
        && let Some((base, claim)) = inner.rsplit_once('(')
        && !claim.is_empty()
        && claim.bytes().all(|b| b.is_ascii_digit())
        && !base.trim_end().is_empty()
    {
        return base.trim_end();
    }
    trimmed
}

pub(super) fn date(s: Option<&str>) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(blank(s)?, "%Y-%m-%d").ok()
}

/// A yes/no flag: `true`/`false`, `yes`/`no`, `y`/`n`, or a number (non-zero is yes); blank is
/// `None`, and so is anything else.
pub(super) fn flag(s: Option<&str>) -> Option<bool> {
    let t = blank(s)?.to_ascii_lowercase();
    match t.as_str() {
        "true" | "yes" | "y" => Some(true),
        "false" | "no" | "n" => Some(false),
        _ => t.parse::<f64>().ok().filter(|x| x.is_finite()).map(|x| x != 0.0),
    }
}

/// Moves the text out of a payload field, `None` when blank. The text is kept as sent.
pub(super) fn text(t: &mut Text) -> Option<String> {
    match t.take() {
        Some(s) if blank(Some(&s)).is_some() => Some(s),
        _ => None,
    }
}

pub(super) fn wanted(regions: &[String], region: &str) -> bool {
    regions.is_empty() || regions.iter().any(|r| r.trim().eq_ignore_ascii_case(region.trim()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dashes_and_blanks_are_none() {
        for s in ["", " ", "-", "\u{2013}", "\u{2014}"] {
            assert_eq!(blank(Some(s)), None, "{s:?}");
            assert_eq!(int(Some(s)), None);
            assert_eq!(num(Some(s)), None);
        }
        assert_eq!(blank(None), None);
        assert_eq!(blank(Some(" PU ")), Some("PU"));
    }

    #[test]
    fn numbers_from_strings() {
        assert_eq!(int(Some("10")), Some(10));
        assert_eq!(int(Some("10.0")), Some(10));
        assert_eq!(int(Some("8-10")), None);
        assert_eq!(int(Some("9.5")), None);
        assert_eq!(num(Some("9.50")), Some(9.5));
        assert_eq!(num(Some(".75")), Some(0.75));
        assert_eq!(num(Some("nk")), None);
    }

    #[test]
    fn money_with_currency() {
        assert_eq!(money(Some("£3,140"), "GB"), Some((3140.0, Some("GBP"))));
        assert_eq!(money(Some("€7080"), "IRE"), Some((7080.0, Some("EUR"))));
        assert_eq!(money(Some("€7,080"), "GB"), Some((7080.0, Some("EUR"))));
        assert_eq!(money(Some("4187.20"), "GB"), Some((4187.2, Some("GBP"))));
        assert_eq!(money(Some("4187.20"), "IRE"), Some((4187.2, Some("EUR"))));
        assert_eq!(money(Some("4187.20"), "FR"), Some((4187.2, None)));
        assert_eq!(money(Some("£283,550"), "FR"), Some((283550.0, Some("GBP"))));
        assert_eq!(money(Some(""), "GB"), None);
        assert_eq!(money(Some("–"), "GB"), None);
    }

    #[test]
    fn distances() {
        assert_eq!(distance_yards("1m2f110y"), Some(2310));
        assert_eq!(distance_yards("2m4f"), Some(4400));
        assert_eq!(distance_yards("5f"), Some(1100));
        assert_eq!(distance_yards("7f213y"), Some(1753));
        assert_eq!(distance_yards("1m"), Some(1760));
        assert_eq!(distance_yards("1m7f209y"), Some(3509));
        assert_eq!(distance_yards("2m6f31y"), Some(4871));
        assert_eq!(distance_yards("5½f"), Some(1210));
        assert_eq!(distance_yards(""), None);
        assert_eq!(distance_yards("long"), None);
        assert_eq!(distance_yards("12"), None);
        assert_eq!(yards_to_metres(2310), 2112);
        assert_eq!(yards_to_metres(1773), 1621);
        assert_eq!(furlongs(Some("8.0")), Some(8.0));
        assert_eq!(furlongs(Some("8f")), Some(8.0));
        assert_eq!(furlongs(Some("11f")), Some(11.0));
        assert_eq!(furlongs(Some("–")), None);
    }

    #[test]
    fn finish_times() {
        assert_eq!(finish_seconds(Some("1:43.25")), Some(103.25));
        assert_eq!(finish_seconds(Some("1:0.00")), Some(60.0));
        assert_eq!(finish_seconds(Some("0:58.40")), Some(58.4));
        assert_eq!(finish_seconds(Some("58.40")), Some(58.4));
        assert_eq!(finish_seconds(Some("4m 3.20s")), Some(243.2));
        assert_eq!(finish_seconds(Some("-")), None);
        assert_eq!(finish_seconds(Some("")), None);
        assert_eq!(finish_seconds(Some("x:1")), None);
    }

    #[test]
    fn positions() {
        assert_eq!(finish_position(Some("1")), Some(1));
        assert_eq!(finish_position(Some("12")), Some(12));
        for s in ["PU", "UR", "F", "Died as a 5", "", "-", "=1"] {
            assert_eq!(finish_position(Some(s)), None, "{s:?}");
        }
    }

    #[test]
    fn instants() {
        let t = off_instant(Some("2025-10-07T20:30:00+01:00")).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-10-07T19:30:00+00:00");
        assert_eq!(off_instant(Some("8:30")), None);
        // British Summer Time, then Greenwich Mean Time.
        let q = uk_local_instant(Some("2025-10-14 13:43:08")).unwrap();
        assert_eq!(q.to_rfc3339(), "2025-10-14T12:43:08+00:00");
        let q = uk_local_instant(Some("2025-12-01 13:00:00")).unwrap();
        assert_eq!(q.to_rfc3339(), "2025-12-01T13:00:00+00:00");
        // The repeated hour takes the earlier instant.
        let q = uk_local_instant(Some("2025-10-26 01:30:00")).unwrap();
        assert_eq!(q.to_rfc3339(), "2025-10-26T00:30:00+00:00");
        assert_eq!(uk_local_instant(Some("")), None);
        let late = off_instant(Some("2025-10-14T23:30:00+00:00"));
        assert_eq!(race_day(None, late), NaiveDate::from_ymd_opt(2025, 10, 15));
    }

    #[test]
    fn odds_prices() {
        assert_eq!(odds_decimal(Some("23")), Some(23.0));
        assert_eq!(odds_decimal(Some("0")), None);
        assert_eq!(odds_decimal(Some("-")), None);
    }

    #[test]
    fn names_and_regions() {
        assert_eq!(name_region("Veraison (IRE)"), Some("IRE"));
        assert_eq!(bare_name("Veraison (IRE)"), ("Veraison", Some("IRE")));
        assert_eq!(bare_name("Zapata I (IRE)"), ("Zapata I", Some("IRE")));
        assert_eq!(bare_name("Raging Raj"), ("Raging Raj", None));
        assert_eq!(jockey_bare_name("Tommie Jakes(5)"), "Tommie Jakes");
        assert_eq!(jockey_bare_name("Kieran O'Neill"), "Kieran O'Neill");
        assert_eq!(name_region("Raging Raj"), None);
        assert_eq!(name_region("Zapata I (IRE)"), Some("IRE"));
        assert_eq!(region_name("gb"), "Great Britain");
        assert_eq!(region_name("IRE"), "Ireland");
    }
}
