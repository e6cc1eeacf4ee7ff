"""PyTorch (CPU) inference and training-step times for GlitchNet, measured as `bench_native time` measures ours.

    python bench/bench_torch.py WEIGHTS_DIR [--batch 16] [--runs 10] [--train-runs 5] [--threads 2]

The same batch of glitches with all four views each, the same deterministic inputs and input size; inference =
probabilities and embedding (eval mode, torch.no_grad); a training step = forward in training mode over every
layer, cross-entropy, backward, AdamW (lr 1e-4, weight decay 0.01), loss read back. Medians after one warm-up,
also of the step's three parts (forward + loss read back, backward, optimiser).
Prints one JSON line.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from glitchnet import NUM_VIEWS, Classify, load, temperature  # noqa: E402


def inputs(batch, height, width):
    """The values of trainer/examples/bench_native/timing.rs: ((i*7919 + j*31) % 255 - 127) / 128 per image i."""
    i = np.arange(batch * NUM_VIEWS, dtype=np.int64)[:, None]
    j = np.arange(3 * height * width, dtype=np.int64)[None, :]
    x = (((i * 7919 + j * 31) % 255).astype(np.float32) - 127.0) / 128.0
    return torch.from_numpy(x.reshape(batch, NUM_VIEWS, 3, height, width)), torch.ones(batch, NUM_VIEWS)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("weights_dir")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--train-runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--height", type=int, default=176)
    parser.add_argument("--width", type=int, default=208)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(7)
    net = load(args.weights_dir)
    views, mask = inputs(args.batch, args.height, args.width)

    model = Classify(net, temperature(os.path.dirname(os.path.normpath(args.weights_dir)))).eval()
    infer = []
    with torch.no_grad():
        for i in range(args.runs + 1):
            started = time.perf_counter()
            probs, emb = model(views, mask)
            probs.numpy(), emb.numpy()
            ms = (time.perf_counter() - started) * 1e3
            print(f"[bench_torch] inference {i}/{args.runs}: {ms:.0f} ms", file=sys.stderr)
            if i:
                infer.append(ms)

    net.train()
    targets = torch.arange(args.batch) % net.head.out_features
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()
    train, parts = [], {"forward": [], "backward": [], "optimizer": []}
    for i in range(args.train_runs + 1):
        started = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        logits, _ = net(views, mask)
        loss = loss_fn(logits, targets)
        value = loss.item()
        forward_done = time.perf_counter()
        loss.backward()
        backward_done = time.perf_counter()
        optimizer.step()
        done = time.perf_counter()
        ms = (done - started) * 1e3
        print(f"[bench_torch] train step {i}/{args.train_runs}: {ms:.0f} ms, loss {value:.3f}", file=sys.stderr)
        if i:
            train.append(ms)
            parts["forward"].append((forward_done - started) * 1e3)
            parts["backward"].append((backward_done - forward_done) * 1e3)
            parts["optimizer"].append((done - backward_done) * 1e3)

    infer_ms = statistics.median(infer)
    print(json.dumps({
        "torch": torch.__version__, "threads": torch.get_num_threads(), "batch": args.batch,
        "infer_ms_median": infer_ms, "glitches_per_s": args.batch / (infer_ms / 1e3),
        "train_step_ms_median": statistics.median(train), "infer_ms": infer, "train_step_ms": train,
        **{f"train_{k}_ms_median": statistics.median(v) for k, v in parts.items()},
    }))


if __name__ == "__main__":
    main()
