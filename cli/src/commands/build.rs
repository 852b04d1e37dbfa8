//! `msctl build`: every image the selected services need, built or obtained; nothing started.

use super::StackArgs;
use crate::engine::plan::short_id;
use crate::error::{Error, Result};
use crate::ui::{self, Ui};

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Only the images of these services, and of what they depend on (default: all).
    services: Vec<String>,
    /// Also build for services of this profile.
    #[arg(long = "profile")]
    profiles: Vec<String>,
}

pub async fn exec(args: &BuildArgs, stack: &StackArgs) -> Result<()> {
    let stack = stack.load()?;
    let selected =
        crate::graph::select(&stack, &args.services, &args.profiles).map_err(Error::Usage)?;
    let docker = crate::docker::connect().await?;
    let ui = Ui::new(false).with_names(stack.services.iter().map(|s| s.name.as_str()));
    let problems = crate::images::preflight(&docker, &selected, true, &ui).await;
    if !problems.is_empty() {
        return Err(Error::Preflight { problems });
    }
    let images = tokio::select! {
        r = crate::images::ensure(&docker, &stack, &selected, &ui) => r?,
        _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
    };
    let mut rows: Vec<Vec<String>> = images
        .into_iter()
        .map(|(service, image)| vec![service, image.reference, short_id(&image.id)])
        .collect();
    rows.sort();
    print!("{}", ui::table(&["SERVICE", "IMAGE", "ID"], &rows));
    Ok(())
}
