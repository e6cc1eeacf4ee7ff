//! The 2-D map: Barnes-Hut t-SNE (van der Maaten 2014), run in steps.
//!
//! `Tsne::new` does the one-off work (nearest neighbours, perplexity calibration, PCA initialisation);
//! `step(n)` runs n gradient iterations and returns `Progress`, so a Web Worker can post progress and the page
//! stays responsive; `coordinates()` can be read between steps to animate the map.
//!
//! Cost: affinities use the 3 * perplexity nearest neighbours (exact, n^2/2 distances once); each iteration is
//! O(n log n): attraction along those neighbour edges, repulsion through a quadtree where a cell that looks small
//! from a point (`cell width / distance < theta`) acts as one body at its centre of mass.
//!
//! Conventions follow the reference implementation (bhtsne) and FIt-SNE: gradient without the factor 4,
//! learning rate max(200, n / 12), early exaggeration 12 with momentum 0.5 for the first 250 iterations, then
//! momentum 0.8, per-coordinate gains (delta-bar-delta). Initialisation is the first two principal components,
//! scaled to a standard deviation of 1e-4, which keeps the global layout stable and makes runs reproducible.

use super::neighbours::knn_graph;
use super::rng::SplitMix64;
use super::{DiscoveryError, Embeddings, Pca, Result};

/// Settings of a t-SNE run. The defaults suit a few hundred to a few thousand glitches.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct TsneParams {
    /// Effective number of neighbours each point attends to; lowered automatically for tiny sets.
    pub perplexity: f64,
    /// Barnes-Hut accuracy (0 = exact, slow; 0.5 usual; at most 1).
    pub theta: f64,
    /// Total gradient iterations, early exaggeration included.
    pub iterations: usize,
    pub exaggeration: f64,
    pub exaggeration_iterations: usize,
    /// `None`: max(200, n / 12).
    pub learning_rate: Option<f64>,
    pub seed: u64,
}

impl Default for TsneParams {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            theta: 0.5,
            iterations: 750,
            exaggeration: 12.0,
            exaggeration_iterations: 250,
            learning_rate: None,
            seed: 0,
        }
    }
}

/// Where a run stands after a `step`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Progress {
    pub iteration: usize,
    pub total: usize,
    pub done: bool,
    /// KL divergence between input affinities and the map's (Barnes-Hut estimate) at the end of the step; it
    /// falls as the map improves. NaN before the first iteration.
    pub kl_divergence: f64,
}

/// A t-SNE run in progress.
pub struct Tsne {
    params: TsneParams,
    learning_rate: f64,
    /// Symmetric input affinities P (sum 1) as compressed sparse rows.
    row_start: Vec<usize>,
    cols: Vec<u32>,
    vals: Vec<f64>,
    /// Sum of p log p, for the KL divergence.
    p_entropy_term: f64,
    y: Vec<[f64; 2]>,
    update: Vec<[f64; 2]>,
    gains: Vec<[f64; 2]>,
    iteration: usize,
    kl_divergence: f64,
    tree: QuadTree,
}

impl Tsne {
    /// Prepare a run on these points (usually L2-normalised embeddings reduced by PCA, see `discovery::prepare`).
    pub fn new(data: &Embeddings, params: TsneParams) -> Result<Self> {
        check_params(&params)?;
        let n = data.len();
        let learning_rate = params.learning_rate.unwrap_or((n as f64 / 12.0).max(200.0));
        let mut run = Self {
            learning_rate,
            row_start: vec![0; n + 1],
            cols: Vec::new(),
            vals: Vec::new(),
            p_entropy_term: 0.0,
            y: vec![[0.0; 2]; n],
            update: vec![[0.0; 2]; n],
            gains: vec![[1.0; 2]; n],
            iteration: 0,
            kl_divergence: f64::NAN,
            tree: QuadTree::default(),
            params,
        };
        if n == 1 {
            return Ok(run);
        }
        run.set_affinities(data)?;
        run.initialise(data)?;
        Ok(run)
    }

    fn set_affinities(&mut self, data: &Embeddings) -> Result<()> {
        let n = data.len();
        // With few points the perplexity must shrink: a point cannot attend to more neighbours than exist.
        let perplexity = self.params.perplexity.min((n - 1) as f64 / 3.0).max(1.0);
        let k = ((3.0 * perplexity).ceil() as usize).clamp(1, n - 1);
        let graph = knn_graph(data, k)?;

        // Conditional p_{j|i} with a per-point Gaussian width matching the perplexity (binary search on beta).
        let mut entries: Vec<(u32, u32, f64)> = Vec::with_capacity(2 * n * k);
        let target = perplexity.ln();
        let mut p = vec![0.0f64; k];
        for i in 0..n {
            let d = graph.distances(i);
            let d0 = d[0] as f64;
            let (mut beta, mut lo, mut hi) = (1.0f64, 0.0f64, f64::INFINITY);
            for _ in 0..200 {
                let mut sum = 0.0;
                for (pj, &dj) in p.iter_mut().zip(d) {
                    *pj = (-beta * (dj as f64 - d0)).exp();
                    sum += *pj;
                }
                // H = log(sum) + beta * E[d - d0]
                let mean_d: f64 = p.iter().zip(d).map(|(pj, &dj)| pj * (dj as f64 - d0)).sum::<f64>() / sum;
                let entropy = sum.ln() + beta * mean_d;
                p.iter_mut().for_each(|pj| *pj /= sum);
                let diff = entropy - target;
                if diff.abs() < 1e-5 {
                    break;
                }
                if diff > 0.0 {
                    lo = beta;
                    beta = if hi.is_finite() { (beta + hi) / 2.0 } else { beta * 2.0 };
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
            for (&j, &pj) in graph.neighbours(i).iter().zip(&p) {
                entries.push((i as u32, j as u32, pj));
                entries.push((j as u32, i as u32, pj));
            }
        }
        // P_ij = (p_{j|i} + p_{i|j}) / 2n: sort by (row, column) and add up duplicates.
        entries.sort_unstable_by_key(|e| (e.0, e.1));
        self.cols.clear();
        self.vals.clear();
        let mut counts = vec![0usize; n];
        for (r, c, v) in entries {
            if let (Some(&lc), Some(lv)) = (self.cols.last(), self.vals.last_mut())
                && counts[r as usize] > 0
                && lc == c
            {
                *lv += v;
                continue;
            }
            self.cols.push(c);
            self.vals.push(v);
            counts[r as usize] += 1;
        }
        self.row_start[0] = 0;
        for (i, count) in counts.iter().enumerate() {
            self.row_start[i + 1] = self.row_start[i] + count;
        }
        let total: f64 = self.vals.iter().sum();
        self.vals.iter_mut().for_each(|v| *v /= total);
        self.p_entropy_term = self.vals.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum();
        Ok(())
    }

    fn initialise(&mut self, data: &Embeddings) -> Result<()> {
        let pca = Pca::fit(data, 2, self.params.seed)?;
        let coords = pca.transform(data)?;
        let first: Vec<f64> = coords.rows().map(|r| r[0] as f64).collect();
        let mean = first.iter().sum::<f64>() / first.len() as f64;
        let std = (first.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / first.len() as f64).sqrt();
        let scale = if std > 0.0 { 1e-4 / std } else { 0.0 };
        // A whisper of noise separates exact duplicates, which would otherwise stay on one spot.
        let mut rng = SplitMix64::new(self.params.seed);
        for (yi, r) in self.y.iter_mut().zip(coords.rows()) {
            let second = if r.len() > 1 { r[1] as f64 } else { 0.0 };
            *yi = [r[0] as f64 * scale + 1e-6 * rng.normal(), second * scale + 1e-6 * rng.normal()];
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn progress(&self) -> Progress {
        let total = if self.len() <= 1 { 0 } else { self.params.iterations };
        Progress { iteration: self.iteration, total, done: self.iteration >= total, kl_divergence: self.kl_divergence }
    }

    pub fn is_done(&self) -> bool {
        self.progress().done
    }

    /// Run up to `n_iter` more iterations (fewer at the end of the run).
    pub fn step(&mut self, n_iter: usize) -> Progress {
        let total = self.progress().total;
        let end = (self.iteration + n_iter).min(total);
        while self.iteration < end {
            let last = self.iteration + 1 == end;
            self.iterate(last);
            self.iteration += 1;
        }
        self.progress()
    }

    /// Run to the end and return the map.
    pub fn run(mut self) -> Vec<[f32; 2]> {
        let total = self.progress().total;
        self.step(total);
        self.coordinates()
    }

    /// Current map coordinates, one pair per input point, in input order.
    pub fn coordinates(&self) -> Vec<[f32; 2]> {
        self.y.iter().map(|p| [p[0] as f32, p[1] as f32]).collect()
    }

    /// The same as `coordinates`, flattened `[x0, y0, x1, y1, ...]` (a Float32Array in the browser).
    pub fn coordinates_flat(&self) -> Vec<f32> {
        self.y.iter().flat_map(|p| [p[0] as f32, p[1] as f32]).collect()
    }

    fn iterate(&mut self, measure_kl: bool) {
        let n = self.y.len();
        let early = self.iteration < self.params.exaggeration_iterations;
        let exaggeration = if early { self.params.exaggeration } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };

        self.tree.build(&self.y);
        let theta2 = self.params.theta * self.params.theta;
        let mut repulsion = vec![[0.0f64; 2]; n];
        let mut sum_q = 0.0;
        let mut stack = Vec::with_capacity(64);
        for (i, f) in repulsion.iter_mut().enumerate() {
            sum_q += self.tree.repulsion(i, &self.y, theta2, f, &mut stack);
        }
        let sum_q = sum_q.max(f64::MIN_POSITIVE);

        // All gradients from the same positions first, then one update (as in the reference implementation).
        let mut log_q_term = 0.0;
        let mut gradient = vec![[0.0f64; 2]; n];
        for (i, g) in gradient.iter_mut().enumerate() {
            let [xi, yi] = self.y[i];
            let mut attraction = [0.0f64; 2];
            for e in self.row_start[i]..self.row_start[i + 1] {
                let [xj, yj] = self.y[self.cols[e] as usize];
                let (dx, dy) = (xi - xj, yi - yj);
                let d2 = dx * dx + dy * dy;
                let pq = self.vals[e] / (1.0 + d2);
                attraction[0] += pq * dx;
                attraction[1] += pq * dy;
                if measure_kl {
                    log_q_term += self.vals[e] * (1.0 + d2).ln();
                }
            }
            *g = [0, 1].map(|c| exaggeration * attraction[c] - repulsion[i][c] / sum_q);
        }
        for (i, grad_i) in gradient.iter().enumerate() {
            for (c, &grad) in grad_i.iter().enumerate() {
                let gain = &mut self.gains[i][c];
                // Grow the step while the gradient keeps its direction (update opposes gradient), shrink otherwise.
                *gain = if grad * self.update[i][c] < 0.0 { *gain + 0.2 } else { *gain * 0.8 };
                *gain = gain.max(0.01);
                self.update[i][c] = momentum * self.update[i][c] - self.learning_rate * *gain * grad;
                self.y[i][c] += self.update[i][c];
            }
        }
        // Keep the map centred (t-SNE is translation invariant; this stops a slow drift).
        let mut mean = [0.0f64; 2];
        for p in &self.y {
            mean[0] += p[0];
            mean[1] += p[1];
        }
        for p in &mut self.y {
            p[0] -= mean[0] / n as f64;
            p[1] -= mean[1] / n as f64;
        }
        if measure_kl {
            // KL(P||Q) = sum p log p - sum p log q, with q_ij = 1 / ((1 + d_ij^2) Z) and sum p = 1.
            self.kl_divergence = self.p_entropy_term + log_q_term + sum_q.ln();
        }
    }
}

fn check_params(p: &TsneParams) -> Result<()> {
    let bad = |name, message: String| Err(DiscoveryError::InvalidParameter { name, message });
    if !(p.perplexity.is_finite() && p.perplexity >= 1.0) {
        return bad("perplexity", format!("{} (must be a number of at least 1)", p.perplexity));
    }
    if !(p.theta.is_finite() && (0.0..=1.0).contains(&p.theta)) {
        return bad("theta", format!("{} (must be between 0 and 1)", p.theta));
    }
    if !(p.exaggeration.is_finite() && p.exaggeration >= 1.0) {
        return bad("exaggeration", format!("{} (must be at least 1)", p.exaggeration));
    }
    if let Some(lr) = p.learning_rate
        && !(lr.is_finite() && lr > 0.0)
    {
        return bad("learning rate", format!("{lr} (must be positive)"));
    }
    Ok(())
}

/// A quadtree over the map points, rebuilt every iteration (O(n log n)); nodes live in one vector.
#[derive(Default)]
struct QuadTree {
    nodes: Vec<Node>,
    /// Point indices, arranged so each node's points are one contiguous range.
    order: Vec<u32>,
}

#[derive(Clone, Copy)]
struct Node {
    centre_of_mass: [f64; 2],
    /// Width of the square cell, squared (what the opening criterion compares).
    width2: f64,
    count: u32,
    /// Index of the first of four consecutive children; 0 for a leaf (the root is never a child).
    first_child: u32,
    start: u32,
    end: u32,
}

/// Deeper than this, points are (numerically) on top of each other and share a leaf.
const MAX_DEPTH: usize = 40;

impl QuadTree {
    fn build(&mut self, y: &[[f64; 2]]) {
        self.nodes.clear();
        self.order.clear();
        self.order.extend(0..y.len() as u32);
        let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
        for p in y {
            for c in 0..2 {
                lo[c] = lo[c].min(p[c]);
                hi[c] = hi[c].max(p[c]);
            }
        }
        let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
        let half = ((hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0) * (1.0 + 1e-9) + 1e-12;
        self.nodes.push(Node { centre_of_mass: [0.0; 2], width2: 0.0, count: 0, first_child: 0, start: 0, end: y.len() as u32 });
        self.fill(0, centre, half, y, 0);
    }

    fn fill(&mut self, node: usize, centre: [f64; 2], half: f64, y: &[[f64; 2]], depth: usize) {
        let (start, end) = (self.nodes[node].start as usize, self.nodes[node].end as usize);
        let mut com = [0.0; 2];
        for &i in &self.order[start..end] {
            com[0] += y[i as usize][0];
            com[1] += y[i as usize][1];
        }
        let count = end - start;
        if count > 0 {
            com = [com[0] / count as f64, com[1] / count as f64];
        }
        let n = &mut self.nodes[node];
        n.centre_of_mass = com;
        n.count = count as u32;
        n.width2 = 4.0 * half * half;
        if count <= 1 || depth >= MAX_DEPTH {
            return;
        }
        // Partition the node's points into the quadrants: first by x, then each half by y.
        let slice = &mut self.order[start..end];
        let west = partition(slice, |i| y[i as usize][0] < centre[0]);
        let south_west = partition(&mut slice[..west], |i| y[i as usize][1] < centre[1]);
        let south_east = partition(&mut slice[west..], |i| y[i as usize][1] < centre[1]);
        let bounds = [start, start + south_west, start + west, start + west + south_east, end];
        let first = self.nodes.len();
        self.nodes[node].first_child = first as u32;
        let q = half / 2.0;
        let centres = [
            [centre[0] - q, centre[1] - q],
            [centre[0] - q, centre[1] + q],
            [centre[0] + q, centre[1] - q],
            [centre[0] + q, centre[1] + q],
        ];
        for c in 0..4 {
            self.nodes.push(Node {
                centre_of_mass: [0.0; 2],
                width2: 0.0,
                count: 0,
                first_child: 0,
                start: bounds[c] as u32,
                end: bounds[c + 1] as u32,
            });
        }
        for (c, &child_centre) in centres.iter().enumerate() {
            self.fill(first + c, child_centre, q, y, depth + 1);
        }
    }

    /// Adds the unnormalised repulsive force on point `i` to `force` and returns its share of Z = sum q.
    fn repulsion(&self, i: usize, y: &[[f64; 2]], theta2: f64, force: &mut [f64; 2], stack: &mut Vec<u32>) -> f64 {
        let p = y[i];
        let mut sum_q = 0.0;
        stack.clear();
        stack.push(0);
        while let Some(ni) = stack.pop() {
            let node = &self.nodes[ni as usize];
            if node.count == 0 {
                continue;
            }
            if node.first_child == 0 {
                for &j in &self.order[node.start as usize..node.end as usize] {
                    if j as usize == i {
                        continue;
                    }
                    let (dx, dy) = (p[0] - y[j as usize][0], p[1] - y[j as usize][1]);
                    let q = 1.0 / (1.0 + dx * dx + dy * dy);
                    sum_q += q;
                    force[0] += q * q * dx;
                    force[1] += q * q * dy;
                }
                continue;
            }
            let (dx, dy) = (p[0] - node.centre_of_mass[0], p[1] - node.centre_of_mass[1]);
            let d2 = dx * dx + dy * dy;
            if node.width2 < theta2 * d2 {
                let q = 1.0 / (1.0 + d2);
                let m = node.count as f64 * q;
                sum_q += m;
                force[0] += m * q * dx;
                force[1] += m * q * dy;
            } else {
                for c in 0..4 {
                    stack.push(node.first_child + c);
                }
            }
        }
        sum_q
    }
}

/// Moves the items satisfying `pred` to the front; returns how many there are.
fn partition(s: &mut [u32], pred: impl Fn(u32) -> bool) -> usize {
    let mut k = 0;
    for i in 0..s.len() {
        if pred(s[i]) {
            s.swap(i, k);
            k += 1;
        }
    }
    k
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::discovery::quality::knn_overlap;
    use crate::discovery::synthetic::gaussian_blobs;
    use crate::discovery::{prepare, trustworthiness};

    fn map(data: &Embeddings, params: TsneParams) -> Embeddings {
        let flat = Tsne::new(data, params).unwrap().run().into_iter().flatten().collect();
        Embeddings::from_flat(flat, 2).unwrap()
    }

    #[test]
    fn separates_blobs_and_preserves_neighbourhoods() {
        let (data, labels) = gaussian_blobs(5, 60, 64, 0.6, 1).unwrap();
        let prepared = prepare(&data, 20, 0).unwrap();
        let y = map(&prepared.reduced, TsneParams { iterations: 500, ..Default::default() });
        let t = trustworthiness(&prepared.normalised, &y, 10).unwrap();
        // A linear map (the first two principal components) is the baseline to beat (0.935 on this data).
        let pca2 = Pca::fit(&prepared.normalised, 2, 0).unwrap().transform(&prepared.normalised).unwrap();
        let t_pca = trustworthiness(&prepared.normalised, &pca2, 10).unwrap();
        assert!(t > 0.94 && t > t_pca, "trustworthiness {t} (PCA: {t_pca})");
        let overlap = knn_overlap(&prepared.normalised, &y, 10).unwrap();
        assert!(overlap > 0.3, "10-NN overlap {overlap}");
        // Every point's nearest map neighbour comes from its own blob.
        let g = crate::discovery::knn_graph(&y, 1).unwrap();
        let same = (0..y.len()).filter(|&i| labels[g.neighbours(i)[0]] == labels[i]).count();
        assert!(same as f64 / y.len() as f64 > 0.98, "1-NN agreement {same}/{}", y.len());
    }

    #[test]
    fn steps_report_progress_and_kl_falls_after_exaggeration() {
        let (data, _) = gaussian_blobs(3, 40, 16, 0.5, 2).unwrap();
        let mut run = Tsne::new(&data, TsneParams { iterations: 400, ..Default::default() }).unwrap();
        assert_eq!(run.progress().iteration, 0);
        let mut kls = Vec::new();
        loop {
            let p = run.step(50);
            assert!(p.kl_divergence.is_finite(), "{p:?}");
            kls.push(p.kl_divergence);
            if p.done {
                assert_eq!(p.iteration, 400);
                break;
            }
        }
        assert_eq!(kls.len(), 8);
        // After exaggeration ends (iteration 250), KL keeps falling or levels off.
        assert!(kls[7] <= kls[5] + 1e-6, "{kls:?}");
        assert!(kls[7] < 2.0, "final KL {} too high for clean blobs", kls[7]);
        assert_eq!(run.step(10).iteration, 400, "a finished run stays finished");
    }

    #[test]
    fn same_seed_same_map() {
        let (data, _) = gaussian_blobs(3, 30, 10, 0.5, 3).unwrap();
        let p = TsneParams { iterations: 300, seed: 9, ..Default::default() };
        let a = Tsne::new(&data, p.clone()).unwrap().run();
        let b = Tsne::new(&data, p).unwrap().run();
        assert_eq!(a, b);
    }

    #[test]
    fn tiny_and_degenerate_inputs_work_or_fail_cleanly() {
        let one = Embeddings::from_flat(vec![1.0, 2.0], 2).unwrap();
        let run = Tsne::new(&one, TsneParams::default()).unwrap();
        assert!(run.is_done());
        assert_eq!(run.run(), vec![[0.0, 0.0]]);
        for n in [2usize, 3, 5] {
            let data = Embeddings::from_flat((0..n * 3).map(|v| (v as f32 * 0.37).sin()).collect(), 3).unwrap();
            let y = Tsne::new(&data, TsneParams { iterations: 100, ..Default::default() }).unwrap().run();
            assert_eq!(y.len(), n);
            assert!(y.iter().flatten().all(|v| v.is_finite()));
        }
        // All points identical: finite coordinates, no panic.
        let same = Embeddings::from_flat(vec![0.5; 40], 4).unwrap();
        let y = Tsne::new(&same, TsneParams { iterations: 50, ..Default::default() }).unwrap().run();
        assert!(y.iter().flatten().all(|v| v.is_finite()));
        let bad = TsneParams { perplexity: f64::NAN, ..Default::default() };
        assert!(matches!(Tsne::new(&one, bad), Err(DiscoveryError::InvalidParameter { .. })));
        assert!(Tsne::new(&one, TsneParams { theta: 2.0, ..Default::default() }).is_err());
    }

    #[test]
    fn barnes_hut_repulsion_is_close_to_exact() {
        let mut rng = SplitMix64::new(4);
        let y: Vec<[f64; 2]> = (0..300).map(|_| [rng.normal() * 5.0, rng.normal() * 5.0]).collect();
        let mut tree = QuadTree::default();
        tree.build(&y);
        let mut stack = Vec::new();
        for i in [0usize, 17, 150, 299] {
            let mut exact = [0.0; 2];
            let mut exact_q = 0.0;
            // Sum of the magnitudes of all pair forces: the scale the approximation error is relative to.
            let mut magnitude = 0.0;
            for j in 0..y.len() {
                if j != i {
                    let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
                    let q = 1.0 / (1.0 + dx * dx + dy * dy);
                    exact_q += q;
                    exact[0] += q * q * dx;
                    exact[1] += q * q * dy;
                    magnitude += q * q * (dx * dx + dy * dy).sqrt();
                }
            }
            let mut f = [0.0; 2];
            let zero = tree.repulsion(i, &y, 0.0, &mut f, &mut stack);
            assert!((zero - exact_q).abs() < 1e-9 * exact_q, "theta 0 must be exact");
            let mut f = [0.0; 2];
            let q = tree.repulsion(i, &y, 0.5 * 0.5, &mut f, &mut stack);
            assert!((q - exact_q).abs() < 0.02 * exact_q, "sum q {q} vs {exact_q}");
            let err = ((f[0] - exact[0]).powi(2) + (f[1] - exact[1]).powi(2)).sqrt();
            assert!(err < 0.02 * magnitude, "force error {err} vs sum of |f| {magnitude}");
            assert!(err > 0.0, "theta 0.5 should approximate, not compute exactly");
        }
    }
}
