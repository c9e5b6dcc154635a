//! `dpkeys`: the command line for scheduled key rotation and key-ring operations.
//!
//! Run `dpkeys --help`; the README has the scheduling recipes (cron, Kubernetes, systemd).

mod args;
mod commands;
mod failure;
mod protection;
mod units;

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use data_protection::DataProtection;
use data_protection::repository::{self, XmlRepository};

use args::{Cli, Command};
use failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse(); // usage errors exit with 2
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return Failure::failed(format!("cannot start the async runtime: {e}")).report(),
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let store = || open_store(cli.store.as_deref());
    match &cli.command {
        Command::List => commands::list::run(&connect(&cli, store()?).await?, cli.json),
        Command::Ensure => commands::ensure::run(&connect(&cli, store()?).await?, cli.json).await,
        Command::Rotate(a) => {
            commands::rotate::run(&connect(&cli, store()?).await?, a, cli.json).await
        }
        Command::Revoke(a) => {
            commands::revoke::run(&connect(&cli, store()?).await?, a, cli.json).await
        }
        Command::Prune(a) => {
            commands::prune::run(&connect(&cli, store()?).await?, a, cli.json).await
        }
        Command::Check => commands::check::run(&connect(&cli, store()?).await?, cli.json).await,
        Command::Copy(a) => {
            commands::copy::run(store()?, open_store(Some(&a.to))?, cli.timeout, cli.json).await
        }
        Command::Protect(a) => commands::protect::run(&connect(&cli, store()?).await?, a),
        Command::Unprotect(a) => commands::unprotect::run(&connect(&cli, store()?).await?, a).await,
        Command::Inspect(a) => {
            // The token is decoded without a store; the ring is read only when one is given.
            let dp = match cli.store {
                Some(_) => Some(connect(&cli, store()?).await?),
                None => None,
            };
            commands::inspect::run(dp.as_ref(), a, cli.json)
        }
    }
}

fn open_store(url: Option<&str>) -> Result<Arc<dyn XmlRepository>, Failure> {
    let url = url.ok_or_else(|| {
        Failure::usage("no key store given: pass --store URL or set DPKEYS_STORE (see --help)")
    })?;
    repository::open(url).map_err(Failure::from)
}

/// Loads the ring. The CLI never creates keys on its own: only `ensure` and `rotate` do.
async fn connect(cli: &Cli, store: Arc<dyn XmlRepository>) -> Result<DataProtection, Failure> {
    let needs_app_name = match &cli.command {
        Command::Protect(_) | Command::Unprotect(_) => true,
        Command::Inspect(a) => !a.purposes.is_empty(),
        _ => false,
    };
    let app_name = match (&cli.app_name, needs_app_name) {
        (Some(name), _) => name.clone(),
        (None, false) => String::new(),
        (None, true) => {
            return Err(Failure::usage(
                "protect, unprotect and inspect --purpose need the application name: pass --app-name NAME or set \
                 DPKEYS_APP_NAME (the value of SetApplicationName in the ASP.NET Core app)",
            ));
        }
    };
    let builder = DataProtection::builder()
        .application_name(app_name)
        .persist_keys_to_shared(store)
        .disable_automatic_key_generation()
        .background_refresh(false)
        .store_timeout(cli.timeout);
    protection::configure(cli, builder)?
        .build()
        .await
        .map_err(Failure::from)
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => tracing::Level::WARN,
        1 => tracing::Level::INFO,
        _ => tracing::Level::DEBUG,
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .without_time()
        .init();
}
