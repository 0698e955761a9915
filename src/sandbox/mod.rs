//! A simulated Racing API on loopback, for trying the tool, tests and benchmarks: the same paths,
//! parameters and response shapes as the real API, deterministic data from a seed, Basic auth,
//! plan rules, the rate limit, injected faults and request counts (issue 3).
//!
//! `server` holds the routes, `data` the generated racing days, `render` the API's string formats
//! and `faults` fault injection, the rate limit and the counts.

pub mod data;
pub mod faults;
mod names;
pub mod render;
pub mod server;
pub mod world;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use faults::{SandboxStats, parse_faults};

use crate::clock::Clock;
use crate::config::SandboxConfig;
use crate::error::Error;

/// A running sandbox. Dropping it stops the server too; `shutdown` also waits for it.
#[derive(Debug)]
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Bind 127.0.0.1:`cfg.port` (0 = any free port) and serve in a background tokio task.
    /// Call from inside a tokio runtime. `clock` decides "now": which day is today and which
    /// results are out.
    pub fn start(cfg: SandboxConfig, clock: Arc<dyn Clock>) -> Result<Sandbox, Error> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Fatal("the sandbox must be started from inside a tokio runtime".into()))?;
        let bind = SocketAddr::from(([127, 0, 0, 1], cfg.port));
        let what = || format!("binding the sandbox to {bind} (is the port in use? try --port 0)");
        let std_listener = std::net::TcpListener::bind(bind).map_err(|e| Error::io(what(), e))?;
        std_listener.set_nonblocking(true).map_err(|e| Error::io(what(), e))?;
        let addr = std_listener.local_addr().map_err(|e| Error::io(what(), e))?;
        let listener = {
            let _guard = handle.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(|e| Error::io(what(), e))?
        };
        let shared = Arc::new(server::Shared::new(cfg, clock));
        let app = server::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = handle.spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "sandbox server stopped with an error");
            }
        });
        tracing::info!(addr = %addr, "sandbox listening");
        Ok(Sandbox { addr, shared, stop: Some(stop), task: Some(task) })
    }

    /// `http://127.0.0.1:PORT/v1`: what `api.base_url` should be set to.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The same counts `/_sandbox/stats` serves.
    pub fn stats(&self) -> SandboxStats {
        self.shared.counter().snapshot()
    }

    /// Zero the counts (what `POST /_sandbox/reset` does).
    pub fn reset_stats(&self) {
        self.shared.counter().reset();
    }

    /// The settings the sandbox runs with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.cfg
    }

    /// Stop accepting connections, let in-flight requests finish, and wait for the server task.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Apply `darkhorses sandbox` flags over the configured settings.
pub fn apply_args(args: &crate::cli::SandboxArgs, mut cfg: SandboxConfig) -> Result<SandboxConfig, Error> {
    if let Some(port) = args.port {
        cfg.port = port;
    }
    if let Some(seed) = args.seed {
        cfg.seed = seed;
    }
    if let Some(rate) = args.rate_limit {
        if !rate.is_finite() || rate < 0.0 {
            return Err(Error::Usage(format!(
                "--rate-limit {rate}: give requests per second, e.g. --rate-limit 2 (0 = no limit)"
            )));
        }
        cfg.rate_limit = rate;
    }
    if let Some(spec) = &args.fault {
        let mut faults = parse_faults(spec).map_err(|e| Error::Usage(format!("--fault: {e}")))?;
        if !spec.contains("slow_ms") {
            faults.slow_ms = cfg.faults.slow_ms;
        }
        faults.fail_dates.extend(cfg.faults.fail_dates.iter().cloned());
        cfg.faults = faults;
    }
    if let Some(u) = &args.username {
        cfg.username = u.clone();
    }
    if let Some(p) = &args.password {
        cfg.password = crate::config::Secret::new(p.clone());
    }
    if (cfg.username.is_empty()) != (cfg.password.is_empty()) {
        return Err(Error::Usage("--username and --password go together: give both or neither".into()));
    }
    if let Some(plan) = &args.plan {
        cfg.plan = match plan.to_ascii_lowercase().as_str() {
            "free" => crate::config::Plan::Free,
            "basic" => crate::config::Plan::Basic,
            "standard" => crate::config::Plan::Standard,
            "pro" => crate::config::Plan::Pro,
            other => {
                return Err(Error::Usage(format!("--plan {other}: use free, basic, standard or pro")));
            }
        };
    }
    Ok(cfg)
}

/// `darkhorses sandbox`: serve in the foreground until Ctrl-C or SIGTERM. The first line of
/// stdout says where (with `json`, a JSON document holding `base_url`).
pub async fn serve_foreground(
    args: &crate::cli::SandboxArgs,
    cfg: SandboxConfig,
    clock: Arc<dyn Clock>,
    json: bool,
) -> Result<(), Error> {
    let cfg = apply_args(args, cfg)?;
    let sandbox = Sandbox::start(cfg, clock)?;
    let c = sandbox.config();
    let url = sandbox.base_url();
    let (user, pass) = if c.username.is_empty() { ("demo", "demo") } else { (c.username.as_str(), "...") };
    let rate = if c.rate_limit > 0.0 { format!("rate limit {}/s", c.rate_limit) } else { "no rate limit".to_string() };
    if json {
        crate::output::json(&serde_json::json!({ "base_url": url, "seed": c.seed, "rate_limit": c.rate_limit }))?;
    } else {
        crate::output::print(&format!(
            "sandbox serving The Racing API on {url} (seed {}, {rate}); try: RACING_API_USERNAME={user} RACING_API_PASSWORD={pass} DARKHORSES_API_BASE_URL={url} darkhorses daily\n",
            c.seed
        ))?;
    }
    wait_for_stop_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
