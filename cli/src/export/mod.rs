//! The stack in other tools' formats, one module per format. Each is built from typed structs
//! of the target format, so what can be written is what the format says.

pub mod compose;
