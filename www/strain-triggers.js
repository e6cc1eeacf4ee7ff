// Triggers in strain files, the page's part (issue 26): the trigger-list button, the GPS field, the SNR and
// frequency cuts and the progress bar of the strain panel. An HDF5 file waits here until it has trigger times
// (a list, or GPS times typed in the field); each trigger then comes back from the workers as a glitch that joins
// the results like any other (ClassifierClient.triggers). Nothing here reads the strain file: the workers read
// it by byte ranges, so a 512 MiB GWOSC file is never loaded whole.

export const HDF5_NAME = /\.(hdf5?|h5)$/i;

const $ = (id) => document.getElementById(id);

function cut(input, what) {
  const text = input.value.trim();
  const value = Number(text === '' ? input.defaultValue : text);
  if (!Number.isFinite(value)) throw new Error(`${what} "${text}" is not a number`);
  return value;
}

/** GPS times typed in the field (spaces, commas, semicolons or new lines between them). */
function typedTimes(input) {
  return input.value.split(/[\s,;]+/).filter(Boolean).map((text) => {
    const gps = Number(text);
    if (!Number.isFinite(gps)) throw new Error(`GPS time "${text}" is not a number`);
    return gps;
  });
}

/**
 * `classifyTriggers(file, options)`: ClassifierClient.triggers; `onResult(result)` shows a glitch;
 * `onProblem(name, message)` lists a failure; `status(text, state)` writes the strain panel's status.
 */
export function createTriggerRuns({ classifyTriggers, onResult, onProblem, status }) {
  const ui = {
    choose: $('trigger-choose'),
    input: $('trigger-input'),
    listName: $('trigger-list-name'),
    gps: $('strain-gps'),
    snrMin: $('trigger-snr-min'),
    fmin: $('trigger-fmin'),
    fmax: $('trigger-fmax'),
    run: $('trigger-run'),
    progress: $('strain-progress'),
    status: $('strain-status'),
  };
  let list = null; // the chosen trigger list (a File)
  let file = null; // the last HDF5 file given (run again with other times or cuts)
  let waitingFile = false; // that file waits for trigger times
  let running = Promise.resolve();

  function showList() {
    ui.listName.textContent = list ? `Trigger list: ${list.name}` : '';
    ui.run.disabled = !file;
  }

  async function runNow(strainFile) {
    file = strainFile;
    showList();
    const started = performance.now();
    let gps;
    let cuts;
    try {
      gps = typedTimes(ui.gps);
      cuts = { snrMin: cut(ui.snrMin, 'SNR threshold'), fmin: cut(ui.fmin, 'Lowest frequency'), fmax: cut(ui.fmax, 'Highest frequency') };
    } catch (err) {
      status(`${strainFile.name}: ${err.message}`, 'error');
      return;
    }
    if (!list && gps.length === 0) {
      waitingFile = true;
      status(`${strainFile.name}: choose a trigger list or type GPS times, then it is classified trigger by trigger.`, 'warn');
      return;
    }
    waitingFile = false;
    const source = [list?.name, gps.length ? `${gps.length} typed GPS time${gps.length === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
    status(`Reading ${strainFile.name} and ${source}…`, 'busy');
    ui.status.dataset.triggers = '0';
    delete ui.status.dataset.perSecond;
    let failed = 0;
    let glitches = 0; // one per trigger and detector holding it
    let total = 0;
    let done = 0;
    const rate = () => done / Math.max(1e-3, (performance.now() - started) / 1000);
    try {
      await classifyTriggers(strainFile, {
        list,
        gps,
        cuts,
        onPlan: (plan) => {
          total = plan.triggers.length;
          ui.progress.max = total;
          ui.progress.value = 0;
          ui.progress.hidden = false;
          const detectors = plan.series.map((s) => `${s.ifo ?? '?'} GPS ${s.gps_start}–${s.gps_end} at ${s.sample_rate} Hz`).join('; ');
          const kept = list ? `${total} of ${plan.total} triggers pass the cuts (SNR ≥ ${cuts.snrMin}, ${cuts.fmin}–${cuts.fmax} Hz)` : `${total} triggers`;
          status(`${strainFile.name} (${detectors}): ${kept}; classifying…`, 'busy');
        },
        onProgress: ({ results }) => {
          done += 1;
          for (const result of results) {
            glitches += 1;
            if (!result.ok) failed += 1;
            onResult(result);
          }
          ui.progress.value = done;
          ui.status.dataset.triggers = String(done);
          status(`${strainFile.name}: ${done} of ${total} triggers done (${rate().toFixed(2)} triggers/s)…`, 'busy');
        },
      });
    } catch (err) {
      ui.progress.hidden = true;
      // The message names the list when the list is what failed, else the strain file.
      const name = list && err.message.startsWith(`${list.name}: `) ? list.name : strainFile.name;
      const message = err.message.startsWith(`${name}: `) ? err.message.slice(name.length + 2) : err.message;
      status(`${name}: ${message}`, 'error');
      onProblem(name, message);
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    ui.progress.hidden = true;
    ui.status.dataset.perSecond = rate().toFixed(3);
    const problems = failed ? `; ${failed} could not be (see the list of problems)` : '';
    status(`${strainFile.name}: ${glitches - failed} of ${glitches} triggers classified in ${seconds.toFixed(1)} s ` +
      `(${rate().toFixed(2)} triggers/s)${problems}.`, failed ? 'warn' : 'ok');
  }

  /** Classify the triggers of an HDF5 file (or say it waits for times); resolves when done. */
  function run(strainFile) {
    running = running.then(() => runNow(strainFile));
    return running;
  }

  /** Take `listFile` as the trigger list; with `run`, classify the waiting file with it. */
  function setList(listFile, { run: now = true } = {}) {
    list = listFile;
    showList();
    return now && file && waitingFile ? run(file) : running;
  }

  ui.choose.addEventListener('click', () => ui.input.click());
  ui.input.addEventListener('change', () => {
    const chosen = ui.input.files?.[0];
    ui.input.value = '';
    if (chosen) setList(chosen);
  });
  ui.run.addEventListener('click', () => {
    if (file) run(file);
  });
  showList();

  return { run, setList, waiting: () => waitingFile };
}
