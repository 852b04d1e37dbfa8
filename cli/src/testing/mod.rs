//! What every `msctl test …` command shares: where the project's services are ([`targets`]),
//! and the JUnit report CI reads ([`junit`]).

pub mod junit;
pub mod targets;
