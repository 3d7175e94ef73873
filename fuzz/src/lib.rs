//! The oracles of `tests/oracle.rs`, shared with the integration tests.

include!("../../tests/oracle.rs");
