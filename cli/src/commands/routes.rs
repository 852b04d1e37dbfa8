//! `msctl routes`: the gateway's routing table, as msctl renders it from the services'
//! `routes:` blocks and hands it to the gateway (`GATEWAY_ROUTES`).

use super::{print_json, StackArgs};
use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct RoutesArgs {
    /// The table as the gateway reads it (JSON) on stdout.
    #[arg(long)]
    json: bool,
}

pub fn exec(args: &RoutesArgs, stack: &StackArgs) -> Result<()> {
    let table = stack.load()?.routes;
    if args.json {
        print_json(&table);
        return Ok(());
    }
    let routes: Vec<Vec<String>> = table
        .routes
        .iter()
        .map(|r| {
            let route = match (&r.prefix, &r.path) {
                (Some(prefix), _) => format!("{prefix}, {prefix}/**"),
                (_, path) => path.clone().unwrap_or_default(),
            };
            let url = table.upstreams[&r.upstream].urls.join(", ");
            vec![route, r.upstream.clone(), url]
        })
        .collect();
    print!(
        "{}",
        crate::ui::table(&["ROUTE", "SERVICE", "UPSTREAM"], &routes)
    );
    let rules: Vec<Vec<String>> = table
        .access
        .iter()
        .map(|a| {
            let methods = if a.methods.is_empty() {
                "*".to_owned()
            } else {
                a.methods.join(",")
            };
            vec![methods, a.path.clone(), a.access.clone()]
        })
        .collect();
    println!();
    print!(
        "{}",
        crate::ui::table(&["METHODS", "PATH", "ACCESS"], &rules)
    );
    println!("anything else: user (a valid token); the first rule that matches decides");
    Ok(())
}
