"""Markdown report of scripts/bench-compare.sh (docs/bench-compare.md) from the JSON its steps wrote.

    python3 bench/report.py WORK_DIR OUT.md   (standard library only)

WORK_DIR holds parity.json (bench/export_onnx.py), native-ours.json (bench_native time), native-torch.json
(bench/bench_torch.py), web.json (bench/bench-ort-web.mjs), sizes.json and meta.json (the script).
"""

import json
import os
import sys


def load(work, name):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def ms(x):
    return f"{x:,.0f} ms"


def ratio(ours, theirs, higher_is_better=False):
    """us/them, with a word on who wins (for times lower is better)."""
    r = ours / theirs
    better = r > 1 if higher_is_better else r < 1
    return f"**{r:.2f}**" + (" (ours faster)" if better else " (ours slower)")


def spread(xs):
    """Smallest and largest timed value: how much the machine disturbed the median."""
    return f"<br>({min(xs):,.0f} – {max(xs):,.0f})" if len(xs) > 1 else ""


def mib(n):
    return f"{n / 2**20:.2f} MiB"


def main():
    work, out = sys.argv[1], sys.argv[2]
    meta = load(work, "meta.json")
    parity = load(work, "parity.json")
    ours = load(work, "native-ours.json")
    torch = load(work, "native-torch.json")
    web = load(work, "web.json")
    sizes = load(work, "sizes.json")
    lines = [
        "# GlitchScope vs onnxruntime-web and PyTorch",
        "",
        "Made by `scripts/bench-compare.sh` (issue #7); the numbers below are from one run of it. The same network",
        "on both sides: the default model (models/default.json) exported tensor by tensor (trainer/examples/bench_native),",
        "loaded into a PyTorch definition of GlitchNet (bench/glitchnet.py) and exported from there to ONNX.",
        "",
        f"- Date: {meta['date']}; the whole command took {meta['duration_s'] / 60:.1f} min",
        f"- Command: `{meta['command']}`",
        f"- CPU: {meta['cpu']}, {meta['cores']} logical cores",
        f"- Load average before / after: {meta['load_before']} / {meta['load_after']} (1, 5, 15 min)"
        + (" — **the machine was busy: the numbers are disturbed, rerun on a quiet machine**" if meta["busy"] else ""),
        f"- Chromium: {meta['chromium']}; WebGPU there is SwiftShader (software), as in docs/bench-web.md",
        f"- PyTorch {torch['torch'] if torch else '?'} (PyPI wheel, run on the CPU), onnxruntime-web {meta['ort_web']}",
        f"- Input: {meta['height']}x{meta['width']} (HxW) RGB, 4 views per glitch, every view present; "
        "a batch of B glitches is 4B images through the backbone for every runtime",
        "",
        "## Same network",
        "",
    ]
    if parity:
        lines += [
            f"- PyTorch vs ours, native, one real glitch ({meta['reference']}): max |Δ logit| = "
            f"{parity['parity_max_abs_logit_diff']:.2g} (logits up to {parity['parity_logit_scale']:.1f}), same top-1: "
            f"{'yes' if parity['parity_same_top1'] else 'NO'}",
            f"- ONNX (onnxruntime, Python) vs PyTorch: max |Δ probability| = {parity['onnx_b1_max_abs_prob_diff']:.2g}, "
            f"max |Δ embedding| = {parity['onnx_b1_max_abs_embedding_diff']:.2g}",
        ]
    if web:
        worst = max(r["maxAbsProbabilityDiff"] for r in web["results"])
        lines.append(f"- In the browser, ours vs onnxruntime-web on the same input: max |Δ probability| = {worst:.2g} over every row below")
    lines += ["", "## Browser: time per batch (headless Chromium)", ""]
    if web:
        lines += [
            "Wall time around one call (probabilities and embedding read back to JavaScript), median (min – max) of the",
            "timed runs after one warm-up; both in the page's main thread. Ours: `GlitchClassifier.classifyTensor` (www/pkg);",
            f"ORT: `InferenceSession.run` with {web['results'][0]['ort']['threads']} wasm thread(s) "
            + (f"(ours on the CPU: {max(r['ours'].get('workers', 0) for r in web['results'])} workers, each a single-threaded "
               "wasm instance with the batch's glitches shared out, as the page's pool runs them)."
               if max(r['ours'].get('workers', 0) for r in web['results']) > 1 else "(ours is single-threaded in wasm)."),
            "",
            "| backend: ours vs ORT | batch (glitches) | runs | ours median | ORT median | us/ORT | ours per glitch | ORT per glitch |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in web["results"]:
            o, t, b = r["ours"]["medianMs"], r["ort"]["medianMs"], r["batch"]
            lines.append(
                f"| {r['backend']} vs {r['ortEp']} | {b} | {r['runs']} | {ms(o)}{spread(r['ours']['times'])} | {ms(t)}{spread(r['ort']['times'])} | {ratio(o, t)} | {ms(o / b)} | {ms(t / b)} |"
            )
    else:
        lines.append("(not run)")
    lines += ["", "## Native: CPU, batch of " + (str(ours["batch"]) if ours else "?") + " glitches", ""]
    if ours and torch:
        lines += [
            f"Ours: Burn flex backend (rayon, {ours['threads']} threads); PyTorch: `torch.set_num_threads({torch['threads']})`.",
            "Inference = probabilities and embedding (eval mode); a training step = forward in training mode over every",
            "layer, cross-entropy, backward, AdamW, loss read back. Median (min – max) after one warm-up.",
            "",
            "| | ours | PyTorch | us/PyTorch |",
            "|---|---:|---:|---:|",
            f"| inference, ms per batch ({len(ours['infer_ms'])} / {len(torch['infer_ms'])} runs) | {ms(ours['infer_ms_median'])}{spread(ours['infer_ms'])} | "
            f"{ms(torch['infer_ms_median'])}{spread(torch['infer_ms'])} | {ratio(ours['infer_ms_median'], torch['infer_ms_median'])} |",
            f"| inference throughput, glitches/s | {ours['glitches_per_s']:.2f} | {torch['glitches_per_s']:.2f} | "
            f"{ratio(ours['glitches_per_s'], torch['glitches_per_s'], higher_is_better=True)} |",
            f"| training step, ms ({len(ours['train_step_ms'])} / {len(torch['train_step_ms'])} steps) | "
            f"{ms(ours['train_step_ms_median'])}{spread(ours['train_step_ms'])} | "
            f"{ms(torch['train_step_ms_median'])}{spread(torch['train_step_ms'])} | "
            f"{ratio(ours['train_step_ms_median'], torch['train_step_ms_median'])} |",
        ]
        for part in ("forward", "backward", "optimizer"):
            key = f"train_{part}_ms_median"
            if key in ours and key in torch:
                lines.append(f"| – of which {part} (median) | {ms(ours[key])} | {ms(torch[key])} | {ratio(ours[key], torch[key])} |")
    else:
        lines.append("(not run)")
    lines += ["", "## Sizes and first load", ""]
    if sizes:
        lines += ["| file | raw | gzip -9 |", "|---|---:|---:|"]
        for s in sizes["files"]:
            lines.append(f"| {s['what']} (`{s['file']}`) | {mib(s['raw'])} | {mib(s['gzip'])} |")
    if web:
        lines += [
            "",
            "First load in a fresh browser profile (nothing cached), in the page: ours = import the wasm package, "
            "instantiate it, `GlitchClassifier.load` (card, weights fetch, sha256, model build, device); ORT = import "
            "ort.webgpu.min.mjs, `InferenceSession.create` (its wasm, the .onnx file, graph optimisation). "
            "Served from 127.0.0.1, so download time is negligible.",
            "",
            "| backend: ours vs ORT | batch | ours first load | ORT first load | ours first (warm-up) call | ORT first call |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for r in web["results"]:
            lines.append(
                f"| {r['backend']} vs {r['ortEp']} | {r['batch']} | {ms(r['ours']['loadMs'])} | {ms(r['ort']['loadMs'])} | "
                f"{ms(r['ours']['warmupMs'])} | {ms(r['ort']['warmupMs'])} |"
            )
        problems = sorted({p for r in web["results"] for side in ("ours", "ort") for p in r[side]["problems"]})
        if problems:
            lines += ["", "Errors the browser logged:", ""] + [f"- {p}" for p in problems]
    text = "\n".join(lines) + "\n"
    with open(out, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
