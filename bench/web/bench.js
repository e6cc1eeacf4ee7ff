// In-page side of bench/bench-ort-web.mjs: load one runtime on one backend, then time the whole GlitchNet
// (probabilities and embedding of `batch` glitches x 4 views) on the same preprocessed input for both runtimes.
// Each returns { loadMs, times: [ms...], warmupMs, probabilities } (probabilities of the first run, for the
// "same network" check). Times are wall clock around one call, outputs read back to JavaScript.

const VIEWS = 4;

/** The inputs of bench_native and bench_torch: ((i*7919 + j*31) % 255 - 127) / 128 for image i, value j. */
function inputs(batch, height, width) {
  const per = 3 * height * width;
  const x = new Float32Array(batch * VIEWS * per);
  for (let i = 0; i < batch * VIEWS; i++) {
    for (let j = 0; j < per; j++) x[i * per + j] = (((i * 7919 + j * 31) % 255) - 127) / 128;
  }
  return x;
}

async function timed(runs, once) {
  let started = performance.now();
  const first = await once();
  const warmupMs = performance.now() - started;
  const times = [];
  for (let r = 0; r < runs; r++) {
    started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return { warmupMs, times, probabilities: Array.from(first) };
}

/** Ours: the wasm package of www/pkg on backend 'cpu' or 'webgpu', the default model card. */
window.benchOurs = async ({ backend, batch, runs, height, width }) => {
  const started = performance.now();
  const wasm = await import('/pkg/glitchscope.js');
  await wasm.default();
  const classifier = await wasm.GlitchClassifier.load('/models/default.json', backend);
  const loadMs = performance.now() - started;
  if (classifier.backend !== backend) throw new Error(`asked for ${backend}, got ${classifier.backend}`);
  const x = inputs(batch, height, width);
  return { loadMs, ...(await timed(runs, () => classifier.classifyTensor(x, batch))) };
};

/** Ours on the CPU with `workers` workers (bench/web/pool-worker.js), as the page's pool runs it
 * (www/classifier-client.js): each its own wasm instance and model, the batch's glitches split between them. */
window.benchOursWorkers = async ({ batch, runs, height, width, workers }) => {
  const started = performance.now();
  const pool = Array.from({ length: workers }, () => new Worker('/pool-worker.js', { type: 'module' }));
  const ask = (worker, message, transfer = []) =>
    new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => (data.type === 'error' ? reject(new Error(data.message)) : resolve(data));
      worker.postMessage(message, transfer);
    });
  await Promise.all(pool.map((w) => ask(w, { type: 'load' })));
  const loadMs = performance.now() - started;
  const x = inputs(batch, height, width);
  const per = x.length / batch;
  // Contiguous shares of the glitches, sizes differing by at most one; only workers with a share take part.
  const shares = pool.map((_, i) => [Math.floor((i * batch) / workers), Math.floor(((i + 1) * batch) / workers)]);
  const once = async () => {
    const parts = await Promise.all(
      shares.filter(([a, b]) => b > a).map(([a, b], i) => {
        const part = x.slice(a * per, b * per);
        return ask(pool[i], { type: 'classify', x: part, n: b - a }, [part.buffer]);
      }),
    );
    return parts.flatMap((p) => p.probabilities);
  };
  try {
    return { loadMs, workers, ...(await timed(runs, once)) };
  } finally {
    for (const w of pool) w.terminate();
  }
};

/** onnxruntime-web (bench/node_modules) on execution provider 'wasm' or 'webgpu', the exported GlitchNet. */
window.benchOrt = async ({ ep, batch, runs, height, width, threads }) => {
  const started = performance.now();
  const ort = await import('/ort/ort.webgpu.min.mjs');
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.wasm.numThreads = threads;
  const session = await ort.InferenceSession.create(`/onnx/glitchnet-b${batch}.onnx`, {
    executionProviders: [ep],
    graphOptimizationLevel: 'all',
  });
  const loadMs = performance.now() - started;
  const feeds = {
    views: new ort.Tensor('float32', inputs(batch, height, width), [batch, VIEWS, 3, height, width]),
    mask: new ort.Tensor('float32', new Float32Array(batch * VIEWS).fill(1), [batch, VIEWS]),
  };
  const result = await timed(runs, async () => {
    const out = await session.run(feeds);
    // Read both outputs back to JavaScript (on WebGPU this downloads them), as ours does.
    const probs = await out.probabilities.getData();
    await out.embedding.getData();
    return probs;
  });
  return { loadMs, crossOriginIsolated: self.crossOriginIsolated, ...result };
};

/** Ours, CPU backend: the backbone operation by operation (GlitchClassifier.profileBackbone, docs/profile.md),
 * `runs` timed passes after one warm-up, with the fused CPU kernels or Burn's own operations; returns every
 * pass's rows. */
window.profileOurs = async ({ batch, runs, height, width, fused }) => {
  const wasm = await import('/pkg/glitchscope.js');
  await wasm.default();
  wasm.setFusedCpuKernels(fused);
  const classifier = await wasm.GlitchClassifier.load('/models/default.json', 'cpu');
  const x = inputs(batch, height, width);
  classifier.profileBackbone(x, batch);
  const passes = [];
  for (let r = 0; r < runs; r++) passes.push(classifier.profileBackbone(x, batch));
  return { passes };
};

window.benchReady = true;
