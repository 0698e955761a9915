//! Per-job exclusive locks that die with their process (issue 2).
