//! `msctl export compose`: the stack as a Compose file, on stdout or in a file.

use crate::commands::StackArgs;
use crate::error::{Error, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ComposeArgs {
    /// Write here instead of stdout.
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn exec(args: &ComposeArgs, stack: &StackArgs) -> Result<()> {
    let stack = stack.load()?;
    let yaml = crate::export::compose::to_yaml(&stack);
    match &args.output {
        Some(path) => {
            std::fs::write(path, yaml).map_err(Error::io(format!("writing {}", path.display())))?
        }
        None => print!("{yaml}"),
    }
    Ok(())
}
