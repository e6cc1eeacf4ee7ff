// IndexedDB storage of the few-shot classes, one JSON text (format "glitchscope-few-shot/1") per model name, so the
// classes a user defined survive a reload and never mix across models. The database is this module's alone.

const DB_NAME = 'glitchscope-few-shot';
const STORE = 'sets';

let opening = null;

function open() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      if (!self.indexedDB) {
        reject(new Error('this browser has no IndexedDB, so few-shot classes cannot be kept'));
        return;
      }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(new Error(`cannot open IndexedDB: ${request.error?.message ?? 'unknown error'}`));
    });
    opening.catch(() => {
      opening = null; // try again next time (e.g. after the user allows storage)
    });
  }
  return opening;
}

async function run(mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const request = action(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'the transaction failed'}`));
    tx.onabort = () => reject(new Error(`IndexedDB: ${tx.error?.message ?? 'the transaction was aborted'}`));
  });
}

/** The stored set of `model` as JSON text, or null. */
export async function loadFewShot(model) {
  const value = await run('readonly', (store) => store.get(model));
  return typeof value === 'string' ? value : null;
}

/** Store the set of `model` (JSON text); null deletes it. */
export async function saveFewShot(model, json) {
  await run('readwrite', (store) => (json == null ? store.delete(model) : store.put(json, model)));
}
