//! A softmax-regression head trained on reference embeddings of the known classes only: what the benchmark's
//! head-based unfamiliar scores (maximum probability, energy) and its few-shot runs use, so that a left-out class
//! never shapes the head that scores it. Trained on the reduced (PCA) coordinates, full batch, Adam, with
//! class-balanced weights (a class of 3 real glitches counts as much as Blip's 89).

/// Weights `classes x (dim + 1)` (the last column is the bias).
pub struct LinearHead {
    pub classes: usize,
    dim: usize,
    w: Vec<f32>,
}

const STEPS: usize = 300;
const LEARNING_RATE: f32 = 0.05;
const L2: f32 = 1e-3;

impl LinearHead {
    /// Fit on `rows` (each `dim` long, standardised) with class indices `labels` in `0..classes`.
    pub fn fit(rows: &[Vec<f32>], labels: &[usize], classes: usize) -> Self {
        let dim = rows.first().map_or(0, Vec::len);
        let stride = dim + 1;
        let n = rows.len().max(1);
        let mut counts = vec![0usize; classes];
        labels.iter().for_each(|&c| counts[c] += 1);
        let present = counts.iter().filter(|&&c| c > 0).count().max(1);
        let weight: Vec<f32> = labels.iter().map(|&c| n as f32 / (present * counts[c]) as f32).collect();
        let mut w = vec![0.0f32; classes * stride];
        let (mut m, mut v) = (vec![0.0f32; w.len()], vec![0.0f32; w.len()]);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let mut grad = vec![0.0f32; w.len()];
        let mut logits = vec![0.0f32; classes];
        for step in 1..=STEPS {
            grad.iter_mut().for_each(|g| *g = 0.0);
            for ((x, &y), &wt) in rows.iter().zip(labels).zip(&weight) {
                forward(&w, dim, classes, x, &mut logits);
                softmax_in_place(&mut logits);
                for c in 0..classes {
                    let d = wt * (logits[c] - if c == y { 1.0 } else { 0.0 }) / n as f32;
                    if d == 0.0 {
                        continue;
                    }
                    let g = &mut grad[c * stride..(c + 1) * stride];
                    g[..dim].iter_mut().zip(x).for_each(|(g, &xi)| *g += d * xi);
                    g[dim] += d;
                }
            }
            for c in 0..classes {
                for j in 0..dim {
                    grad[c * stride + j] += L2 * w[c * stride + j];
                }
            }
            let (c1, c2) = (1.0 - b1.powi(step as i32), 1.0 - b2.powi(step as i32));
            for i in 0..w.len() {
                m[i] = b1 * m[i] + (1.0 - b1) * grad[i];
                v[i] = b2 * v[i] + (1.0 - b2) * grad[i] * grad[i];
                w[i] -= LEARNING_RATE * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
            }
        }
        Self { classes, dim, w }
    }

    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0; self.classes];
        forward(&self.w, self.dim, self.classes, x, &mut out);
        out
    }
}

fn forward(w: &[f32], dim: usize, classes: usize, x: &[f32], out: &mut [f32]) {
    let stride = dim + 1;
    for (c, o) in out.iter_mut().enumerate().take(classes) {
        let row = &w[c * stride..(c + 1) * stride];
        *o = row[..dim].iter().zip(x).map(|(a, b)| a * b).sum::<f32>() + row[dim];
    }
}

pub fn softmax_in_place(z: &mut [f32]) {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    z.iter_mut().for_each(|v| {
        *v = (*v - max).exp();
        sum += *v;
    });
    z.iter_mut().for_each(|v| *v /= sum);
}

/// `log sum exp` of logits: minus the energy score of Liu et al. (2020).
pub fn log_sum_exp(z: &[f32]) -> f32 {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f32>().ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_two_clusters() {
        let rows: Vec<Vec<f32>> = (0..40).map(|i| if i < 20 { vec![1.0 + (i as f32) * 0.01, 0.0] } else { vec![0.0, 1.0] }).collect();
        let labels: Vec<usize> = (0..40).map(|i| usize::from(i >= 20)).collect();
        let head = LinearHead::fit(&rows, &labels, 2);
        let mut a = head.logits(&[1.0, 0.0]);
        softmax_in_place(&mut a);
        let mut b = head.logits(&[0.0, 1.0]);
        softmax_in_place(&mut b);
        assert!(a[0] > 0.9 && b[1] > 0.9, "{a:?} {b:?}");
    }
}
