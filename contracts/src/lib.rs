//! Consumer-driven contracts of the reference shop (docs/contracts.md).
//!
//! Nothing lives in the library: the consumer tests are `tests/consumers/`, one module per
//! consumer → provider pair, and they write the Pact files in `contracts/pacts/` (committed).
//! `msctl test contracts` runs them, then verifies every provider against those files.
