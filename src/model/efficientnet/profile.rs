//! Where the time of one backbone pass goes, layer by layer (issue 13, docs/profile.md). The same code runs
//! natively (`bench_native profile`) and in the browser (`GlitchClassifier.profileBackbone`), so both profiles
//! come from one implementation; the caller passes its clock, which keeps this module free of the web.
//!
//! Every operation is followed by a device sync, so each time is that operation alone (on the eager CPU
//! backend the sync costs nothing; on a GPU it removes the overlap a real pass would have, so profile the CPU).

use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;
use burn::tensor::activation::relu6;

use super::{EfficientNet, MbConvBlock, cpu_inference, flex_kernels};

/// One operation of the pass.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LayerTime {
    /// `stem`, `block.N` or `head`.
    pub layer: String,
    /// `conv3x3 s2`, `expand 1x1`, `depthwise 5x5 s1`, `project 1x1`, `relu6`, `batch norm`, `residual add`, `pool`.
    pub op: String,
    /// Input shape `[n, c, h, w]`.
    pub input: [usize; 4],
    /// Multiply-accumulates of the operation (0 for element-wise ones).
    pub macs: f64,
    /// Wall time in milliseconds.
    pub ms: f64,
}

/// Times operations one by one with the caller's clock (milliseconds).
struct Timer<'a> {
    now: &'a mut dyn FnMut() -> f64,
    rows: Vec<LayerTime>,
}

impl Timer<'_> {
    fn time(&mut self, layer: &str, op: String, x: Tensor<4>, macs: f64, f: impl FnOnce(Tensor<4>) -> Tensor<4>) -> Tensor<4> {
        let input = x.dims();
        let device = x.device();
        let started = (self.now)();
        let y = f(x);
        // An error here means the device is gone; the next operation reports it, so it is not raised here.
        let _ = device.sync();
        let ms = (self.now)() - started;
        self.rows.push(LayerTime { layer: layer.to_string(), op, input, macs, ms });
        y
    }

    fn conv(&mut self, layer: &str, op: &str, conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
        let [n, _, h, w] = x.dims();
        let [c_out, c_per_group, kh, kw] = conv.weight.val().dims();
        let (oh, ow) = (h.div_ceil(conv.stride[0]), w.div_ceil(conv.stride[1]));
        let macs = (n * c_out * oh * ow * c_per_group * kh * kw) as f64;
        let name = match op {
            "depthwise" | "conv" => format!("{op} {kh}x{kw} s{}", conv.stride[0]),
            _ => format!("{op} {kh}x{kw}"),
        };
        self.time(layer, name, x, macs, |x| conv.forward(x))
    }

    /// The fused pointwise kernel: convolution, bias and, for `relu`, ReLU6 as one operation.
    fn pointwise(&mut self, layer: &str, op: &str, conv: &Conv2d, x: Tensor<4>, relu: bool) -> Tensor<4> {
        let [n, c_in, h, w] = x.dims();
        let [c_out, ..] = conv.weight.val().dims();
        let macs = (n * c_out * h * w * c_in) as f64;
        let name = if relu { format!("{op} 1x1 + relu6 (fused)") } else { format!("{op} 1x1 (fused)") };
        self.time(layer, name, x, macs, |x| flex_kernels::pointwise(x, conv, relu))
    }

    fn relu6(&mut self, layer: &str, x: Tensor<4>) -> Tensor<4> {
        self.time(layer, "relu6".into(), x, 0.0, relu6)
    }
}

impl MbConvBlock {
    fn profile(&self, layer: &str, input: Tensor<4>, timer: &mut Timer) -> Tensor<4> {
        let (mut x, skip) = if self.residual { (input.clone(), Some(input)) } else { (input, None) };
        let cpu = self.folded && cpu_inference::on_cpu_inference_device(&x);
        if let Some(expand) = &self.expand_conv
            && cpu
        {
            x = timer.pointwise(layer, "expand", expand, x, true);
        } else if let (Some(expand), Some(bn)) = (&self.expand_conv, &self.bn0) {
            x = timer.conv(layer, "expand", expand, x);
            if !self.folded {
                x = timer.time(layer, "batch norm".into(), x, 0.0, |x| bn.forward(x));
            }
            x = timer.relu6(layer, x);
        }
        if cpu {
            // What inference runs on the CPU: the fused kernel (one row for convolution, bias and ReLU6).
            let [n, c, h, w] = x.dims();
            let [_, _, k, _] = self.depthwise_conv.weight.val().dims();
            let s = self.depthwise_conv.stride[0];
            let macs = (n * c * h.div_ceil(s) * w.div_ceil(s) * k * k) as f64;
            x = timer.time(layer, format!("depthwise {k}x{k} s{s} + relu6 (fused)"), x, macs, |x| {
                cpu_inference::depthwise_relu6(x, &self.depthwise_conv)
            });
        } else {
            x = timer.conv(layer, "depthwise", &self.depthwise_conv, x);
            if !self.folded {
                x = timer.time(layer, "batch norm".into(), x, 0.0, |x| self.bn1.forward(x));
            }
            x = timer.relu6(layer, x);
        }
        if cpu {
            x = timer.pointwise(layer, "project", &self.project_conv, x, false);
        } else {
            x = timer.conv(layer, "project", &self.project_conv, x);
            if !self.folded {
                x = timer.time(layer, "batch norm".into(), x, 0.0, |x| self.bn2.forward(x));
            }
        }
        match skip {
            Some(input) => timer.time(layer, "residual add".into(), x, 0.0, |x| x + input),
            None => x,
        }
    }
}

impl EfficientNet {
    /// Run the backbone on `images` (`[n, 3, H, W]`) one operation at a time and time each with `now`
    /// (milliseconds, any origin). The features it computes are those of [`EfficientNet::features`].
    pub fn profile(&self, images: Tensor<4>, now: &mut dyn FnMut() -> f64) -> Vec<LayerTime> {
        let mut timer = Timer { now, rows: Vec::new() };
        let mut x = if self.folded && cpu_inference::on_cpu_inference_device(&images) {
            let [n, _, h, w] = images.dims();
            let [co, ci, k, _] = self.conv_stem.weight.val().dims();
            let s = self.conv_stem.stride[0];
            let macs = (n * co * h.div_ceil(s) * w.div_ceil(s) * ci * k * k) as f64;
            timer.time("stem", format!("conv {k}x{k} s{s} + relu6 (fused)"), images, macs, |x| cpu_inference::conv_relu6(x, &self.conv_stem))
        } else {
            let x = timer.conv("stem", "conv", &self.conv_stem, images);
            let x = if self.folded { x } else { timer.time("stem", "batch norm".into(), x, 0.0, |x| self.bn0.forward(x)) };
            timer.relu6("stem", x)
        };
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.profile(&format!("block.{i}"), x, &mut timer);
        }
        if self.folded && cpu_inference::on_cpu_inference_device(&x) {
            x = timer.pointwise("head", "head", &self.conv_head, x, true);
        } else {
            x = timer.conv("head", "head", &self.conv_head, x);
            if !self.folded {
                x = timer.time("head", "batch norm".into(), x, 0.0, |x| self.bn1.forward(x));
            }
            x = timer.relu6("head", x);
        }
        let _ = timer.time("head", "pool".into(), x, 0.0, |x| x.mean_dim(3).mean_dim(2));
        timer.rows
    }
}

/// Totals by operation kind (`depthwise 5x5 s1`, `expand 1x1`, ...), largest first: `(op, calls, ms, macs)`.
pub fn by_op(rows: &[LayerTime]) -> Vec<(String, usize, f64, f64)> {
    let mut out: Vec<(String, usize, f64, f64)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|o| o.0 == r.op) {
            Some(o) => {
                o.1 += 1;
                o.2 += r.ms;
                o.3 += r.macs;
            }
            None => out.push((r.op.clone(), 1, r.ms, r.macs)),
        }
    }
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

#[cfg(test)]
mod tests {
    // In the browser (wasm-pack test), each #[test] below runs as a wasm_bindgen_test.
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;
    use super::*;
    use crate::model::EfficientNetConfig;
    use burn::tensor::{Device, Distribution};

    /// The profile covers every convolution of the network once, counts Lite0's multiply-accumulates, and its
    /// rows' order is the network's.
    #[test]
    fn profile_covers_every_layer() {
        let device = Device::flex();
        let mut net = EfficientNetConfig::new().with_num_classes(0).init(&device);
        net.fold_batch_norms();
        let images = Tensor::<4>::random([1, 3, 224, 224], Distribution::Uniform(-1.0, 1.0), &device);
        let mut t = 0.0;
        let rows = net.profile(images, &mut || {
            t += 1.0;
            t
        });
        let convs = rows.iter().filter(|r| r.macs > 0.0).count();
        // stem + 16 depthwise + 16 project + 15 expand (block 0 has none) + head
        assert_eq!(convs, 1 + 16 + 16 + 15 + 1);
        // On the CPU the folded network runs the fused kernels (stem, depthwise, pointwise): no ReLU6 of its own.
        assert_eq!(rows.iter().filter(|r| r.op.ends_with("(fused)")).count(), 1 + 16 + 16 + 15 + 1);
        assert_eq!(rows.iter().filter(|r| r.op == "relu6").count(), 0);
        assert_eq!(rows.first().unwrap().layer, "stem");
        assert_eq!(rows.last().unwrap().op, "pool");
        // Lite0 at 224 px: 0.39 G multiply-accumulates (Tan & Le's 0.39 B FLOPs counts MACs).
        let gmacs: f64 = rows.iter().map(|r| r.macs).sum::<f64>() / 1e9;
        assert!((0.37..0.41).contains(&gmacs), "{gmacs} GMACs");
        // Each row's time is one tick of the fake clock: one start and one stop reading per operation.
        assert!(rows.iter().all(|r| r.ms == 1.0));
        let totals = by_op(&rows);
        assert_eq!(totals.iter().map(|t| t.1).sum::<usize>(), rows.len());
    }
}
