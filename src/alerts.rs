//! Alerts: a persisted state per subject in `alert_state` (an interval or job, `stale_data`,
//! `missed:<interval>`), moved by every recorded run ([`after_run`], from the runner) and by every
//! `health` run ([`observe`]): `ok` -> `failing` after `alerts.thresholds.consecutive_failures`
//! failed runs in a row, or one run that got through but with an API error share above
//! `api_error_rate` (retried 5xx, timeouts), or a stale or missed-slot finding; `failing` -> `ok`
//! with one recovery notice (a successful run; a health finding that cleared). An alert is sent once when a
//! subject starts failing and repeated at most every `cooldown_minutes` while it stays failing.
//!
//! Channels (`alerts.channels`): the log always; `webhook:URL` (a JSON POST; Slack's
//! `{"text": ...}` when the host is hooks.slack.com); `email:ADDRESS` (SMTP through
//! `alerts.smtp`, STARTTLS by default). A channel that fails is logged and never fails the job;
//! a state that cannot be read or saved is logged too.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{AlertsConfig, Config, SmtpTls};
use crate::store::{AlertState, FinishedJobRun, RunStatus, Store};

/// How long one channel may take to deliver.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

const OK: &str = "ok";
const FAILING: &str = "failing";

/// What changed for a subject, and so what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// It started failing.
    Failing,
    /// Still failing, past the cooldown since the last alert.
    Repeat,
    /// It was failing and is fine again.
    Recovered,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Failing => "failing",
            Kind::Repeat => "still failing",
            Kind::Recovered => "recovered",
        }
    }
}

/// One alert to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notice {
    pub subject: String,
    pub kind: Kind,
    pub message: String,
    pub at: DateTime<Utc>,
}

impl Notice {
    /// One line: `darkhorses alert: daily failing: daily failed 3 runs in a row; last: ...`.
    pub fn text(&self) -> String {
        format!("darkhorses alert: {} {}: {}", self.subject, self.kind.as_str(), self.message)
    }
}

/// The next state of a subject and the notice to send, if any. `problem`: what is wrong now
/// (`None`: nothing); `recovered`: the subject is positively fine (a successful run; a health
/// finding that cleared), which ends a failing state.
pub fn decide(
    state: &AlertState,
    problem: Option<&str>,
    recovered: bool,
    now: DateTime<Utc>,
    cooldown: chrono::Duration,
) -> (AlertState, Option<Notice>) {
    let mut next = state.clone();
    let notice =
        |kind, message: &str| Notice { subject: state.key.clone(), kind, message: message.to_string(), at: now };
    let failing = state.state == FAILING;
    match problem {
        Some(message) if !failing => {
            next.state = FAILING.into();
            next.last_alert_at = Some(now);
            (next, Some(notice(Kind::Failing, message)))
        }
        Some(message) => {
            let due = state.last_alert_at.is_none_or(|at| now - at >= cooldown);
            if due {
                next.last_alert_at = Some(now);
                (next, Some(notice(Kind::Repeat, message)))
            } else {
                (next, None)
            }
        }
        None if failing && recovered => {
            next.state = OK.into();
            next.last_alert_at = Some(now);
            (next, Some(notice(Kind::Recovered, "back to normal")))
        }
        None => (next, None),
    }
}

/// After a run's `job_runs` row ended: count the failures in a row of `name` (the interval or
/// job), and alert as [`decide`] says. Dry runs are not followed.
pub async fn after_run(config: &Config, store: &dyn Store, name: &str, run: &FinishedJobRun) {
    let failed = matches!(run.status, RunStatus::Failed | RunStatus::TimedOut | RunStatus::Partial);
    let Some(stored) = load(store, name).await else { return };
    let mut state = stored.clone();
    state.consecutive_failures = if failed { state.consecutive_failures + 1 } else { 0 };
    let thresholds = &config.alerts.thresholds;
    let share = if run.api_calls > 0 { run.api_errors as f64 / run.api_calls as f64 } else { 0.0 };
    let error = run.error.as_deref().map(|e| format!("; last error: {e}")).unwrap_or_default();
    // A failed run counts towards the failures in a row (an API that is down fails every call, so
    // its share would make the threshold moot); the error share judges runs that got through.
    let problem = if failed {
        (state.consecutive_failures >= i64::from(thresholds.consecutive_failures.max(1))).then(|| {
            format!("{name} failed {} runs in a row ({}){error}", state.consecutive_failures, run.status.as_str())
        })
    } else if share > thresholds.api_error_rate {
        Some(format!(
            "{name}: {} of {} API calls failed in one run ({:.0}%), above alerts.thresholds.api_error_rate ({:.0}%){error}",
            run.api_errors,
            run.api_calls,
            share * 100.0,
            thresholds.api_error_rate * 100.0
        ))
    } else {
        None
    };
    let recovered = run.status == RunStatus::Succeeded && problem.is_none();
    apply(config, store, &stored, state, problem.as_deref(), recovered, run.finished_at).await;
}

/// A health finding for `key` (`stale_data`, `missed:<interval>`): `problem` when it is wrong now,
/// `None` when it is fine (which recovers a failing alert).
pub async fn observe(config: &Config, store: &dyn Store, now: DateTime<Utc>, key: &str, problem: Option<&str>) {
    let Some(state) = load(store, key).await else { return };
    apply(config, store, &state.clone(), state, problem, problem.is_none(), now).await;
}

/// The stored state of `key`, or a fresh `ok` one; `None` (logged) when it cannot be read.
async fn load(store: &dyn Store, key: &str) -> Option<AlertState> {
    match store.alert_state(key).await {
        Ok(state) => Some(state.unwrap_or_else(|| AlertState {
            key: key.to_string(),
            state: OK.into(),
            consecutive_failures: 0,
            last_alert_at: None,
        })),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the alert state of {key}; no alert decided");
            None
        }
    }
}

/// Decide from `state` (the `stored` one with this run counted), save what changed, send.
async fn apply(
    config: &Config,
    store: &dyn Store,
    stored: &AlertState,
    state: AlertState,
    problem: Option<&str>,
    recovered: bool,
    now: DateTime<Utc>,
) {
    let cooldown = chrono::Duration::minutes(i64::from(config.alerts.cooldown_minutes));
    let (next, notice) = decide(&state, problem, recovered, now, cooldown);
    if next != *stored
        && let Err(e) = store.save_alert_state(&next).await
    {
        // Saving failed: sending anyway could repeat the alert at every run, so nothing is sent.
        tracing::warn!(error = %e, "could not save the alert state of {}; alert not sent", next.key);
        return;
    }
    if let Some(notice) = notice {
        send(&config.alerts, &notice).await;
    }
}

/// Send `notice` to the log and every configured channel. Never fails: a channel that does is
/// logged.
pub async fn send(alerts: &AlertsConfig, notice: &Notice) {
    let text = notice.text();
    if !alerts.enabled {
        tracing::info!(alert.subject = %notice.subject, "{text} (alerts.enabled is false: not sent)");
        return;
    }
    match notice.kind {
        Kind::Recovered => tracing::info!(alert.subject = %notice.subject, alert.kind = "recovered", "{text}"),
        kind => tracing::error!(alert.subject = %notice.subject, alert.kind = kind.as_str(), "{text}"),
    }
    for channel in &alerts.channels {
        let outcome = if let Some(url) = channel.strip_prefix("webhook:") {
            webhook(url, notice).await
        } else if let Some(address) = channel.strip_prefix("email:") {
            email(alerts, address, notice).await
        } else {
            Ok(())
        };
        if let Err(e) = outcome {
            tracing::warn!(alert.subject = %notice.subject, "alert channel {} failed: {e}", redact(channel));
        }
    }
}

/// A channel as it may be logged: a webhook URL's path can be its secret (Slack's is), so only
/// the scheme and host are shown.
fn redact(channel: &str) -> String {
    match channel.strip_prefix("webhook:").and_then(|u| reqwest::Url::parse(u).ok()) {
        Some(url) => format!("webhook:{}://{}/...", url.scheme(), url.host_str().unwrap_or_default()),
        None => channel.to_string(),
    }
}

/// The JSON a webhook receives: Slack's incoming-webhook shape for hooks.slack.com, else the notice.
pub fn webhook_body(url: &reqwest::Url, notice: &Notice) -> serde_json::Value {
    if url.host_str() == Some("hooks.slack.com") {
        serde_json::json!({ "text": notice.text() })
    } else {
        serde_json::json!({
            "source": "darkhorses",
            "subject": notice.subject,
            "kind": notice.kind,
            "message": notice.message,
            "at": notice.at,
            "text": notice.text(),
        })
    }
}

async fn webhook(url: &str, notice: &Notice) -> Result<(), String> {
    let url = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let client = reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.post(url.clone()).json(&webhook_body(&url, notice)).send().await.map_err(|e| {
        // reqwest names the URL; keep only what redact shows.
        let e = e.without_url();
        format!("POST failed: {e}")
    })?;
    let status = response.status();
    if status.is_success() { Ok(()) } else { Err(format!("the receiver answered HTTP {}", status.as_u16())) }
}

async fn email(alerts: &AlertsConfig, address: &str, notice: &Notice) -> Result<(), String> {
    use lettre::message::{Mailbox, header::ContentType};
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

    let smtp = &alerts.smtp;
    let from: Mailbox = smtp.from.parse().map_err(|e| format!("alerts.smtp.from `{}`: {e}", smtp.from))?;
    let to: Mailbox = address.parse().map_err(|e| format!("`{address}` is not an address: {e}"))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(format!("[darkhorses] {} {}", notice.subject, notice.kind.as_str()))
        .header(ContentType::TEXT_PLAIN)
        .body(format!("{}\n\nat {}\n", notice.text(), notice.at.to_rfc3339()))
        .map_err(|e| format!("could not build the message: {e}"))?;
    let server = smtp.server.trim();
    let builder = match smtp.tls {
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(server),
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(server),
        SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server)),
    }
    .map_err(|e| format!("alerts.smtp.server `{server}`: {e}"))?;
    let mut builder = builder.port(smtp.port).timeout(Some(SEND_TIMEOUT));
    if !smtp.username.is_empty() {
        builder = builder.credentials(Credentials::new(smtp.username.clone(), smtp.password.expose().to_string()));
    }
    let transport = builder.build();
    let sent = tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await;
    match sent {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("SMTP to {server}:{}: {e}", smtp.port)),
        Err(_) => Err(format!("SMTP to {server}:{}: no answer within {}s", smtp.port, SEND_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_alert_is_sent_once_repeated_after_the_cooldown_and_recovers_once() {
        let cooldown = chrono::Duration::minutes(60);
        let fresh = AlertState { key: "daily".into(), state: OK.into(), consecutive_failures: 3, last_alert_at: None };
        let (s1, n1) =
            decide(&fresh, Some("daily failed 3 runs in a row"), false, at("2026-06-10T10:00:00Z"), cooldown);
        assert_eq!(n1.map(|n| n.kind), Some(Kind::Failing));
        assert_eq!(s1.state, FAILING);
        let (s2, n2) = decide(&s1, Some("daily failed 4 runs in a row"), false, at("2026-06-10T10:30:00Z"), cooldown);
        assert_eq!(n2, None, "inside the cooldown");
        let (s3, n3) = decide(&s2, Some("daily failed 5 runs in a row"), false, at("2026-06-10T11:00:00Z"), cooldown);
        assert_eq!(n3.map(|n| n.kind), Some(Kind::Repeat));
        let (s4, n4) = decide(&s3, None, true, at("2026-06-10T11:05:00Z"), cooldown);
        assert_eq!(n4.map(|n| n.kind), Some(Kind::Recovered));
        assert_eq!(s4.state, OK);
        let (_, n5) = decide(&s4, None, true, at("2026-06-10T11:10:00Z"), cooldown);
        assert_eq!(n5, None, "one recovery notice");
        // A failure below the threshold while failing neither recovers nor alerts.
        let (_, n6) = decide(&s3, None, false, at("2026-06-10T11:05:00Z"), cooldown);
        assert_eq!(n6, None);
    }

    #[test]
    fn slack_gets_its_own_shape_and_logged_channels_hide_the_path() {
        let notice = Notice {
            subject: "daily".into(),
            kind: Kind::Failing,
            message: "x".into(),
            at: at("2026-06-10T10:00:00Z"),
        };
        let slack = reqwest::Url::parse("https://hooks.slack.com/services/T0/B0/secret").unwrap();
        assert_eq!(webhook_body(&slack, &notice), serde_json::json!({"text": "darkhorses alert: daily failing: x"}));
        let other = reqwest::Url::parse("http://127.0.0.1:9/hook").unwrap();
        assert_eq!(webhook_body(&other, &notice)["kind"], "failing");
        assert_eq!(
            redact("webhook:https://hooks.slack.com/services/T0/B0/secret"),
            "webhook:https://hooks.slack.com/..."
        );
    }
}
