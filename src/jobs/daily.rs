//! `daily`: racecards for the next days and results for the last days (the original's
//! `update_daily_data.py`); `--weekly` is the reconciliation that catches amended results.

use async_trait::async_trait;
use chrono::Days;

use super::units::{UnitKey, run_units};
use super::{JobContext, JobReport, Progress, UpdateJob};
use crate::cli::DailyArgs;
use crate::error::Result;
use crate::model::Kind;

/// Days of results `--weekly` reconciles.
pub const WEEKLY_DAYS_BACK: u32 = 7;

#[derive(Debug, Clone, Default)]
pub struct Daily {
    pub args: DailyArgs,
}

impl Daily {
    pub const NAME: &'static str = "daily";

    /// The units this run fetches when today is `today`: racecards from tomorrow to today+N,
    /// then results from yesterday back N days.
    pub fn plan(&self, ctx: &JobContext) -> Vec<UnitKey> {
        let today = ctx.clock.racing_day();
        let features = &ctx.config.features;
        let mut keys = Vec::new();
        if !self.args.results_only && !features.skip_racecards {
            for ahead in 1..=u64::from(self.args.days_ahead) {
                if let Some(date) = today.checked_add_days(Days::new(ahead)) {
                    keys.push(UnitKey {
                        kind: Kind::Racecards,
                        date,
                    });
                }
            }
        }
        if !self.args.racecards_only && !features.skip_results {
            let back = if self.args.weekly {
                WEEKLY_DAYS_BACK
            } else {
                self.args.days_back
            };
            for behind in 1..=u64::from(back) {
                if let Some(date) = today.checked_sub_days(Days::new(behind)) {
                    keys.push(UnitKey {
                        kind: Kind::Results,
                        date,
                    });
                }
            }
        }
        keys
    }
}

#[async_trait]
impl UpdateJob for Daily {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        let keys = self.plan(ctx);
        tracing::info!(units = keys.len(), "daily: {} units", keys.len());
        run_units(ctx, keys, &mut report, &Progress::hidden()).await?;
        Ok(report)
    }
}
