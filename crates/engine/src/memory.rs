//! The process's allocator policy for training and inference. glibc's malloc serves every block
//! above its mmap threshold (at most 32 MB: activations, gradients, im2col buffers) with a fresh
//! `mmap` and unmaps it on free, so each training step page-faults and zeroes its whole working
//! set again: in a 2-hour MobileNetV2 run the kernel took as much CPU time as the network.
//! [`keep_freed_memory`] makes malloc serve such blocks from its heap and keep what is freed for
//! the next step.

/// Serves large blocks from malloc's heap and never trims it, on glibc; elsewhere does nothing.
/// Call once at start-up. Returns whether the policy is in force. Peak RSS may grow a little
/// (freed blocks are reused, not returned), in exchange for no page faults in the steady state.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's parameters (under its own lock); any value is
        // valid for these two.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
