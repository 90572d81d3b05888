//! The systemd notification protocol (`sd_notify`): datagrams of `KEY=VALUE` lines to the socket named
//! by `$NOTIFY_SOCKET` (a path, or an abstract name written with a leading `@`). Without the variable
//! every call does nothing, so the daemon behaves the same outside systemd.

use std::time::Duration;

/// Where notifications go (nowhere when not run by systemd with `Type=notify`).
#[derive(Debug, Default)]
pub struct Notifier {
    #[cfg(unix)]
    target: Option<std::os::unix::net::SocketAddr>,
    #[cfg(unix)]
    socket: Option<std::os::unix::net::UnixDatagram>,
}

impl Notifier {
    /// From `$NOTIFY_SOCKET`.
    pub fn from_env() -> Notifier {
        #[cfg(unix)]
        {
            let Some(name) = std::env::var_os("NOTIFY_SOCKET") else {
                return Notifier::default();
            };
            let target = match name.to_str().and_then(|n| n.strip_prefix('@')) {
                #[cfg(target_os = "linux")]
                Some(abstract_name) => {
                    use std::os::linux::net::SocketAddrExt;
                    std::os::unix::net::SocketAddr::from_abstract_name(abstract_name.as_bytes())
                }
                #[cfg(not(target_os = "linux"))]
                Some(_) => return Notifier::default(),
                None => std::os::unix::net::SocketAddr::from_pathname(&name),
            };
            match (target, std::os::unix::net::UnixDatagram::unbound()) {
                (Ok(target), Ok(socket)) => Notifier {
                    target: Some(target),
                    socket: Some(socket),
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(error = %e, "NOTIFY_SOCKET is set but unusable; not notifying");
                    Notifier::default()
                }
            }
        }
        #[cfg(not(unix))]
        Notifier::default()
    }

    /// Whether notifications are being sent.
    pub fn enabled(&self) -> bool {
        #[cfg(unix)]
        return self.target.is_some();
        #[cfg(not(unix))]
        false
    }

    /// Sends one notification (`"READY=1"`, `"STATUS=..."`); failures are logged, never fatal.
    pub fn send(&self, state: &str) {
        #[cfg(unix)]
        if let (Some(socket), Some(target)) = (&self.socket, &self.target)
            && let Err(e) = socket.send_to_addr(state.as_bytes(), target)
        {
            tracing::debug!(error = %e, "sd_notify failed");
        }
        #[cfg(not(unix))]
        let _ = state;
    }

    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC` when it is set for this process
    /// (`$WATCHDOG_PID`, if set, names it).
    pub fn watchdog_interval(&self) -> Option<Duration> {
        if !self.enabled() {
            return None;
        }
        if let Some(pid) = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            && pid != std::process::id()
        {
            return None;
        }
        let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
        (usec > 0).then(|| Duration::from_micros(usec / 2))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn sends_to_the_named_socket_and_is_silent_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            target: Some(std::os::unix::net::SocketAddr::from_pathname(&path).unwrap()),
            socket: Some(std::os::unix::net::UnixDatagram::unbound().unwrap()),
        };
        n.send("READY=1\nSTATUS=up");
        let mut buf = [0u8; 64];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=up");
        let silent = Notifier::default();
        assert!(!silent.enabled());
        silent.send("READY=1");
        assert_eq!(silent.watchdog_interval(), None);
    }
}
