"""Check the PyTorch GlitchNet computes our network, then export it to ONNX for onnxruntime-web.

    python bench/export_onnx.py EXPORT_DIR OUT_DIR [--batch 1,16]

EXPORT_DIR is what `bench_native export` wrote (weights/, input.npy, mask.npy, logits.npy: one real glitch
through our preprocessing and our logits for it). Fails (exit 1) when PyTorch's logits differ from ours by more
than the tolerance: then the two are not the same network and no timing comparison means anything. Writes
OUT_DIR/glitchnet-b{B}.onnx (inputs `views` [B, 4, 3, H, W] and `mask` [B, 4]; outputs `probabilities` [B, C]
and `embedding` [B, 1280]) and checks each with onnxruntime (CPU) against PyTorch. Prints one JSON line.
"""

import argparse
import json
import os
import sys
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glitchnet import Classify, load, temperature  # noqa: E402

# Logits here are O(10-30); f32 on two implementations differ in summation order only.
TOLERANCE = 1e-2


def main():
    # The tracer's notes on the constant SAME paddings and the legacy exporter: expected, static shapes here.
    warnings.filterwarnings("ignore")
    parser = argparse.ArgumentParser()
    parser.add_argument("export_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--batch", default="1,16")
    args = parser.parse_args()
    net = load(os.path.join(args.export_dir, "weights")).eval()
    views = torch.from_numpy(np.load(os.path.join(args.export_dir, "input.npy")))
    mask = torch.from_numpy(np.load(os.path.join(args.export_dir, "mask.npy")))
    ours = np.load(os.path.join(args.export_dir, "logits.npy"))
    with torch.no_grad():
        logits, _ = net(views, mask)
    diff = float(np.abs(logits.numpy() - ours).max())
    same_top = int(logits.argmax()) == int(ours.argmax())
    report = {"parity_max_abs_logit_diff": diff, "parity_same_top1": same_top, "parity_logit_scale": float(np.abs(ours).max())}
    if diff > TOLERANCE or not same_top:
        print(json.dumps(report))
        sys.exit(f"export_onnx: PyTorch logits differ from ours by {diff:.3g} (> {TOLERANCE}): not the same network")

    import onnxruntime as ort

    os.makedirs(args.out_dir, exist_ok=True)
    model = Classify(net, temperature(args.export_dir)).eval()
    for b in [int(x) for x in args.batch.split(",")]:
        # Glitch i of the batch is the reference glitch, every view present.
        v = views.repeat(b, 1, 1, 1, 1)
        m = torch.ones(b, mask.shape[1])
        path = os.path.join(args.out_dir, f"glitchnet-b{b}.onnx")
        torch.onnx.export(
            model, (v, m), path, input_names=["views", "mask"], output_names=["probabilities", "embedding"],
            opset_version=17, dynamo=False,
        )
        with torch.no_grad():
            probs, emb = model(v, m)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        got_probs, got_emb = session.run(None, {"views": v.numpy(), "mask": m.numpy()})
        report[f"onnx_b{b}_max_abs_prob_diff"] = float(np.abs(got_probs - probs.numpy()).max())
        report[f"onnx_b{b}_max_abs_embedding_diff"] = float(np.abs(got_emb - emb.numpy()).max())
        report[f"onnx_b{b}_bytes"] = os.path.getsize(path)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
