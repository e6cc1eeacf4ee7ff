//! Pointwise (1x1) convolution + bias + optional ReLU6 on f32 slices. Natively one gemm per image with the bias
//! and ReLU6 applied to each plane while it is in cache ([`gemm_per_image`]); in wasm the SIMD128 tiles of
//! [`pointwise_image`]: there Burn's gemm ran the 32 pointwise convolutions at 2.0 GMAC/s, 70 % of a pass
//! (docs/profile.md). flex_kernels.rs feeds them flex's buffers in place; train_kernels.rs's forward uses the gemm.

#[cfg(not(target_arch = "wasm32"))]
use rayon::prelude::*;

/// One image: `out[o][p] = bias[o] + sum_c weight[o][c] * x[c][p]`, clamped to [0, 6] if `relu6`. Tiles of
/// 4 output channels x 8 pixels (eight 4-lane accumulators); the pixel panel `x[..][p..p + 8]` stays in L1 while
/// every output channel is swept over it. Summation over `c` in order, in every path.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(not(target_arch = "wasm32"), not(test)), allow(dead_code))]
pub(super) fn pointwise_image(x: &[f32], weight: &[f32], bias: &[f32], ci: usize, co: usize, hw: usize, relu6: bool, out: &mut [f32]) {
    let finish = |v: f32| if relu6 { v.clamp(0.0, 6.0) } else { v };
    let mut p = 0;
    while p < hw {
        // 8-pixel tiles, then one of 4, then single pixels (the late stages' planes are 12 and 42 pixels).
        let width = match hw - p {
            r if r >= 8 => 8,
            r if r >= 4 => 4,
            r => r,
        };
        let mut o = 0;
        while o < co {
            let rows = (co - o).min(4);
            let mut acc = [[0.0f32; 8]; 4];
            if rows == 4 && width == 8 {
                tile_4x8(&x[p..], hw, &weight[o * ci..(o + 4) * ci], ci, &mut acc);
            } else if rows == 4 && width == 4 {
                tile_4x4(&x[p..], hw, &weight[o * ci..(o + 4) * ci], ci, &mut acc);
            } else {
                for (r, acc_row) in acc.iter_mut().enumerate().take(rows) {
                    let wr = &weight[(o + r) * ci..(o + r + 1) * ci];
                    for (c, &wv) in wr.iter().enumerate() {
                        let xr = &x[c * hw + p..c * hw + p + width];
                        for (a, &v) in acc_row.iter_mut().zip(xr) {
                            *a += wv * v;
                        }
                    }
                }
            }
            for (r, acc_row) in acc.iter().enumerate().take(rows) {
                let dst = &mut out[(o + r) * hw + p..(o + r) * hw + p + width];
                for (d, a) in dst.iter_mut().zip(acc_row) {
                    *d = finish(bias[o + r] + a);
                }
            }
            o += rows;
        }
        p += width;
    }
}

/// The 4x8 tile: `acc[r][j] = sum_c w[r][c] * x[c * hw + j]` (x starts at the tile's first pixel).
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn tile_4x8(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    use core::arch::wasm32::*;
    assert!(x.len() >= (ci - 1) * hw + 8 && w.len() >= 4 * ci);
    let z = f32x4_splat(0.0);
    let (mut a00, mut a01, mut a10, mut a11, mut a20, mut a21, mut a30, mut a31) = (z, z, z, z, z, z, z, z);
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    for c in 0..ci {
        // SAFETY: c * hw + 8 <= x.len() and 3 * ci + c < w.len() (asserted above); unaligned loads are allowed.
        unsafe {
            let x0 = v128_load(xp.add(c * hw) as *const v128);
            let x1 = v128_load(xp.add(c * hw + 4) as *const v128);
            let w0 = f32x4_splat(*wp.add(c));
            let w1 = f32x4_splat(*wp.add(ci + c));
            let w2 = f32x4_splat(*wp.add(2 * ci + c));
            let w3 = f32x4_splat(*wp.add(3 * ci + c));
            a00 = f32x4_add(a00, f32x4_mul(w0, x0));
            a01 = f32x4_add(a01, f32x4_mul(w0, x1));
            a10 = f32x4_add(a10, f32x4_mul(w1, x0));
            a11 = f32x4_add(a11, f32x4_mul(w1, x1));
            a20 = f32x4_add(a20, f32x4_mul(w2, x0));
            a21 = f32x4_add(a21, f32x4_mul(w2, x1));
            a30 = f32x4_add(a30, f32x4_mul(w3, x0));
            a31 = f32x4_add(a31, f32x4_mul(w3, x1));
        }
    }
    for (r, (lo, hi)) in [(a00, a01), (a10, a11), (a20, a21), (a30, a31)].into_iter().enumerate() {
        // SAFETY: acc[r] holds 8 floats.
        unsafe {
            v128_store(acc[r].as_mut_ptr() as *mut v128, lo);
            v128_store(acc[r].as_mut_ptr().add(4) as *mut v128, hi);
        }
    }
}

/// The 4x4 tile: the first four columns of `acc` as in [`tile_4x8`].
#[cfg(target_arch = "wasm32")]
#[inline(always)]
fn tile_4x4(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    use core::arch::wasm32::*;
    assert!(x.len() >= (ci - 1) * hw + 4 && w.len() >= 4 * ci);
    let z = f32x4_splat(0.0);
    let (mut a0, mut a1, mut a2, mut a3) = (z, z, z, z);
    let (xp, wp) = (x.as_ptr(), w.as_ptr());
    for c in 0..ci {
        // SAFETY: c * hw + 4 <= x.len() and 3 * ci + c < w.len() (asserted above).
        unsafe {
            let x0 = v128_load(xp.add(c * hw) as *const v128);
            a0 = f32x4_add(a0, f32x4_mul(f32x4_splat(*wp.add(c)), x0));
            a1 = f32x4_add(a1, f32x4_mul(f32x4_splat(*wp.add(ci + c)), x0));
            a2 = f32x4_add(a2, f32x4_mul(f32x4_splat(*wp.add(2 * ci + c)), x0));
            a3 = f32x4_add(a3, f32x4_mul(f32x4_splat(*wp.add(3 * ci + c)), x0));
        }
    }
    for (r, v) in [a0, a1, a2, a3].into_iter().enumerate() {
        // SAFETY: acc[r] holds 8 floats.
        unsafe { v128_store(acc[r].as_mut_ptr() as *mut v128, v) };
    }
}

/// The 4x4 tile in plain Rust (see the 4x8 one).
#[cfg(not(target_arch = "wasm32"))]
fn tile_4x4(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    tile_plain::<4>(x, hw, w, ci, acc);
}

/// The 4x8 tile in plain Rust, the same sums in the same order (the native tests check the tiling with it).
#[cfg(not(target_arch = "wasm32"))]
fn tile_4x8(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    tile_plain::<8>(x, hw, w, ci, acc);
}

/// 4 output channels x `P` pixels: `acc[r][..P] += w[r][c] * x[c][..P]` over `c` in order.
#[cfg(not(target_arch = "wasm32"))]
fn tile_plain<const P: usize>(x: &[f32], hw: usize, w: &[f32], ci: usize, acc: &mut [[f32; 8]; 4]) {
    for c in 0..ci {
        let xr = &x[c * hw..c * hw + P];
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let wv = w[r * ci + c];
            for (a, &v) in acc_row[..P].iter_mut().zip(xr) {
                *a += wv * v;
            }
        }
    }
}

/// Natively: `out[image] = relu6?(W x[image] + b)`, images in parallel (also the training forward,
/// train_kernels.rs, without bias or ReLU6).
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn gemm_per_image(xs: &[f32], ws: &[f32], bs: Option<&[f32]>, [ci, co, hw]: [usize; 3], relu6: bool, output: &mut [f32]) {
    // Images in parallel, one thread each; a lone image lets gemm use every core itself.
    let inner = if xs.len() == ci * hw { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    let image = |(out, x): (&mut [f32], &[f32])| {
        // SAFETY: out is [co, hw] row-major, x [ci, hw] and ws [co, ci] row-major, all in bounds.
        unsafe {
            gemm::gemm(
                co,
                hw,
                ci,
                out.as_mut_ptr(),
                1,
                hw as isize,
                false,
                ws.as_ptr(),
                1,
                ci as isize,
                x.as_ptr(),
                1,
                hw as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                inner,
            )
        };
        let Some(bs) = bs else { return };
        for (plane, &b) in out.chunks_mut(hw).zip(bs) {
            if relu6 {
                plane.iter_mut().for_each(|v| *v = (*v + b).clamp(0.0, 6.0));
            } else {
                plane.iter_mut().for_each(|v| *v += b);
            }
        }
    };
    output.par_chunks_mut(co * hw).zip(xs.par_chunks(ci * hw)).for_each(image);
}
