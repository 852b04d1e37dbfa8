//! `msctl up`: preflight, images, network and volumes, then the plan applied level by level.

use super::desired::{self, Desired};
use super::plan::{self, Action, Change};
use super::readiness::{wanted, Readiness};
use super::replace::{can_surge, surge_replace};
use super::wait::Want;
use super::{create_and_start, remove, start};
use crate::docker::*;
use crate::error::{Error, Result};
use crate::graph;
use crate::images::{self, ResolvedImage};
use crate::stack::{ImageSource, ServiceSpec, Stack};
use crate::ui::Ui;
use bollard::models::{NetworkCreateRequest, VolumeCreateRequest};
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Default, Clone)]
pub struct UpOptions {
    pub services: Vec<String>,
    pub profiles: Vec<String>,
    /// Compute and return the plan; change nothing.
    pub plan_only: bool,
    /// Exactly the named services: what they depend on is neither built nor touched (a watch
    /// round rebuilds one service, not its database).
    pub no_deps: bool,
    /// Replace a running container only once its successor is ready ([`surge_replace`]), one
    /// replica at a time, where the service allows it.
    pub rolling: bool,
}

#[derive(Debug, Serialize)]
pub struct UpReport {
    pub project: String,
    pub changes: Vec<Change>,
    /// How long getting the images took (building included), for a watch round's line.
    #[serde(skip)]
    pub images_took: std::time::Duration,
}

impl UpReport {
    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(|c| c.action == Action::Keep)
    }

    /// The containers that were created or recreated.
    pub fn replaced(&self) -> usize {
        self.changes
            .iter()
            .filter(|c| matches!(c.action, Action::Create | Action::Recreate { .. }))
            .count()
    }
}

pub async fn up(docker: &Docker, stack: &Stack, opts: &UpOptions, ui: &Ui) -> Result<UpReport> {
    let closure = graph::select(stack, &opts.services, &opts.profiles).map_err(Error::Usage)?;
    // What a service must reach (healthy, completed) depends on who depends on it, so with
    // `no_deps` it is still judged among every active service.
    let (selected, context) = if opts.no_deps {
        let mut context = graph::select(stack, &[], &opts.profiles).map_err(Error::Usage)?;
        let missing: Vec<&ServiceSpec> = closure
            .iter()
            .filter(|s| !context.iter().any(|c| c.name == s.name))
            .copied()
            .collect();
        context.extend(missing);
        let named = closure
            .into_iter()
            .filter(|s| opts.services.contains(&s.name))
            .collect();
        (named, context)
    } else {
        (closure.clone(), closure)
    };
    let (mut selected, mut context) = (selected, context);
    if let Some(gateway) = stale_gateway(docker, stack, &selected).await? {
        ui.line(format!(
            "{}: its routing table changed ({}), so it is applied too",
            gateway.name,
            crate::stack::routes::ENV
        ));
        selected.push(gateway);
        if !context.iter().any(|c| c.name == gateway.name) {
            context.push(gateway);
        }
    }
    let names: Vec<&str> = selected.iter().map(|s| s.name.as_str()).collect();
    let oneshots: Vec<&str> = selected
        .iter()
        .filter(|s| wanted(s, &context) == Want::Completed)
        .map(|s| s.name.as_str())
        .collect();

    preflight(docker, stack, &selected, opts.plan_only, ui).await?;

    let images_started = std::time::Instant::now();
    let images = if opts.plan_only {
        current_images(docker, stack, &selected).await
    } else {
        images::ensure(docker, stack, &selected, ui).await?
    };
    let images_took = images_started.elapsed();
    // Listed after the images: a build can take minutes, and the plan must see the present.
    let existing = super::existing(docker, &stack.name).await?;
    for orphan in existing
        .iter()
        .filter(|e| stack.service(&e.service).is_none())
    {
        ui.line(format!(
            "warning: {} belongs to `{}`, which is no longer in {}; `msctl down` removes it",
            orphan.name,
            orphan.service,
            stack.file.display()
        ));
    }
    let desired: Vec<Desired> = selected
        .iter()
        .flat_map(|s| desired::desired(stack, s, &images[&s.name]))
        .collect();
    let report = UpReport {
        project: stack.name.clone(),
        changes: plan::plan(&desired, &existing, &names, &oneshots),
        images_took,
    };
    if opts.plan_only {
        return Ok(report);
    }

    if !report.is_noop() {
        ensure_network(docker, &stack.name).await?;
        ensure_volumes(docker, stack, &selected).await?;
    }
    // Even when nothing changes, every service is checked: "up to date" must mean running
    // and healthy, not merely created with the right config. A healthy container costs one
    // inspect.
    for level in graph::levels(&selected) {
        try_join_all(level.iter().map(|service| {
            let changes: Vec<&Change> = report
                .changes
                .iter()
                .filter(|c| c.service == service.name)
                .collect();
            apply_service(docker, stack, service, &context, changes, opts.rolling, ui)
        }))
        .await?;
    }
    Ok(report)
}

/// Routes belong to the gateway: `up SERVICE` for a service with a new or changed `routes:`
/// block changes the gateway's routing table, which only reaches it when its containers are
/// recreated. The gateway is returned when it is outside `selected`, has containers (it runs,
/// so what it depends on does), and any of them holds another table than the stack's.
async fn stale_gateway<'a>(
    docker: &Docker,
    stack: &'a Stack,
    selected: &[&ServiceSpec],
) -> Result<Option<&'a ServiceSpec>> {
    let env = crate::stack::routes::ENV;
    let Some(gateway) = stack.gateway() else {
        return Ok(None);
    };
    if selected.iter().any(|s| s.name == gateway.name) {
        return Ok(None);
    }
    let wanted = gateway.env.get(env).cloned();
    let existing = super::existing(docker, &stack.name).await?;
    let stale = existing
        .iter()
        .filter(|e| e.service == gateway.name)
        // A label that does not parse: the gateway's own plan says why it is recreated.
        .any(|e| e.env(env).map_or(true, |held| held != wanted));
    Ok(stale.then_some(gateway))
}

/// Refuses before anything is created: every published port must be free (or already ours),
/// every image obtainable.
async fn preflight(
    docker: &Docker,
    stack: &Stack,
    selected: &[&ServiceSpec],
    plan_only: bool,
    ui: &Ui,
) -> Result<()> {
    let existing = super::existing(docker, &stack.name).await?;
    let mut ours: Vec<u16> = Vec::new();
    for e in existing
        .iter()
        .filter(|e| matches!(e.state.as_str(), "running" | "paused" | "restarting"))
    {
        match e.published_ports() {
            Ok(ports) => ours.extend(ports),
            // Its ports then count as taken, and the check below names it as their holder.
            Err(why) => ui.line(format!("msctl: warning: {}: {why}", e.name)),
        }
    }
    let mut problems = Vec::new();
    for service in selected {
        for port in service
            .ports
            .iter()
            .filter(|p| !ours.contains(&p.host_port))
        {
            if let Some(holder) = super::ports::holder(docker, port).await {
                problems.push(format!(
                    "port {}:{} for `{}` is taken by {holder}; stop it, or publish another host port",
                    port.host_ip, port.host_port, service.name
                ));
            }
        }
    }
    problems.extend(images::preflight(docker, selected, !plan_only, ui).await);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Preflight { problems })
    }
}

/// Images as they are now, for `--plan`: nothing is built or pulled.
async fn current_images(
    docker: &Docker,
    stack: &Stack,
    selected: &[&ServiceSpec],
) -> HashMap<String, ResolvedImage> {
    let mut out = HashMap::new();
    for s in selected {
        let reference = match &s.image {
            ImageSource::Reference(r) => r.clone(),
            _ => images::tag_for(&stack.name, &s.name),
        };
        let id = match docker.inspect_image(&reference).await {
            Ok(image) => image.id.unwrap_or_default(),
            Err(_) => "(not built yet)".into(),
        };
        out.insert(s.name.clone(), ResolvedImage { reference, id });
    }
    out
}

async fn ensure_network(docker: &Docker, project: &str) -> Result<()> {
    let name = network_name(project);
    if docker.inspect_network(&name, None).await.is_ok() {
        return Ok(());
    }
    let request = NetworkCreateRequest {
        name: name.clone(),
        driver: Some("bridge".into()),
        labels: Some(HashMap::from([(
            LABEL_PROJECT.to_string(),
            project.to_string(),
        )])),
        ..Default::default()
    };
    docker
        .create_network(request)
        .await
        .map_err(Error::docker(format!("creating network {name}")))?;
    Ok(())
}

async fn ensure_volumes(docker: &Docker, stack: &Stack, selected: &[&ServiceSpec]) -> Result<()> {
    let used: std::collections::BTreeSet<&str> = selected
        .iter()
        .flat_map(|s| &s.mounts)
        .filter_map(|m| match m {
            crate::stack::Mount::Volume { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    for volume in used {
        let name = volume_name(&stack.name, volume);
        let request = VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(HashMap::from([
                (LABEL_PROJECT.to_string(), stack.name.clone()),
                ("msctl.volume".to_string(), volume.to_string()),
            ])),
            ..Default::default()
        };
        docker
            .create_volume(request)
            .await
            .map_err(Error::docker(format!("creating volume {name}")))?;
    }
    Ok(())
}

async fn apply_service(
    docker: &Docker,
    stack: &Stack,
    service: &ServiceSpec,
    selected: &[&ServiceSpec],
    changes: Vec<&Change>,
    rolling: bool,
    ui: &Ui,
) -> Result<()> {
    let want = wanted(service, selected);
    let untouched = changes.iter().all(|c| c.action == Action::Keep);
    let step = ui.step(
        &service.name,
        if untouched { "checking" } else { "starting" },
    );
    let readiness = Readiness::of(docker, service, want);
    let surge = rolling && can_surge(service, want);
    let result = async {
        let (one_by_one, together): (Vec<&Change>, Vec<&Change>) = changes
            .iter()
            .partition(|c| surge && matches!(c.action, Action::Recreate { .. }));
        try_join_all(together.iter().map(|c| apply_change(docker, stack, c))).await?;
        if want == Want::Healthy {
            step.set("waiting for health");
        } else if want == Want::Completed {
            step.set("waiting for completion");
        }
        for c in &one_by_one {
            surge_replace(docker, stack, c, &readiness).await?;
        }
        for c in together.iter().filter(|c| c.desired.is_some()) {
            readiness.wait(&c.container).await?;
        }
        Ok(())
    }
    .await;
    match &result {
        Ok(()) if untouched => step.done(&format!("{} (unchanged)", want.word())),
        Ok(()) => step.done(want.word()),
        Err(_) => step.fail(&format!("not {}", want.word())),
    }
    result
}

async fn apply_change(docker: &Docker, stack: &Stack, change: &Change) -> Result<()> {
    match (&change.action, &change.existing, &change.desired) {
        (Action::Keep, _, _) => Ok(()),
        (Action::Start, Some(e), _) => start(docker, &e.id).await,
        (Action::Create, _, Some(d)) => create_and_start(docker, stack, d).await,
        (Action::Recreate { .. }, Some(e), Some(d)) => {
            remove(docker, e).await?;
            create_and_start(docker, stack, d).await
        }
        (Action::Remove { .. }, Some(e), _) => remove(docker, e).await,
        _ => unreachable!("plan pairs every action with the containers it needs"),
    }
}
