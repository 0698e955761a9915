//! `reference`: courses, regions and bookmakers (the original's `update_reference_data.py`).
//! At most 2 API calls.

use async_trait::async_trait;

use super::{Job, JobContext, JobReport, UpdateJob};
use crate::api;
use crate::error::Result;
use crate::model::seed_bookmakers;
use crate::store::ReferenceData;

/// The `reference` job.
pub type Reference = Job<ReferenceOptions>;

/// What a `reference` run fetches: `darkhorses reference`'s flags, or an interval's `args`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceOptions {
    /// Only courses and regions.
    pub courses_only: bool,
    /// Only bookmakers (no API call).
    pub bookmakers_only: bool,
    pub dry_run: bool,
}

impl Reference {
    pub const NAME: &'static str = "reference";
    pub const ABOUT: &'static str = "Courses, regions and bookmakers (monthly). At most 2 API calls";

    /// What this run fetches, in order, from its options alone: courses and regions (an API call
    /// each) unless `--bookmakers-only`, the bookmakers (no call) unless `--courses-only`.
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        if !self.options.bookmakers_only {
            parts.extend([Part::Courses, Part::Regions]);
        }
        if !self.options.courses_only {
            parts.push(Part::Bookmakers);
        }
        parts
    }
}

/// One part of a `reference` run; each counts as one unit done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// `/courses` for `api.regions`.
    Courses,
    /// `/courses/regions`.
    Regions,
    /// The seeded list: there is no bookmakers endpoint.
    Bookmakers,
}

#[async_trait]
impl UpdateJob for Reference {
    super::builtin_job!();

    async fn run(&self, ctx: &JobContext) -> Result<JobReport> {
        let mut report = self.new_report(ctx);
        // Reference data waits behind live and daily, ahead of backfill.
        let ctx = &ctx.at_priority(api::Priority::Reference);
        let regions = &ctx.config.api.regions;
        let mut data = ReferenceData::default();
        for part in self.parts() {
            match part {
                Part::Courses => {
                    let courses = ctx.api()?.courses(regions).await?;
                    data.courses = api::normalize::courses(&courses.body, regions)?;
                    data.responses.push(courses);
                }
                Part::Regions => {
                    let found = ctx.api()?.regions().await?;
                    data.regions = api::normalize::regions(&found.body, regions)?;
                    data.responses.push(found);
                }
                // The seeded list, plus those racecard odds name (written with each racecards unit).
                Part::Bookmakers => data.bookmakers = seed_bookmakers(),
            }
            report.units_done += 1;
        }
        report.entities = (data.courses.len() + data.regions.len() + data.bookmakers.len()) as u64;
        let stats = ctx.writes()?.write_reference(&data).await?;
        ctx.record_writes(&mut report, &stats);
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_follow_the_options() {
        let options =
            |courses_only, bookmakers_only| ReferenceOptions { courses_only, bookmakers_only, dry_run: false };
        let cases = [
            (
                "defaults: courses, regions, then the bookmakers",
                options(false, false),
                vec![Part::Courses, Part::Regions, Part::Bookmakers],
            ),
            ("--courses-only: the two calls", options(true, false), vec![Part::Courses, Part::Regions]),
            ("--bookmakers-only: no call", options(false, true), vec![Part::Bookmakers]),
            // The command line refuses both flags together; the options alone ask for nothing.
            ("both: nothing", options(true, true), vec![]),
        ];
        for (name, options, parts) in cases {
            assert_eq!(Reference { options }.parts(), parts, "{name}");
        }
    }
}
