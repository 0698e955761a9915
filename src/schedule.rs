//! Cron schedules: parsing, next fire times, DST gaps and folds (issue 2).
