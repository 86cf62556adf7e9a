//! [`Shutdown`]: one switch that the signal handler turns and that the HTTP server and every
//! background task wait on.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// A shutdown switch, cheap to clone: [`trigger`](Self::trigger) once, and every
/// [`wait`](Self::wait) future completes.
#[derive(Debug, Clone)]
pub struct Shutdown {
    sender: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A switch, not yet turned.
    pub fn new() -> Self {
        Shutdown {
            sender: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Ask everything waiting on this switch to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        *self.sender.borrow()
    }

    /// A future that completes once the switch is turned (at once if it already is).
    pub fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut receiver = self.sender.subscribe();
        async move {
            // The sender lives in `self`'s clones; if all are gone, stop too.
            let _ = receiver.wait_for(|stop| *stop).await;
        }
    }

    /// Turn the switch on SIGTERM or SIGINT (Ctrl-C), from a task of its own.
    pub fn trigger_on_signal(&self) {
        let switch = self.clone();
        tokio::spawn(async move {
            let name = signal().await;
            tracing::info!(
                signal = name,
                "shutting down: no new connections; finishing requests in flight"
            );
            switch.trigger();
        });
    }
}

/// Wait for SIGTERM or SIGINT (on other systems, Ctrl-C); returns the signal's name.
pub async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_wakes() {
        let shutdown = Shutdown::new();
        let waiters: Vec<_> = (0..3).map(|_| tokio::spawn(shutdown.wait())).collect();
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        for waiter in waiters {
            waiter.await.unwrap();
        }
        // A waiter made after the trigger completes at once.
        shutdown.wait().await;
    }
}
