//! Interpolating cubic splines with not-a-knot end conditions.
//!
//! gwpy interpolates the Q plane with scipy's `InterpolatedUnivariateSpline`
//! (time) and `RectBivariateSpline` (frequency), both cubic with `s=0`. FITPACK
//! places the knots of such a spline at the data points except the second and
//! the second-to-last, which is exactly the not-a-knot cubic spline; we build
//! that spline directly from its tridiagonal system for the second
//! derivatives. Far from the ends a node's influence decays by a factor of
//! about 0.27 per node, so a spline solved over a window of nodes with a
//! generous margin equals the global one to rounding error: that is what makes
//! sampling a short view out of a long row cheap.

/// Nodes of margin on each side of a local window. 0.268^48 ~ 1e-27, far below
/// f64 resolution.
pub(crate) const LOCAL_MARGIN: usize = 48;

/// The factorised tridiagonal system for the second derivatives `M_i` of the
/// not-a-knot spline over fixed nodes (`x` strictly increasing, at least 4).
/// Solving for new data costs two passes over the nodes, without divisions.
#[derive(Debug, Default, Clone)]
struct NotAKnot {
    x: Vec<f64>,
    inv_h: Vec<f64>,
    /// Rows i = 1 .. n-2 after elimination: reciprocal diagonal,
    /// super-diagonal, forward-elimination multipliers.
    inv_diag: Vec<f64>,
    sup: Vec<f64>,
    mult: Vec<f64>,
}

impl NotAKnot {
    fn factor(&mut self, x: impl Iterator<Item = f64>) {
        self.x.clear();
        self.x.extend(x);
        let x = &self.x;
        let n = x.len();
        debug_assert!(n >= 4);
        let k = n - 2;
        self.inv_h.clear();
        self.inv_h.extend(x.windows(2).map(|w| 1.0 / (w[1] - w[0])));
        self.inv_diag.clear();
        self.sup.clear();
        self.mult.clear();
        let h = |i: usize| x[i + 1] - x[i];
        // Row j (node i = j + 1): h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1}.
        // Not-a-knot at x_1: M_0 = M_1 (1 + h0/h1) - M_2 h0/h1.
        // Not-a-knot at x_{n-2}: M_{n-1} = M_{n-2} (1 + b/a) - M_{n-3} b/a.
        let (h0, h1) = (h(0), h(1));
        let (a, b) = (h(n - 3), h(n - 2));
        let mut prev_diag = 0.0;
        for j in 0..k {
            let i = j + 1;
            let mut sub = h(i - 1);
            let mut diag = 2.0 * (h(i - 1) + h(i));
            let mut sup = h(i);
            if j == 0 {
                diag += h0 * (1.0 + h0 / h1);
                sup -= h0 * h0 / h1;
                sub = 0.0;
            }
            if j == k - 1 {
                diag += b * (1.0 + b / a);
                sub -= b * b / a;
                sup = 0.0;
            }
            // Thomas algorithm, factor part (diagonally dominant: no pivoting).
            let w = if j == 0 { 0.0 } else { sub / prev_diag };
            diag -= w * self.sup.last().copied().unwrap_or(0.0);
            self.mult.push(w);
            self.sup.push(sup);
            self.inv_diag.push(1.0 / diag);
            prev_diag = diag;
        }
    }

    /// Second derivatives for the data `y` at the factored nodes.
    fn solve(&self, y: &[f64], m: &mut Vec<f64>) {
        let x = &self.x;
        let n = x.len();
        let k = n - 2;
        let ih = &self.inv_h;
        m.clear();
        m.resize(n, 0.0);
        // Forward pass, eliminated right-hand sides stored in m[1..n-1].
        let mut prev = 0.0;
        for i in 1..n - 1 {
            let r = 6.0 * ((y[i + 1] - y[i]) * ih[i] - (y[i] - y[i - 1]) * ih[i - 1]);
            prev = r - self.mult[i - 1] * prev;
            m[i] = prev;
        }
        m[k] *= self.inv_diag[k - 1];
        for j in (0..k - 1).rev() {
            m[j + 1] = (m[j + 1] - self.sup[j] * m[j + 2]) * self.inv_diag[j];
        }
        let (h0, h1) = (x[1] - x[0], x[2] - x[1]);
        m[0] = m[1] * (1.0 + h0 / h1) - m[2] * h0 / h1;
        let (a, b) = (x[n - 2] - x[n - 3], x[n - 1] - x[n - 2]);
        m[n - 1] = m[n - 2] * (1.0 + b / a) - m[n - 3] * b / a;
    }
}

/// Weights of `(y_j, y_{j+1}, M_j, M_{j+1})` for the value at `t` of the spline
/// piece on `[x_j, x_j + h]` (also used to extrapolate with the end pieces,
/// as FITPACK's `splev` does with `ext=0`).
#[inline]
fn weights(xj: f64, h: f64, inv_h: f64, t: f64) -> [f64; 4] {
    let b = t - xj;
    let a = h - b;
    let s = inv_h / 6.0;
    [
        a * inv_h,
        b * inv_h,
        a * (a * a - h * h) * s,
        b * (b * b - h * h) * s,
    ]
}

#[inline]
fn combine(w: &[f64; 4], y0: f64, y1: f64, m0: f64, m1: f64) -> f64 {
    w[0] * y0 + w[1] * y1 + w[2] * m0 + w[3] * m1
}

/// Evaluates, at the points `ts`, the not-a-knot spline through
/// `y[i]` at the uniform nodes `x0 + i * dx`. Only a window of nodes around
/// `ts` (plus [`LOCAL_MARGIN`]) is solved. Points outside the nodes are
/// extrapolated with the end pieces.
pub(crate) fn eval_uniform_local(
    x0: f64,
    dx: f64,
    y: &[f32],
    ts: &[f64],
    out: &mut Vec<f64>,
    work: &mut SplineWork,
) {
    out.clear();
    let n = y.len();
    if ts.is_empty() {
        return;
    }
    if n < 4 {
        let xs: Vec<f64> = (0..n).map(|i| x0 + i as f64 * dx).collect();
        let ys: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        out.extend(ts.iter().map(|&t| eval_small(&xs, &ys, t)));
        return;
    }
    let idx = |t: f64| -> usize { ((t - x0) / dx).floor().clamp(0.0, (n - 2) as f64) as usize };
    let t_min = ts.iter().copied().fold(f64::INFINITY, f64::min);
    let t_max = ts.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo_needed = idx(t_min);
    let hi_needed = idx(t_max) + 1;
    let lo = lo_needed.saturating_sub(LOCAL_MARGIN);
    let hi = (hi_needed + LOCAL_MARGIN).min(n - 1);
    // Keep at least 4 nodes in the window (n >= 4 here).
    let (lo, hi) = if hi - lo + 1 < 4 {
        (hi.max(3) - 3, hi.max(3))
    } else {
        (lo, hi)
    };
    work.y.clear();
    work.y.extend(y[lo..=hi].iter().map(|&v| v as f64));
    work.spline.factor((lo..=hi).map(|i| x0 + i as f64 * dx));
    work.spline.solve(&work.y, &mut work.m);
    let x = &work.spline.x;
    let last = hi - lo - 1;
    for &t in ts {
        let j = (idx(t).max(lo) - lo).min(last);
        let w = weights(x[j], x[j + 1] - x[j], work.spline.inv_h[j], t);
        out.push(combine(
            &w,
            work.y[j],
            work.y[j + 1],
            work.m[j],
            work.m[j + 1],
        ));
    }
}

/// Spline through fewer than 4 points: constant, linear, or the parabola
/// (the not-a-knot limit for 3 points).
fn eval_small(x: &[f64], y: &[f64], t: f64) -> f64 {
    match x.len() {
        0 => f64::NAN,
        1 => y[0],
        2 => y[0] + (y[1] - y[0]) * (t - x[0]) / (x[1] - x[0]),
        _ => {
            let l0 = (t - x[1]) * (t - x[2]) / ((x[0] - x[1]) * (x[0] - x[2]));
            let l1 = (t - x[0]) * (t - x[2]) / ((x[1] - x[0]) * (x[1] - x[2]));
            let l2 = (t - x[0]) * (t - x[1]) / ((x[2] - x[0]) * (x[2] - x[1]));
            y[0] * l0 + y[1] * l1 + y[2] * l2
        }
    }
}

/// Scratch buffers reused between spline solves.
#[derive(Debug, Default, Clone)]
pub(crate) struct SplineWork {
    spline: NotAKnot,
    y: Vec<f64>,
    m: Vec<f64>,
}

/// A not-a-knot spline over fixed, non-uniform nodes, evaluated at fixed
/// points for many different data vectors (one per time column of the Q
/// plane). Points outside the nodes are clamped to the end nodes, as FITPACK's
/// `bispev` (behind `RectBivariateSpline`) clamps them.
#[derive(Debug, Clone)]
pub(crate) struct FixedNodeSpline {
    x: Vec<f64>,
    /// Factorised system when there are at least 4 nodes.
    system: Option<NotAKnot>,
    /// For each evaluation point: interval index and clamped position.
    points: Vec<(usize, f64)>,
    /// For each evaluation point: weights of (y_j, y_j+1, M_j, M_j+1).
    weights: Vec<[f64; 4]>,
}

impl FixedNodeSpline {
    pub fn new(nodes: &[f64], at: &[f64]) -> Self {
        let n = nodes.len();
        let points: Vec<(usize, f64)> = at
            .iter()
            .map(|&f| {
                if n < 2 {
                    return (0, f);
                }
                let t = f.clamp(nodes[0], nodes[n - 1]);
                // Interval j with nodes[j] <= t <= nodes[j+1].
                let j = nodes
                    .partition_point(|&x| x <= t)
                    .saturating_sub(1)
                    .min(n - 2);
                (j, t)
            })
            .collect();
        let system = (n >= 4).then(|| {
            let mut s = NotAKnot::default();
            s.factor(nodes.iter().copied());
            s
        });
        let weights = match &system {
            Some(_) => points
                .iter()
                .map(|&(j, t)| {
                    let h = nodes[j + 1] - nodes[j];
                    weights(nodes[j], h, 1.0 / h, t)
                })
                .collect(),
            None => Vec::new(),
        };
        Self {
            x: nodes.to_vec(),
            system,
            points,
            weights,
        }
    }

    /// Evaluates the spline through `y` (one value per node) at the points
    /// given to [`FixedNodeSpline::new`], writing them to `out`.
    pub fn eval_into(&self, y: &[f64], out: &mut [f32], m: &mut Vec<f64>) {
        let Some(system) = &self.system else {
            for (o, &(_, t)) in out.iter_mut().zip(&self.points) {
                *o = eval_small(&self.x, y, t) as f32;
            }
            return;
        };
        system.solve(y, m);
        for ((o, &(j, _)), w) in out.iter_mut().zip(&self.points).zip(&self.weights) {
            *o = combine(w, y[j], y[j + 1], m[j], m[j + 1]) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;

    #[test]
    fn reproduces_a_cubic_exactly() {
        // A not-a-knot spline reproduces any cubic polynomial.
        let f = |x: f64| 0.5 * x * x * x - 2.0 * x * x + x - 3.0;
        let xs: Vec<f64> = vec![0.0, 0.3, 1.1, 1.5, 2.8, 3.0, 4.7];
        let ys: Vec<f64> = xs.iter().map(|&x| f(x)).collect();
        let at = [0.0, 0.1, 1.3, 2.9, 4.7, 5.5, -1.0];
        let s = FixedNodeSpline::new(&xs, &at);
        let mut out = vec![0f32; at.len()];
        s.eval_into(&ys, &mut out, &mut Vec::new());
        for (&t, &v) in at.iter().zip(&out) {
            let t = t.clamp(0.0, 4.7);
            assert!((v as f64 - f(t)).abs() < 1e-4, "{t}: {v} vs {}", f(t));
        }
    }

    #[test]
    fn local_window_matches_the_global_spline() {
        let n = 2000;
        let y: Vec<f32> = (0..n)
            .map(|i| ((i as f64 * 0.37).sin() * 3.0 + (i % 7) as f64) as f32)
            .collect();
        let ts: Vec<f64> = (0..50).map(|i| 0.5 + i as f64 * 0.013).collect();
        let mut local = Vec::new();
        eval_uniform_local(0.0, 0.01, &y, &ts, &mut local, &mut SplineWork::default());
        let xs: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
        let yd: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let global = FixedNodeSpline::new(&xs, &ts);
        let mut g = vec![0f32; ts.len()];
        global.eval_into(&yd, &mut g, &mut Vec::new());
        for (a, b) in local.iter().zip(&g) {
            assert!((*a as f32 - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
