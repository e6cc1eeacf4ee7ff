"""PyTorch (CPU) twin of `bench_native train-profile` (issue 13, docs/speed.md): the same layers at the same shapes,
each convolution, the training-mode batch norm after it and its ReLU6 timed alone, forward and backward apart,
medians after one warm-up.

    python bench/train_profile_torch.py OURS.json [--threads 2] [--runs 3] > torch.json

OURS.json is what `bench_native train-profile` printed (its `layers` give the shapes).
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def timed(runs, make_input, f):
    def once():
        x = make_input()
        started = time.perf_counter()
        y = f(x)
        forward = (time.perf_counter() - started) * 1e3
        started = time.perf_counter()
        y.sum().backward()
        return forward, (time.perf_counter() - started) * 1e3

    once()
    fw, bw = zip(*[once() for _ in range(runs)])
    return statistics.median(fw), statistics.median(bw)


def same_pad(x, k, s):
    """TF "SAME" padding (what our EfficientNet uses), applied before the convolution as bench/glitchnet.py does."""
    h, w = x.shape[-2:]
    ph = max((-(-h // s) - 1) * s + k - h, 0)
    pw = max((-(-w // s) - 1) * s + k - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ours")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    layers = json.load(open(a.ours))["layers"]
    out = []
    for l in layers:
        conv = torch.nn.Conv2d(l["c_in"], l["c_out"], l["k"], stride=l["stride"], groups=l["groups"], bias=False)
        bn = torch.nn.BatchNorm2d(l["c_out"], eps=1e-3).train()
        shape = (l["n"], l["c_in"], l["h"], l["w"])
        x0 = torch.rand(shape) * 2 - 1
        with torch.no_grad():
            y0 = conv(same_pad(x0, l["k"], l["stride"]))
        conv_t = timed(a.runs, lambda: x0.clone().requires_grad_(), lambda x: conv(same_pad(x, l["k"], l["stride"])))
        bn_t = timed(a.runs, lambda: y0.clone().requires_grad_(), bn)
        relu_t = timed(a.runs, lambda: y0.clone().requires_grad_(), lambda y: F.relu6(y)) if l["relu6"] else (0.0, 0.0)
        print(f"[train_profile_torch] {l['layer']} {l['kind']}: conv {conv_t[0]:.1f}/{conv_t[1]:.1f} ms", file=sys.stderr)
        out.append({
            "layer": l["layer"], "kind": l["kind"],
            "conv_forward_ms": conv_t[0], "conv_backward_ms": conv_t[1],
            "bn_forward_ms": bn_t[0], "bn_backward_ms": bn_t[1],
            "relu6_forward_ms": relu_t[0], "relu6_backward_ms": relu_t[1],
        })
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "times": out}))


if __name__ == "__main__":
    main()
