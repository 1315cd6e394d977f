//! Fields of `/proc/self/status` (Linux), for the memory figures of `bench edge` and
//! `bench loader`.

/// The text of `/proc/self/status`, read once.
pub struct ProcStatus(String);

impl ProcStatus {
    /// `None` where there is no such file (not Linux).
    pub fn read() -> Option<Self> {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .map(ProcStatus)
    }

    /// A field given in kB, e.g. `VmHWM`, `RssAnon`.
    pub fn kb(&self, key: &str) -> Option<u64> {
        self.0
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse().ok())
    }
}
