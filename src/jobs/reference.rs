//! `reference`: courses, regions and bookmakers (the original's `update_reference_data.py`).
//! At most 2 API calls.

use async_trait::async_trait;

use super::{JobContext, JobReport, UpdateJob};
use crate::api;
use crate::cli::ReferenceArgs;
use crate::error::Result;
use crate::model::seed_bookmakers;
use crate::store::ReferenceData;

#[derive(Debug, Clone, Default)]
pub struct Reference {
    pub args: ReferenceArgs,
}

impl Reference {
    pub const NAME: &'static str = "reference";
}

#[async_trait]
impl UpdateJob for Reference {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = JobReport::new(Self::NAME, ctx.dry_run);
        let store = ctx.store()?;
        let regions = &ctx.config.api.regions;
        let mut data = ReferenceData::default();
        if !self.args.bookmakers_only {
            let api = ctx.api()?;
            let courses = api.courses(regions).await?;
            data.courses = api::normalize::courses(&courses.body, regions)?;
            data.responses.push(courses);
            let found = api.regions().await?;
            data.regions = api::normalize::regions(&found.body, regions)?;
            data.responses.push(found);
            report.units_done += 2;
        }
        if !self.args.courses_only {
            // There is no bookmakers endpoint: the seeded list, plus those racecard odds name
            // (written with each racecards unit).
            data.bookmakers = seed_bookmakers();
            report.units_done += 1;
        }
        report.entities = (data.courses.len() + data.regions.len() + data.bookmakers.len()) as u64;
        let stats = store.write_reference(&data, ctx.dry_run).await?;
        ctx.record_writes(&mut report, &stats);
        Ok(report)
    }
}
