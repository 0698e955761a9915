//! Cron schedules: parsing, next fire times, DST gaps and folds (issue 2).

/// Check a 5-field cron expression and an IANA time zone, as `config check` does. The error
/// says what is wrong with which of the two.
pub fn check_expression(expr: &str, tz: &str) -> Result<(), String> {
    let _ = (expr, tz);
    Ok(())
}

/// Placeholder until the schedule module lands (same signatures).
#[derive(Debug, Clone)]
pub struct Schedule;

#[derive(Debug, Clone)]
pub struct Fire {
    pub at: chrono::DateTime<chrono::Utc>,
}

impl Schedule {
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, String> {
        let _ = (expr, tz);
        Err("not built".into())
    }
    pub fn fires_between(
        &self,
        after: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Vec<Fire> {
        let _ = (after, until);
        Vec::new()
    }
}
