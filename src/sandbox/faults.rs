//! Fault injection, the rate limit and the request counts of the sandbox: what goes wrong on
//! purpose, how often, and how every request is counted.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::world::{Rng, mix};
use crate::config::FaultsConfig;

/// Parse `--fault 5xx=0.2,429=0.1,slow=0.05,malformed=0.02,truncated=0.01,dropped=0.01`
/// (also `slow_ms=3000` and `fail_date=YYYY-MM-DD`). Errors name the item that is wrong.
pub fn parse_faults(spec: &str) -> Result<FaultsConfig, String> {
    let mut f = FaultsConfig::default();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return Err(format!("fault item `{item}` has no `=`; write it as KIND=SHARE, e.g. 5xx=0.2"));
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "slow_ms" => {
                f.slow_ms = value.parse().map_err(|_| {
                    format!("fault item `{item}`: slow_ms must be whole milliseconds, e.g. slow_ms=3000")
                })?;
                continue;
            }
            "fail_date" => {
                chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
                    .map_err(|_| format!("fault item `{item}`: fail_date must be YYYY-MM-DD"))?;
                f.fail_dates.push(value.to_string());
                continue;
            }
            _ => {}
        }
        let share: f64 = value
            .parse()
            .map_err(|_| format!("fault item `{item}`: `{value}` is not a number; give a share between 0 and 1"))?;
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("fault item `{item}`: the share must be between 0 and 1"));
        }
        let slot = match key {
            "5xx" => &mut f.server_error,
            "429" => &mut f.too_many_requests,
            "slow" => &mut f.slow,
            "truncated" => &mut f.truncated,
            "malformed" => &mut f.malformed,
            "dropped" => &mut f.dropped,
            other => {
                return Err(format!(
                    "fault item `{item}`: unknown kind `{other}`; use 5xx, 429, slow, truncated, malformed, dropped, slow_ms or fail_date"
                ));
            }
        };
        *slot = share;
    }
    let total = total_share(&f);
    if total > 1.0 + 1e-9 {
        return Err(format!("fault shares in `{spec}` add up to {total}; the total must be at most 1"));
    }
    Ok(f)
}

fn total_share(f: &FaultsConfig) -> f64 {
    f.server_error + f.too_many_requests + f.slow + f.truncated + f.malformed + f.dropped
}

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    ServerError(u16),
    TooManyRequests,
    Slow(Duration),
    Truncated,
    Malformed,
    Dropped,
}

impl Fault {
    pub fn name(self) -> Option<&'static str> {
        match self {
            Fault::None => None,
            Fault::ServerError(_) => Some("5xx"),
            Fault::TooManyRequests => Some("429"),
            Fault::Slow(_) => Some("slow"),
            Fault::Truncated => Some("truncated"),
            Fault::Malformed => Some("malformed"),
            Fault::Dropped => Some("dropped"),
        }
    }
}

/// The fault for request number `n`: the same seed and counter always give the same fault.
pub fn decide(f: &FaultsConfig, seed: u64, n: u64) -> Fault {
    if total_share(f) <= 0.0 {
        return Fault::None;
    }
    let mut r = Rng::new(mix(seed ^ 0xFA17, n));
    let x = r.f64();
    let mut edge = 0.0;
    let table = [
        (f.server_error, Fault::ServerError(*r.pick(&[500, 502, 503]))),
        (f.too_many_requests, Fault::TooManyRequests),
        (f.slow, Fault::Slow(Duration::from_millis(f.slow_ms))),
        (f.truncated, Fault::Truncated),
        (f.malformed, Fault::Malformed),
        (f.dropped, Fault::Dropped),
    ];
    for (share, fault) in table {
        edge += share;
        if x < edge {
            return fault;
        }
    }
    Fault::None
}

/// A valid prefix of a JSON body, cut in the middle.
pub fn truncate(body: &[u8]) -> Vec<u8> {
    body[..(body.len() / 2).max(1).min(body.len())].to_vec()
}

/// A body that is not JSON: the first `:` becomes `;`.
pub fn malform(body: &[u8]) -> Vec<u8> {
    let mut out = body.to_vec();
    match out.iter().position(|&b| b == b':') {
        Some(i) => out[i] = b';',
        None => out.extend_from_slice(b"}}"),
    }
    out
}

/// The rate limit: at most `n` accepted requests in any window of `window` (a sliding window
/// over arrival times). `rate <= 0` means no limit.
#[derive(Debug)]
pub struct RateLimiter {
    n: usize,
    window_us: u64,
    accepted: VecDeque<u64>,
}

impl RateLimiter {
    pub fn new(rate: f64) -> Self {
        if rate.is_nan() || rate <= 0.0 || !rate.is_finite() {
            return Self { n: usize::MAX, window_us: 1_000_000, accepted: VecDeque::new() };
        }
        if rate >= 1.0 {
            Self { n: rate.floor() as usize, window_us: 1_000_000, accepted: VecDeque::new() }
        } else {
            Self { n: 1, window_us: (1_000_000.0 / rate) as u64, accepted: VecDeque::new() }
        }
    }

    /// Admit a request arriving at `now_us`, or say after how many whole seconds to retry.
    pub fn admit(&mut self, now_us: u64) -> Result<(), u64> {
        while self.accepted.front().is_some_and(|&t| t + self.window_us <= now_us) {
            self.accepted.pop_front();
        }
        if self.accepted.len() < self.n {
            self.accepted.push_back(now_us);
            return Ok(());
        }
        let oldest = self.accepted.front().copied().unwrap_or(now_us);
        let wait_us = (oldest + self.window_us).saturating_sub(now_us);
        Err(wait_us.div_ceil(1_000_000).max(1))
    }
}

/// What `/_sandbox/stats` serves and `Sandbox::stats` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxStats {
    /// Every request counted (all `/v1` paths, including those answered 401, 404 or 429).
    pub total: u64,
    /// Path template (`/v1/results`, `/v1/results/{race_id}`; `(unmatched)` for unknown paths)
    /// to HTTP status to count.
    pub by_endpoint: BTreeMap<String, BTreeMap<String, u64>>,
    /// The most requests that arrived within any 1-second window (429s included).
    pub max_in_any_1s_window: u64,
    /// Injected faults by kind (`5xx`, `429`, `slow`, `truncated`, `malformed`, `dropped`); a
    /// truncated, malformed or dropped response is counted under its status (200) above too.
    pub faults: BTreeMap<String, u64>,
    /// Requests refused by the rate limit (429 with `Retry-After`), not counting injected 429s.
    pub rate_limited: u64,
    /// With `?arrivals=1`: when these stats were taken, microseconds since the sandbox started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now_us: Option<u64>,
    /// With `?arrivals=1`: every request's arrival, microseconds since the sandbox started, in
    /// order (what `max_in_any_1s_window` is computed from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrivals_us: Option<Vec<u64>>,
}

/// The running counts behind [`SandboxStats`].
#[derive(Debug, Default)]
pub struct Counter {
    stats: SandboxStats,
    arrivals_us: Vec<u64>,
}

impl Counter {
    pub fn arrive(&mut self, now_us: u64) {
        self.arrivals_us.push(now_us);
    }
    pub fn served(&mut self, endpoint: &str, status: u16, fault: Option<&str>, rate_limited: bool) {
        self.stats.total += 1;
        *self.stats.by_endpoint.entry(endpoint.to_string()).or_default().entry(status.to_string()).or_default() += 1;
        if let Some(f) = fault {
            *self.stats.faults.entry(f.to_string()).or_default() += 1;
        }
        if rate_limited {
            self.stats.rate_limited += 1;
        }
    }
    pub fn reset(&mut self) {
        *self = Self::default();
    }
    pub fn snapshot(&self) -> SandboxStats {
        let mut s = self.stats.clone();
        s.max_in_any_1s_window = max_in_window(&self.arrivals_us, 1_000_000);
        s
    }

    /// [`Counter::snapshot`] with the arrival times and `now_us`.
    pub fn snapshot_with_arrivals(&self, now_us: u64) -> SandboxStats {
        SandboxStats { now_us: Some(now_us), arrivals_us: Some(self.arrivals_us.clone()), ..self.snapshot() }
    }
}

/// The most timestamps (sorted ascending) inside any half-open window `[t, t + window)`.
pub fn max_in_window(sorted_us: &[u64], window_us: u64) -> u64 {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..sorted_us.len() {
        while sorted_us[hi] >= sorted_us[lo] + window_us {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_spec() {
        let f = parse_faults("5xx=0.2,429=0.1,slow=0.05,malformed=0.02,truncated=0.01,dropped=0.01")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.server_error, 0.2);
        assert_eq!(f.too_many_requests, 0.1);
        assert_eq!(f.slow, 0.05);
        assert_eq!(f.malformed, 0.02);
        assert_eq!(f.truncated, 0.01);
        assert_eq!(f.dropped, 0.01);
        let f = parse_faults("slow=1,slow_ms=20,fail_date=2025-10-07").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(f.slow_ms, 20);
        assert_eq!(f.fail_dates, vec!["2025-10-07".to_string()]);
    }

    #[test]
    fn errors_name_the_bad_item() {
        let e = parse_faults("5xx=0.2,bogus=0.1").err().unwrap_or_default();
        assert!(e.contains("bogus=0.1"), "{e}");
        let e = parse_faults("5xx=lots").err().unwrap_or_default();
        assert!(e.contains("5xx=lots"), "{e}");
        let e = parse_faults("429").err().unwrap_or_default();
        assert!(e.contains("`429`"), "{e}");
        let e = parse_faults("5xx=0.7,429=0.6").err().unwrap_or_default();
        assert!(e.contains("at most 1"), "{e}");
    }

    #[test]
    fn faults_are_deterministic_and_near_their_shares() {
        let f = parse_faults("5xx=0.2,429=0.1").unwrap_or_default();
        let a: Vec<Fault> = (0..10_000).map(|n| decide(&f, 9, n)).collect();
        let b: Vec<Fault> = (0..10_000).map(|n| decide(&f, 9, n)).collect();
        assert_eq!(a, b);
        let errors = a.iter().filter(|x| matches!(x, Fault::ServerError(_))).count();
        assert!((1800..2200).contains(&errors), "{errors}");
        assert_eq!(decide(&FaultsConfig::default(), 9, 1), Fault::None);
    }

    #[test]
    fn limiter_allows_n_per_window() {
        let mut l = RateLimiter::new(2.0);
        assert!(l.admit(0).is_ok());
        assert!(l.admit(100).is_ok());
        assert_eq!(l.admit(200), Err(1));
        assert!(l.admit(1_000_000).is_ok());
        let mut slow = RateLimiter::new(0.5);
        assert!(slow.admit(0).is_ok());
        assert_eq!(slow.admit(10), Err(2));
    }

    #[test]
    fn window_counts() {
        assert_eq!(max_in_window(&[0, 500_000, 1_000_000, 1_400_000], 1_000_000), 3);
        assert_eq!(max_in_window(&[0, 500_000, 1_000_000], 1_000_000), 2);
        assert_eq!(max_in_window(&[], 1_000_000), 0);
    }

    #[test]
    fn broken_bodies_do_not_parse() {
        let body = br#"{"total": 1, "results": []}"#;
        assert!(serde_json::from_slice::<serde_json::Value>(&truncate(body)).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(&malform(body)).is_err());
    }
}
