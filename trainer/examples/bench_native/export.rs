//! The model's tensors and one reference glitch, as .npy files numpy (and so PyTorch) reads directly.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::store::ModuleSnapshot;
use burn::tensor::{Tensor, TensorData};
use glitchscope::inference::Classifier;
use glitchscope::model::GlitchNet;
use glitchscope::views::{GlitchViews, VIEW_COUNT};
use glitchscope::npy::write_npy_f32_file;
use glitchscope::pipeline::{NamedFile, prepare_glitch};

/// `net` is the card's network unfolded (the parameters PyTorch's definition has); `classifier` (folded, fused
/// kernels on the CPU) gives our logits, so the parity check covers what we ship.
pub fn write(classifier: &Classifier, net: &GlitchNet, dir: &Path, views: &[String]) -> Result<()> {
    let weights = dir.join("weights");
    std::fs::create_dir_all(&weights).with_context(|| format!("creating {}", weights.display()))?;
    // Module paths without enum variant names, e.g. `backbone.blocks.3.depthwise_conv.weight`.
    let tensors = net.collect(None, None, true);
    let mut count = 0;
    for tensor in &tensors {
        let name = tensor.name.clone();
        let data = burn::store::bridge::to_data(tensor).map_err(|e| anyhow::anyhow!("reading tensor {name}: {e:?}"))?;
        let shape: Vec<u64> = tensor.shape.iter().map(|&d| d as u64).collect();
        let values: Vec<f32> = data.convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("tensor {name}: {e:?}"))?;
        write_npy_f32_file(weights.join(format!("{name}.npy")), &shape, &values)?;
        count += 1;
    }

    // One glitch through our own preprocessing, so the comparison starts from identical inputs.
    let files = views
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
            let name = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(NamedFile { name, bytes })
        })
        .collect::<Result<Vec<_>>>()?;
    let card = &classifier.card;
    let prepared = prepare_glitch(&files, card.input_spec(), false);
    let Some(glitch) = prepared.views else { bail!("none of the views could be used: {:?}", prepared.reports) };
    let (h, w) = (card.input.height, card.input.width);
    let mut input = vec![0f32; VIEW_COUNT * 3 * h * w];
    let mut mask = vec![0f32; VIEW_COUNT];
    for (v, view) in glitch.iter().enumerate() {
        if let Some(data) = view {
            input[v * 3 * h * w..(v + 1) * 3 * h * w].copy_from_slice(data);
            mask[v] = 1.0;
        }
    }
    write_npy_f32_file(dir.join("input.npy"), &[1, VIEW_COUNT as u64, 3, h as u64, w as u64], &input)?;
    write_npy_f32_file(dir.join("mask.npy"), &[1, VIEW_COUNT as u64], &mask)?;

    let glitches: [GlitchViews; 1] = [glitch];
    let batch = classifier.batch(&glitches)?;
    let out = classifier.model.forward(&batch);
    let logits = read(out.logits)?;
    write_npy_f32_file(dir.join("logits.npy"), &[1, logits.len() as u64], &logits)?;
    // The card's calibration temperature: our probabilities are softmax(logits / T), so the PyTorch and ONNX
    // side divides by the same T (bench/glitchnet.py `Classify`).
    std::fs::write(dir.join("calibration.json"), serde_json::json!({ "temperature": classifier.temperature() }).to_string())
        .context("writing calibration.json")?;
    // The same weights as a f32 Burnpack: the size the browser would download without the fp16 export.
    let mut store = burn::store::BurnpackStore::from_bytes(None);
    net.save_into(&mut store).map_err(|e| anyhow::anyhow!("f32 burnpack: {e}"))?;
    let f32_bytes = store.get_bytes().map_err(|e| anyhow::anyhow!("f32 burnpack: {e}"))?;
    std::fs::write(dir.join("weights-f32.bpk"), &*f32_bytes).context("writing weights-f32.bpk")?;
    println!("wrote {count} tensors to {}, and input.npy, mask.npy, logits.npy ({} views present)", weights.display(), mask.iter().filter(|&&m| m > 0.0).count());
    Ok(())
}

fn read(t: Tensor<2>) -> Result<Vec<f32>> {
    let data: TensorData = t.into_data();
    data.try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("reading logits: {e:?}"))
}
