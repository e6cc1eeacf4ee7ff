//! Work items over every core natively (rayon), in order in wasm (one thread), and the output pointer the items
//! share: the two pieces of parallel plumbing of the CPU kernels (phase_planes.rs, train_kernels.rs).

/// Items `0..count`, each with a per-thread state from `init`: over every core natively, in order in wasm.
pub(super) fn par_items<S, T: Send>(count: usize, init: impl Fn() -> S + Sync + Send, run: impl Fn(&mut S, usize) -> T + Sync + Send) -> Vec<T> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..count).into_par_iter().map_init(init, run).collect()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut state = init();
        (0..count).map(|item| run(&mut state, item)).collect()
    }
}

/// An output buffer shared by parallel work items, each writing its own planes (here and in train_kernels.rs).
#[derive(Clone, Copy)]
pub(super) struct SendPtr(pub(super) *mut f32);
// SAFETY: every user has its items write disjoint ranges (see `Depthwise`, `conv_relu6`, the batch norm).
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
impl SendPtr {
    /// `len` values from `offset` (a method, so that closures capture the whole `Sync` wrapper).
    /// SAFETY: the caller stays inside the buffer, which outlives the slice, and is the only writer of that range.
    pub(super) unsafe fn slice(self, offset: usize, len: usize) -> &'static mut [f32] {
        unsafe { core::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}
