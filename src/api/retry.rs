//! The one retry decision (`classify`), capped exponential backoff with full jitter, and
//! `Retry-After` parsing. Pure functions: the client feeds them what happened and obeys.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::RetryConfig;

/// `Retry-After` values below this are raised to it: a server that says "0" still gets a pause.
pub const RETRY_AFTER_FLOOR: Duration = Duration::from_secs(1);
/// `Retry-After` values above this are cut to it: a run never stalls for an hour on one header.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);
/// 429 answers tolerated for one request before giving up (they do not use up attempts).
pub const MAX_RATE_LIMITED_PER_REQUEST: u32 = 20;
/// Characters of an error body kept in a `Rejected` message.
pub const ERROR_BODY_EXCERPT_CHARS: usize = 300;

/// The retry settings the client obeys, from `retry.*` (the seed's `api.max_retries` is resolved
/// into `retry.max_attempts` when the configuration loads: `config::compat`).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included; at least 1.
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
    pub backoff_factor: f64,
    /// Full jitter: each delay is uniform in [0, computed delay].
    pub jitter: bool,
    /// Statuses retried with backoff (429 is always paced instead, see `classify`).
    pub retry_status_codes: Vec<u16>,
}

impl RetryPolicy {
    /// `retry.*` as the client obeys it: at least one attempt, delays never negative or shrinking.
    pub fn from_config(retry: &RetryConfig) -> Self {
        Self {
            max_attempts: retry.max_attempts.max(1),
            initial_delay: secs_to_duration(retry.initial_delay),
            max_delay: secs_to_duration(retry.max_delay),
            backoff_factor: if retry.backoff_factor.is_finite() && retry.backoff_factor >= 1.0 {
                retry.backoff_factor
            } else {
                1.0
            },
            jitter: retry.jitter,
            retry_status_codes: retry.retry_status_codes.clone(),
        }
    }

    /// The delay before retry number `retry` (0 = the first retry), before jitter:
    /// `initial_delay * backoff_factor^retry`, capped at `max_delay`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let initial = self.initial_delay.as_secs_f64();
        let cap = self.max_delay.as_secs_f64();
        // powi with a large exponent gives inf, which min() then caps.
        let exponent = i32::try_from(retry).unwrap_or(i32::MAX);
        let secs = (initial * self.backoff_factor.powi(exponent)).min(cap);
        secs_to_duration(secs)
    }

    /// The delay to actually wait before retry number `retry`: `backoff` with full jitter applied
    /// when enabled.
    pub fn delay(&self, retry: u32) -> Duration {
        let base = self.backoff(retry);
        if self.jitter { full_jitter(base, fastrand::f64()) } else { base }
    }
}

/// Full jitter: `unit` (uniform in [0, 1)) scales the delay.
pub fn full_jitter(delay: Duration, unit: f64) -> Duration {
    delay.mul_f64(unit.clamp(0.0, 1.0))
}

fn secs_to_duration(secs: f64) -> Duration {
    if secs.is_finite() && secs > 0.0 {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    } else {
        Duration::ZERO
    }
}

/// Parses a `Retry-After` header value: delay-seconds (`"120"`, `"1.5"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, read against `now`). A date in the past gives zero.
/// The result is not clamped: see `clamp_retry_after`.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| secs_to_duration(secs));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// Holds a server-given pause between `RETRY_AFTER_FLOOR` and `RETRY_AFTER_CAP`.
pub fn clamp_retry_after(delay: Duration) -> Duration {
    delay.clamp(RETRY_AFTER_FLOOR, RETRY_AFTER_CAP)
}

/// What one HTTP attempt came to, as far as the retry decision needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A response arrived with its whole body.
    Response {
        status: u16,
        /// The parsed (not yet clamped) `Retry-After` header, if any.
        retry_after: Option<Duration>,
        /// For 2xx: whether the body is well-formed JSON.
        body_is_json: bool,
    },
    /// The attempt timed out (connecting, waiting or reading the body).
    Timeout,
    /// The connection failed or dropped before a whole response arrived.
    Connection,
}

/// The decision for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A usable 2xx answer.
    Done,
    /// 429: pace the shared budget for `pause` (already clamped) and try again without using up
    /// an attempt.
    RateLimited { pause: Duration },
    /// Transient failure: try again after at least `at_least` (a clamped `Retry-After`, or zero)
    /// if attempts remain.
    Retry { reason: String, at_least: Duration },
    /// 401/403: credentials rejected or the endpoint is above the plan.
    Unauthorized,
    /// 404.
    NotFound,
    /// 400/422 and any other status not listed as retryable: the request itself is wrong.
    Rejected,
}

/// The one function that decides what is retried.
pub fn classify(outcome: &Outcome, policy: &RetryPolicy) -> Decision {
    match outcome {
        Outcome::Timeout => Decision::Retry { reason: "timed out".into(), at_least: Duration::ZERO },
        Outcome::Connection => {
            Decision::Retry { reason: "connection failed or dropped".into(), at_least: Duration::ZERO }
        }
        Outcome::Response { status, retry_after, body_is_json } => {
            let status = *status;
            match status {
                200..=299 if *body_is_json => Decision::Done,
                200..=299 => Decision::Retry {
                    reason: format!("HTTP {status} with a body that is not valid JSON (truncated or malformed)"),
                    at_least: Duration::ZERO,
                },
                401 | 403 => Decision::Unauthorized,
                404 => Decision::NotFound,
                400 | 422 => Decision::Rejected,
                429 => Decision::RateLimited { pause: clamp_retry_after(retry_after.unwrap_or(RETRY_AFTER_FLOOR)) },
                _ if policy.retry_status_codes.contains(&status) => Decision::Retry {
                    reason: format!("HTTP {status}"),
                    at_least: retry_after.map(clamp_retry_after).unwrap_or(Duration::ZERO),
                },
                _ => Decision::Rejected,
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn policy() -> RetryPolicy {
        RetryPolicy::from_config(&RetryConfig::default())
    }

    fn response(status: u16) -> Outcome {
        Outcome::Response { status, retry_after: None, body_is_json: true }
    }

    #[test]
    fn backoff_grows_by_the_factor_and_is_capped() {
        let p = policy();
        assert_eq!(p.backoff(0), Duration::from_secs(1));
        assert_eq!(p.backoff(1), Duration::from_secs(2));
        assert_eq!(p.backoff(2), Duration::from_secs(4));
        assert_eq!(p.backoff(5), Duration::from_secs(32));
        assert_eq!(p.backoff(6), Duration::from_secs(60));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn full_jitter_stays_within_zero_and_the_delay() {
        let d = Duration::from_secs(8);
        assert_eq!(full_jitter(d, 0.0), Duration::ZERO);
        assert_eq!(full_jitter(d, 0.5), Duration::from_secs(4));
        assert_eq!(full_jitter(d, 7.0), d);
        let p = policy();
        for _ in 0..200 {
            assert!(p.delay(3) <= Duration::from_secs(8));
        }
        let fixed = RetryPolicy { jitter: false, ..policy() };
        assert_eq!(fixed.delay(3), Duration::from_secs(8));
    }

    #[test]
    fn attempts_are_retry_max_attempts_and_never_below_one() {
        let retry = RetryConfig { max_attempts: 3, ..RetryConfig::default() };
        assert_eq!(RetryPolicy::from_config(&retry).max_attempts, 3);
        let none = RetryConfig { max_attempts: 0, ..RetryConfig::default() };
        assert_eq!(RetryPolicy::from_config(&none).max_attempts, 1);
    }

    #[test]
    fn odd_settings_never_give_negative_or_shrinking_delays() {
        let retry =
            RetryConfig { initial_delay: -1.0, max_delay: f64::NAN, backoff_factor: 0.5, ..RetryConfig::default() };
        let p = RetryPolicy::from_config(&retry);
        assert_eq!(p.backoff(3), Duration::ZERO);
        assert_eq!(p.backoff_factor, 1.0);
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 27, 0).single().unwrap_or_default();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("1.5", now), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_is_held_between_floor_and_cap() {
        assert_eq!(clamp_retry_after(Duration::ZERO), RETRY_AFTER_FLOOR);
        assert_eq!(clamp_retry_after(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(clamp_retry_after(Duration::from_secs(3600)), RETRY_AFTER_CAP);
    }

    #[test]
    fn classify_sorts_every_outcome() {
        let p = policy();
        assert_eq!(classify(&response(200), &p), Decision::Done);
        let malformed = Outcome::Response { status: 200, retry_after: None, body_is_json: false };
        assert!(matches!(classify(&malformed, &p), Decision::Retry { .. }));
        for status in [408, 500, 502, 503, 504, 520] {
            assert!(matches!(classify(&response(status), &p), Decision::Retry { .. }), "{status}");
        }
        assert_eq!(classify(&response(401), &p), Decision::Unauthorized);
        assert_eq!(classify(&response(403), &p), Decision::Unauthorized);
        assert_eq!(classify(&response(404), &p), Decision::NotFound);
        assert_eq!(classify(&response(400), &p), Decision::Rejected);
        assert_eq!(classify(&response(422), &p), Decision::Rejected);
        assert_eq!(classify(&response(501), &p), Decision::Rejected);
        assert!(matches!(classify(&Outcome::Timeout, &p), Decision::Retry { .. }));
        assert!(matches!(classify(&Outcome::Connection, &p), Decision::Retry { .. }));
    }

    #[test]
    fn classify_paces_429_and_honours_retry_after_on_5xx() {
        let p = policy();
        assert_eq!(classify(&response(429), &p), Decision::RateLimited { pause: RETRY_AFTER_FLOOR });
        let slow = Outcome::Response { status: 429, retry_after: Some(Duration::from_secs(7)), body_is_json: false };
        assert_eq!(classify(&slow, &p), Decision::RateLimited { pause: Duration::from_secs(7) });
        let huge = Outcome::Response { status: 429, retry_after: Some(Duration::from_secs(9999)), body_is_json: false };
        assert_eq!(classify(&huge, &p), Decision::RateLimited { pause: RETRY_AFTER_CAP });
        let busy = Outcome::Response { status: 503, retry_after: Some(Duration::from_secs(3)), body_is_json: false };
        assert!(matches!(classify(&busy, &p), Decision::Retry { at_least, .. } if at_least == Duration::from_secs(3)));
    }

    #[test]
    fn statuses_left_out_of_the_list_are_not_retried() {
        let p = RetryPolicy { retry_status_codes: vec![503], ..policy() };
        assert_eq!(classify(&response(500), &p), Decision::Rejected);
        assert!(matches!(classify(&response(503), &p), Decision::Retry { .. }));
        // 401 stays fatal even if someone lists it.
        let odd = RetryPolicy { retry_status_codes: vec![401], ..policy() };
        assert_eq!(classify(&response(401), &odd), Decision::Unauthorized);
    }
}
