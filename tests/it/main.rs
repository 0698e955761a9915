//! The one integration-test binary: each module tests one area against real files, servers and databases.

mod fixtures;
