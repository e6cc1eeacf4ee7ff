// Strain upload: a detector time series (GWOSC ASCII .txt or .txt.gz, or a 1-d .npy) becomes the four Gravity Spy
// views in the worker (wasm: strain.rs + spectrogram/, the code of `glitchscope qtransform`), which are then
// classified like uploaded images. Gzip is undone here with the browser's DecompressionStream, with a size cap.
//
// Triggers in strain files (issue 26): a GWOSC or gwpy HDF5 file (any size: the workers read it by byte ranges,
// never whole) with a trigger list (GPS times, CSV, Omicron text, LIGO_LW XML, .gz) or GPS times typed in the
// field; every trigger that passes the SNR/frequency cuts becomes a glitch (strain-triggers.js).

import { createTriggerRuns, HDF5_NAME } from './strain-triggers.js';

export const STRAIN_NAME = /\.(txt|txt\.gz|npy|hdf5?|h5)$/i;
/** Trigger lists by name; a .txt (or .txt.gz) is a list only beside an HDF5 file or while one waits for times. */
export const TRIGGER_LIST_NAME = /\.(csv|csv\.gz|xml|xml\.gz|lst)$/i;
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
 * result; `classifyTriggers(file, options)` runs ClassifierClient.triggers; `onResult(result)` shows a result;
 * `onProblem(fileName, message)` lists a failure.
 */
export function createStrainUpload({ classify, classifyTriggers, onResult, onProblem }) {
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

  const triggers = createTriggerRuns({ classifyTriggers, onResult, onProblem, status });

  async function upload(file) {
    if (HDF5_NAME.test(file.name)) return triggers.run(file);
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
    const sorted = sort(files);
    for (const f of sorted.rest) onProblem(f.name, 'not a strain file or trigger list; skipped');
    handle(sorted.strain, sorted.lists);
  });

  let queue = Promise.resolve();
  /**
   * Upload strain files one after the other, HDF5 files with the trigger list in `lists` (the last one given) or
   * the one chosen before; resolves when all are done.
   */
  function handle(files, lists = []) {
    queue = queue.then(async () => {
      if (lists.length) await triggers.setList(lists.at(-1), { run: files.length === 0 });
      for (const file of files) await upload(file);
    });
    return queue;
  }

  /** Split picked or dropped files into strain, trigger lists and the rest (images). */
  function sort(files) {
    const strain = files.filter((f) => STRAIN_NAME.test(f.name));
    // A .txt beside an HDF5 file (or while one waits for its times) is its trigger list, not ASCII strain.
    const textIsList = strain.some((f) => HDF5_NAME.test(f.name)) || triggers.waiting();
    const isList = (f) => TRIGGER_LIST_NAME.test(f.name) || (textIsList && /\.txt(\.gz)?$/i.test(f.name));
    const lists = files.filter(isList);
    return { strain: strain.filter((f) => !isList(f)), lists, rest: files.filter((f) => !STRAIN_NAME.test(f.name) && !isList(f)) };
  }
  return { handle, sort };
}
