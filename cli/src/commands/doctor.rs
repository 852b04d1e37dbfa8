//! `msctl doctor`: the checks of [`crate::doctor`], as a table or JSON; any problem fails.

use super::{print_json, StackArgs};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Machine-readable checks on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn exec(args: &DoctorArgs, stack: &StackArgs) -> Result<()> {
    // A broken stack file is one of the problems doctor reports, not a reason to stop.
    let stack = stack.load();
    let checks = crate::doctor::run(stack.as_ref().map_err(|e| e.to_string())).await;
    if args.json {
        print_json(&checks);
    } else {
        print!("{}", crate::doctor::render(&checks));
    }
    let problems = checks.iter().filter(|c| !c.ok).count();
    if problems > 0 {
        return Err(Error::Environment(format!(
            "doctor found {problems} problem(s), marked PROBLEM above"
        )));
    }
    Ok(())
}
