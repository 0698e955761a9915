//! Optional horse enrichment (`features.enrich_horses`, Pro plan): after their data units, `daily`
//! and `backfill` fetch `/horses/{id}/pro` for horses stored without dob, colour or breeder, up to
//! `features.enrich_horses_per_run` a run, at the budget's lowest priority.
//!
//! Enrichment is best effort. A horse whose profile cannot be fetched or read (404, retries used
//! up, an unusable body) is counted in a note and tried again on a later run; it does not fail the
//! run, because the run's data (races, runners, results) is complete without it. Rejected
//! credentials (401/403) and settings errors are fatal as everywhere else. A cancel stops it
//! between horses, keeping what was fetched.

use futures_util::StreamExt;

use super::{JobContext, JobReport};
use crate::api;
use crate::config::Plan;
use crate::error::Result;
use crate::model::{Horse, RawResponse};

/// Profiles requested at once. The budget paces them; a few in flight keep it busy.
pub const PROFILES_IN_FLIGHT: usize = 4;
/// Profiles written per transaction, so a cancel or a crash loses at most this many.
pub const PROFILES_PER_WRITE: usize = 50;
/// Failed horses named in the note; the rest are counted.
const FAILURES_NAMED: usize = 3;

/// What one enrichment pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrichOutcome {
    /// Horses that needed a profile (at most the cap).
    pub wanted: u64,
    /// Profiles fetched and normalised.
    pub fetched: u64,
    /// Horses whose profile could not be fetched or read.
    pub failed: u64,
}

/// Enrich horses if `features.enrich_horses` is on, recording what happened in `report`: the
/// horses' writes in `rows`, one note with the counts (and the failures, if any). Below the Pro
/// plan it notes once that nothing was requested and makes no call.
pub async fn enrich_horses(ctx: &JobContext, report: &mut JobReport) -> Result<EnrichOutcome> {
    let features = &ctx.config.features;
    let mut outcome = EnrichOutcome::default();
    if !features.enrich_horses || features.enrich_horses_per_run == 0 || ctx.cancel.is_cancelled() {
        return Ok(outcome);
    }
    let plan = ctx.config.api.plan;
    if plan < Plan::Pro {
        let note = format!(
            "horse enrichment skipped: features.enrich_horses needs /horses/{{id}}/pro, which needs the Pro plan, \
             and api.plan is {}; no profile was requested (set api.plan: pro if the account has it, or turn \
             features.enrich_horses off)",
            api::plan::plan_name(plan)
        );
        if !report.notes.contains(&note) {
            tracing::warn!("{note}");
            report.notes.push(note);
        }
        return Ok(outcome);
    }
    let store = ctx.store()?.clone();
    let client = ctx.api()?.clone();
    let ids = store.horses_needing_enrichment(features.enrich_horses_per_run).await?;
    outcome.wanted = ids.len() as u64;
    if ids.is_empty() {
        return Ok(outcome);
    }
    tracing::info!(horses = ids.len(), "enriching {} horses with /horses/{{id}}/pro profiles", ids.len());

    let mut profiles = futures_util::stream::iter(ids.into_iter().map(|id| {
        let client = client.clone();
        async move {
            let fetched = client.horse_pro(&id).await;
            let horse = fetched.and_then(|raw| api::normalize::horse_pro(&raw.body).map(|h| (h, raw)));
            (id, horse)
        }
    }))
    .buffered(PROFILES_IN_FLIGHT);

    let mut horses: Vec<Horse> = Vec::new();
    let mut responses: Vec<RawResponse> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    let mut fatal = None;
    while let Some((id, fetched)) = profiles.next().await {
        match fetched {
            Ok((horse, raw)) => {
                outcome.fetched += 1;
                horses.push(horse);
                responses.push(raw);
                if horses.len() >= PROFILES_PER_WRITE {
                    write(ctx, &mut horses, &mut responses, report).await?;
                }
            }
            Err(api::Error::Cancelled) => break,
            Err(e) if e.is_fatal() => {
                fatal = Some(e);
                break;
            }
            Err(e) => {
                tracing::warn!(horse = %id, error = %e, "horse profile not enriched");
                outcome.failed += 1;
                if failures.len() < FAILURES_NAMED {
                    failures.push(format!("{id}: {e}"));
                }
            }
        }
        // Stop between horses on a cancel; profiles already fetched are kept.
        if ctx.cancel.is_cancelled() {
            break;
        }
    }
    drop(profiles);
    write(ctx, &mut horses, &mut responses, report).await?;
    if let Some(e) = fatal {
        return Err(e.into());
    }

    let verb = if ctx.dry_run { "would enrich" } else { "enriched" };
    let mut note = format!(
        "horse enrichment: {verb} {} of {} horses lacking dob, colour or breeder (cap features.enrich_horses_per_run = {})",
        outcome.fetched, outcome.wanted, features.enrich_horses_per_run
    );
    if outcome.failed > 0 {
        note.push_str(&format!(
            "; {} profiles failed and are retried next run ({}{})",
            outcome.failed,
            failures.join("; "),
            if outcome.failed as usize > failures.len() { "; ..." } else { "" }
        ));
    }
    let left = outcome.wanted - outcome.fetched - outcome.failed;
    if left > 0 {
        note.push_str(&format!("; {left} not requested because the run was cancelled"));
    }
    tracing::info!("{note}");
    report.notes.push(note);
    Ok(outcome)
}

/// Write the profiles gathered so far (or, in a dry run, count what would be written).
async fn write(
    ctx: &JobContext,
    horses: &mut Vec<Horse>,
    responses: &mut Vec<RawResponse>,
    report: &mut JobReport,
) -> Result<()> {
    if horses.is_empty() {
        return Ok(());
    }
    let stats = ctx.writes()?.write_horses(horses, responses).await?;
    ctx.record_writes(report, &stats);
    horses.clear();
    responses.clear();
    Ok(())
}
