// Strain upload: a detector time series (GWOSC ASCII .txt or .txt.gz, or a 1-d .npy) becomes the four Gravity Spy
// views in the worker (wasm: strain.rs + spectrogram/, the code of `glitchscope qtransform`), which are then
// classified like uploaded images. Gzip is undone here with the browser's DecompressionStream, with a size cap.

// HDF5 names are taken too, so that they get the message that GWOSC HDF5 is not read (use the ASCII file).
export const STRAIN_NAME = /\.(txt|txt\.gz|npy|hdf5?|h5)$/i;
const MAX_FILE_BYTES = 64 * 1024 * 1024; // 2^20 samples as text is ~25 MB; more cannot be accepted anyway
const MAX_TEXT_BYTES = 128 * 1024 * 1024; // decompressed size cap (a small .gz can expand enormously)

const $ = (id) => document.getElementById(id);

/** The bytes of `file`, gunzipped when its name ends in .gz; errors say what went wrong. */
async function readStrainBytes(file) {
  if (file.size === 0) throw new Error('the file is empty');
  if (file.size > MAX_FILE_BYTES) {
    throw new Error(`the file is ${(file.size / 2 ** 20).toFixed(0)} MiB; GlitchScope takes strain files up to ${MAX_FILE_BYTES / 2 ** 20} MiB (crop the series around the glitch)`);
  }
  if (!/\.gz$/i.test(file.name)) return file.arrayBuffer();
  if (typeof DecompressionStream !== 'function') throw new Error('this browser cannot decompress gzip; upload the .txt file instead');
  const reader = file.stream().pipeThrough(new DecompressionStream('gzip')).getReader();
  const chunks = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > MAX_TEXT_BYTES) {
        await reader.cancel();
        throw new Error(`it decompresses to more than ${MAX_TEXT_BYTES / 2 ** 20} MiB, too large for a strain upload`);
      }
      chunks.push(value);
    }
  } catch (err) {
    if (/decompresses to more/.test(err.message)) throw err;
    throw new Error(`not a valid gzip file (${err.message || err.name})`);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out.buffer;
}

/** A number from an input, null when empty; throws with the field's name when it is not a valid number. */
function numberField(input, what, { positive = false } = {}) {
  const text = input.value.trim();
  if (text === '') return null;
  const value = Number(text);
  if (!Number.isFinite(value) || (positive && value <= 0)) throw new Error(`${what} "${text}" is not a ${positive ? 'positive ' : ''}number`);
  return value;
}

/**
 * Wire the strain panel. `classify(name, bytes, {sampleRate, center})` runs the worker and resolves to the
 * result; `onResult(result)` shows it; `onProblem(fileName, message)` lists a failure.
 */
export function createStrainUpload({ classify, onResult, onProblem }) {
  const ui = {
    choose: $('strain-choose'),
    input: $('strain-input'),
    rate: $('strain-rate'),
    center: $('strain-center'),
    status: $('strain-status'),
  };

  function status(text, state) {
    ui.status.textContent = text;
    ui.status.dataset.state = state;
  }

  async function upload(file) {
    const started = performance.now();
    try {
      const sampleRate = numberField(ui.rate, 'Sample rate', { positive: true });
      const center = numberField(ui.center, 'Centre time');
      status(`Reading ${file.name} and computing its Q-transform…`, 'busy');
      const bytes = await readStrainBytes(file);
      const result = await classify(file.name, bytes, { sampleRate, center });
      onResult(result);
      const s = result.strain ?? {};
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      const gps = s.gps_start != null ? `, GPS ${(s.gps_start + s.center_s).toFixed(3)}` : '';
      const top = result.ok ? `: ${result.top5[0]?.label ?? '?'}` : `, but it was not classified: ${result.error}`;
      status(`${file.name}: ${s.duration_s?.toFixed(1)} s at ${s.sample_rate} Hz (${s.sample_rate_from}), views around ` +
        `${s.center_s?.toFixed(3)} s${gps} made and classified in ${seconds} s${top}.`, result.ok ? 'ok' : 'warn');
    } catch (err) {
      const message = err.message.startsWith(`${file.name}: `) ? err.message.slice(file.name.length + 2) : err.message;
      status(`${file.name}: ${message}`, 'error');
      onProblem(file.name, message);
    }
  }

  ui.choose.addEventListener('click', () => ui.input.click());
  ui.input.addEventListener('change', () => {
    const files = [...(ui.input.files ?? [])];
    ui.input.value = '';
    handle(files);
  });

  let queue = Promise.resolve();
  /** Upload strain files one after the other; resolves when all are done. */
  function handle(files) {
    queue = queue.then(async () => {
      for (const file of files) await upload(file);
    });
    return queue;
  }
  return { handle };
}
