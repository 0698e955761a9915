//! A simulated Racing API on loopback: for trying the tool, tests and benchmarks (issue 3).
