//! The HTTP client: base URL, credentials, the shared rate budget and the one retry decision.
//! (Filled in by issue 3; the public signatures below are the contract jobs are written against.)

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Error;
use crate::config::{ApiConfig, Plan, RetryConfig};
use crate::model::RawResponse;

/// `day=` of the racecards endpoints below Pro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Today,
    Tomorrow,
}

/// Counters of every request the client made since it was built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiStats {
    /// HTTP requests sent (each attempt counts).
    pub calls: u64,
    /// Attempts after the first for the same request.
    pub retries: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Attempts that failed (any non-2xx, timeout, dropped connection, malformed body).
    pub errors: u64,
    /// Response body bytes received.
    pub bytes: u64,
    /// Sum of request latencies, milliseconds.
    pub latency_ms_total: u64,
}

/// The Racing API client. Cheap to clone; clones share one rate budget and one set of counters.
#[derive(Debug, Clone)]
pub struct Client {
    plan: Plan,
}

impl Client {
    pub fn new(api: &ApiConfig, retry: &RetryConfig) -> Result<Self, Error> {
        let _ = retry;
        Ok(Self { plan: api.plan })
    }

    pub fn plan(&self) -> Plan {
        self.plan
    }

    pub fn stats(&self) -> ApiStats {
        ApiStats::default()
    }

    /// `GET /courses?region_codes=..`
    pub async fn courses(&self, regions: &[String]) -> Result<RawResponse, Error> {
        let _ = regions;
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /courses/regions`
    pub async fn regions(&self) -> Result<RawResponse, Error> {
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /racecards/pro?date=D&region_codes=..` (Pro).
    pub async fn racecards_pro(
        &self,
        date: NaiveDate,
        regions: &[String],
    ) -> Result<RawResponse, Error> {
        let _ = (date, regions);
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /racecards/{standard|basic|free}?day=today|tomorrow&region_codes=..`, the tier from the plan.
    pub async fn racecards_day(&self, day: Day, regions: &[String]) -> Result<RawResponse, Error> {
        let _ = (day, regions);
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /results?start_date=D&end_date=D&region=..&limit=50&skip=N`, every page.
    pub async fn results(
        &self,
        date: NaiveDate,
        regions: &[String],
    ) -> Result<Vec<RawResponse>, Error> {
        let _ = (date, regions);
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /results/today?region=..`, every page.
    pub async fn results_today(&self, regions: &[String]) -> Result<Vec<RawResponse>, Error> {
        let _ = regions;
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /results/{race_id}`
    pub async fn result(&self, race_id: &str) -> Result<RawResponse, Error> {
        let _ = race_id;
        Err(Error::Config("client not built yet".into()))
    }

    /// `GET /horses/{id}/pro` (Pro), at the lowest priority of the budget.
    pub async fn horse_pro(&self, horse_id: &str) -> Result<RawResponse, Error> {
        let _ = horse_id;
        Err(Error::Config("client not built yet".into()))
    }
}
