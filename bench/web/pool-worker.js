// One worker of benchOursWorkers (bench.js): its own wasm instance and model on the CPU backend, as a worker of
// the page's pool (www/classifier-client.js). In: {x: Float32Array, n} (n glitches x 4 views, preprocessed);
// out: {probabilities}.

let classifier = null;

self.onmessage = async ({ data }) => {
  try {
    if (data.type === 'load') {
      const wasm = await import('/pkg/glitchscope.js');
      await wasm.default();
      classifier = await wasm.GlitchClassifier.load('/models/default.json', 'cpu');
      self.postMessage({ type: 'ready' });
      return;
    }
    const probabilities = await classifier.classifyTensor(data.x, data.n);
    self.postMessage({ type: 'done', probabilities: Array.from(probabilities) });
  } catch (err) {
    self.postMessage({ type: 'error', message: String(err?.message ?? err) });
  }
};
