//! `reference`: courses, regions and bookmakers (the original's `update_reference_data.py`).
//! At most 2 API calls.

use async_trait::async_trait;

use super::{JobContext, JobReport, UpdateJob};
use crate::api;
use crate::error::Result;
use crate::model::seed_bookmakers;
use crate::store::ReferenceData;

/// What a `reference` run fetches: `darkhorses reference`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceOptions {
    /// Only courses and regions.
    pub courses_only: bool,
    /// Only bookmakers (no API call).
    pub bookmakers_only: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Reference {
    pub options: ReferenceOptions,
}

impl Reference {
    pub const NAME: &'static str = "reference";
    pub const ABOUT: &'static str = "Courses, regions and bookmakers (monthly). At most 2 API calls";
}

#[async_trait]
impl UpdateJob for Reference {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn dry_run(&self) -> bool {
        self.options.dry_run
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        // Reference data waits behind live and daily, ahead of backfill.
        let ctx = &ctx.at_priority(api::Priority::Reference);
        let regions = &ctx.config.api.regions;
        let mut data = ReferenceData::default();
        if !self.options.bookmakers_only {
            let api = ctx.api()?;
            let courses = api.courses(regions).await?;
            data.courses = api::normalize::courses(&courses.body, regions)?;
            data.responses.push(courses);
            let found = api.regions().await?;
            data.regions = api::normalize::regions(&found.body, regions)?;
            data.responses.push(found);
            report.units_done += 2;
        }
        if !self.options.courses_only {
            // There is no bookmakers endpoint: the seeded list, plus those racecard odds name
            // (written with each racecards unit).
            data.bookmakers = seed_bookmakers();
            report.units_done += 1;
        }
        report.entities = (data.courses.len() + data.regions.len() + data.bookmakers.len()) as u64;
        let stats = ctx.writes()?.write_reference(&data).await?;
        ctx.record_writes(&mut report, &stats);
        Ok(report)
    }
}
