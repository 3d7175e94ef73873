//! Trace-driven evaluation of the policies, as library functions so that the CLI's `bench`
//! commands, the tests and anyone else run the same replays.

pub mod adaptive;
pub mod prefetch;
