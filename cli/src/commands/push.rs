//! `msctl push`: the images msctl builds, pushed to a registry, their digests recorded for
//! `export k8s --registry`.

use super::StackArgs;
use crate::error::{Error, Result};
use crate::images::pushed::{self, record_path, Pushed};
use crate::stack::ImageSource;
use crate::ui::{self, Ui};
use std::collections::BTreeMap;

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Only these services (default: every service msctl builds).
    services: Vec<String>,
    /// The registry to push to: `HOST[:PORT][/PATH]`. Images go to
    /// `<registry>/<project>/<service>`, tagged with their content. For a registry on this
    /// machine say 127.0.0.1:PORT (the engine pushes to 127.0.0.0/8 over plain HTTP).
    #[arg(long)]
    registry: String,
    /// Also services of this profile.
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Print what was pushed as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn exec(args: &PushArgs, stack_args: &StackArgs) -> Result<()> {
    let stack = stack_args.load()?;
    for name in &args.services {
        if let Some(ImageSource::Reference(r)) = stack.service(name).map(|s| &s.image) {
            return Err(Error::Usage(format!(
                "`{name}` runs the upstream image {r}: there is nothing of msctl's to push (the manifests name {r} itself)"
            )));
        }
    }
    let selected =
        crate::graph::select(&stack, &args.services, &args.profiles).map_err(Error::Usage)?;
    let built: Vec<_> = selected
        .into_iter()
        .filter(|s| !matches!(s.image, ImageSource::Reference(_)))
        .filter(|s| args.services.is_empty() || args.services.contains(&s.name))
        .collect();
    if built.is_empty() {
        return Err(Error::Usage(format!(
            "{} builds no image: nothing to push",
            stack.file.display()
        )));
    }
    let creds = pushed::credentials(&args.registry)?;
    let docker = crate::docker::connect().await?;
    let ui = Ui::new(false).with_names(built.iter().map(|s| s.name.as_str()));
    let problems = crate::images::preflight(&docker, &built, true, &ui).await;
    if !problems.is_empty() {
        return Err(Error::Preflight { problems });
    }
    let images = tokio::select! {
        r = crate::images::ensure(&docker, &stack, &built, &ui) => r?,
        _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
    };
    let mut record = Pushed {
        registry: args.registry.clone(),
        project: stack.name.clone(),
        images: BTreeMap::new(),
    };
    for s in &built {
        let image = &images[&s.name];
        eprintln!(
            "pushing {} ({})",
            s.name,
            pushed::repository(&args.registry, &stack.name, &s.name)
        );
        let done = tokio::select! {
            r = pushed::push(&docker, &args.registry, &stack.name, &s.name, image, &creds) => r?,
            _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
        };
        record.images.insert(s.name.clone(), done);
    }
    let path = record_path(&stack.dir);
    let record = match Pushed::read(&path)? {
        Some(old) => old.merged(record),
        None => record,
    };
    record.write(&path)?;
    if args.json {
        super::print_json(&record);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = built
        .iter()
        .map(|s| {
            let p = &record.images[&s.name];
            vec![
                s.name.clone(),
                format!("{}:{}", p.repository, p.tag),
                p.digest.clone(),
            ]
        })
        .collect();
    print!("{}", ui::table(&["SERVICE", "PUSHED", "DIGEST"], &rows));
    eprintln!(
        "recorded in {}: `msctl export k8s --registry {}` names these by digest",
        path.display(),
        args.registry
    );
    Ok(())
}
