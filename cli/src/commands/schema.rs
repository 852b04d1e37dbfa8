//! `msctl schema`: the JSON Schema of a file msctl reads, for editors.

use super::print_json;
use crate::error::Result;
use clap::ValueEnum;

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    #[arg(value_enum, default_value_t = SchemaKind::Stack)]
    kind: SchemaKind,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaKind {
    /// msctl.yaml
    Stack,
    /// scenarios/*.yaml
    Journey,
    /// loadtests/*.yaml
    Load,
}

pub fn exec(args: &SchemaArgs) -> Result<()> {
    match args.kind {
        SchemaKind::Stack => print_json(&crate::stack::json_schema()),
        SchemaKind::Journey => print_json(&crate::journeys::json_schema()),
        SchemaKind::Load => print_json(&crate::load::profile::json_schema()),
    }
    Ok(())
}
