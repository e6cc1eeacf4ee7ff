// Triggers in strain files (issue 26): the classification worker's part. A dropped strain File (GWOSC or gwpy
// HDF5, read by byte ranges through Blob.slice + FileReaderSync, so never whole; ASCII/.npy read whole) is opened
// once per worker (wasm `StrainFile`), each trigger's four views are made exactly as `glitchscope classify
// --strain` makes them, and they are classified like uploaded PNG views (worker.js's classifyGlitch).
//
// Messages in (handled by worker.js, which imports this file):
//   {type: "trigger-plan", id, file, fileId, fileName, sampleRate|null, list: {name, bytes: ArrayBuffer}|null,
//    gps: [number], cuts: {snrMin, fmin, fmax}}
//     -> {type: "trigger-plan", id, series: [{channel, ifo, gps_start, gps_end, sample_rate, gaps}], total,
//         triggers: [{gps, ifo, snr, frequency, line, list}]}       (total: triggers before the cuts)
//   {type: "trigger", id, file, fileId, fileName, sampleRate|null, window|null, trigger}
//     -> {type: "progress", id, done, total, result} per detector of the file holding the trigger (a trigger no
//        detector holds, or that cannot be rendered, is one failed result naming the file and the trigger;
//        result.trigger = {file, gps, ifo, snr, frequency, line, list, views_ms}), then {type: "done", id}

const KEEP_OPEN = 2; // files kept open per worker (metadata + DQ mask each; the samples are never held)

/**
 * The two handlers. `wasm()` resolves to the wasm module; `classifyGlitch({key, files})` to a normalised result;
 * `failedResult(glitch, message)` makes a result for a glitch that could not be made; `postResult(id, done,
 * total, result)` sends one progress message.
 */
export function triggerHandlers({ wasm, classifyGlitch, failedResult, postResult }) {
  const open = new Map(); // fileId -> wasm StrainFile, oldest first

  function strainFile(module, { file, fileId, fileName, sampleRate }) {
    const id = `${fileId} ${sampleRate ?? ''}`;
    let handle = open.get(id);
    if (handle) return handle;
    handle = module.StrainFile.open(file, fileName, sampleRate ?? undefined);
    open.set(id, handle);
    for (const [old, h] of open) {
      if (open.size <= KEEP_OPEN) break;
      open.delete(old);
      h.free();
    }
    return handle;
  }

  async function plan(message) {
    const { id, list, gps = [], cuts = {} } = message;
    const module = await wasm();
    const series = Array.from(strainFile(module, message).series, (s) => ({ ...s }));
    const triggers = gps.map((t) => ({ gps: t, ifo: null, snr: null, frequency: null, line: 0, list: null }));
    let total = triggers.length;
    if (list) {
      const { snrMin = 7.5, fmin = 10, fmax = 2048 } = cuts;
      const read = module.readTriggers(list.name, new Uint8Array(list.bytes), snrMin, fmin, fmax);
      total += read.total;
      if (read.triggers.length === 0) {
        throw new Error(`${list.name}: none of the ${read.total} triggers passes the cuts (SNR >= ${snrMin}, ${fmin}–${fmax} Hz)`);
      }
      triggers.push(...Array.from(read.triggers, (t) => ({ ...t, list: list.name })));
    }
    if (triggers.length === 0) throw new Error(`${message.fileName}: no trigger times (give a trigger list or GPS times)`);
    self.postMessage({ type: 'trigger-plan', id, series, total, triggers });
  }

  async function trigger(message) {
    const { id, fileName, window, trigger: t } = message;
    const module = await wasm();
    const started = performance.now();
    let items;
    try {
      items = Array.from(strainFile(module, message).triggerViews(t.gps, t.ifo ?? undefined, window ?? undefined));
    } catch (err) {
      // Reading failed (the file changed or went away since it was dropped): this trigger fails, the rest go on.
      const error = `${fileName}: trigger at GPS ${t.gps}: ${err?.message ?? String(err)}`;
      items = [{ key: `${t.ifo ?? 'X1'}_${t.gps.toFixed(3)}`, ifo: t.ifo ?? null, error, views: [] }];
    }
    const viewsMs = (performance.now() - started) / Math.max(1, items.length);
    const where = t.line > 0 ? `, ${t.list ?? 'list'} line ${t.line}` : '';
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const glitch = { key: item.key, files: Array.from(item.views ?? [], (v) => ({ name: v.name, bytes: v.bytes })) };
      const result = item.error ? failedResult(glitch, `${item.error}${where}`) : await classifyGlitch(glitch);
      result.trigger = {
        file: fileName, gps: t.gps, ifo: item.ifo ?? t.ifo ?? null, snr: t.snr ?? null, frequency: t.frequency ?? null,
        line: t.line ?? 0, list: t.list ?? null, views_ms: viewsMs,
      };
      postResult(id, i + 1, items.length, result);
    }
    self.postMessage({ type: 'done', id });
  }

  return { 'trigger-plan': plan, trigger };
}
