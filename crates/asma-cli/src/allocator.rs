//! The C allocator's settings for training.
//!
//! glibc's `malloc` serves large blocks with `mmap` and gives freed ones back to the kernel,
//! so a training step that allocates its activations and gradients afresh (megabytes each,
//! hundreds per step) pays a page fault and a page clear for every page of every one of them:
//! 14% of a CPU pre-training step under `perf`. Serving blocks up to 32 MiB (glibc's largest
//! allowed threshold) from the heap and never trimming it keeps the pages in the process;
//! the step gets 1.12× faster (`asma bench pretrain`, BENCHMARKS.md). The price is that the
//! resident size stays at its peak, which a training run reaches in its first step anyway.
//! Inference and the edge measurements keep glibc's defaults.

/// Keeps freed memory in the process (glibc only; elsewhere nothing changes).
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes allocator parameters; it is called before the command
    // starts any thread, and a rejected value leaves the previous setting.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
    }
}
