//! Helpers shared by the benches.

/// A `/proc/self/status` figure in KiB (`VmRSS`: resident now, `VmHWM`: peak); 0 where unavailable.
pub fn proc_status_kib(field: &str) -> u64 {
    status_kib("self", field)
}

/// A `/proc/PID/status` figure in KiB (`pid`: a process id, or `self`); 0 where unavailable.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
