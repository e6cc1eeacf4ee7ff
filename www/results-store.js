// The page's results, in arrival order, with change events.
//
// EMBEDDING MAP HOOK: a later module (the embedding map, see the empty <section id="embedding-map"> in
// index.html) subscribes here instead of touching app.js:
//   import { results } from './results-store.js';
//   results.addEventListener('result', (e) => plot(e.detail.result.embedding, e.detail.result.key));
//   results.addEventListener('clear', () => reset());
//   results.all(), results.labels  // everything so far, and the model's class names

class ResultsStore extends EventTarget {
  #results = new Map(); // key -> result; a glitch classified again replaces its earlier result
  labels = [];

  add(result) {
    this.#results.delete(result.key);
    this.#results.set(result.key, result);
    this.dispatchEvent(new CustomEvent('result', { detail: { result } }));
  }

  all() {
    return [...this.#results.values()];
  }

  get size() {
    return this.#results.size;
  }

  clear() {
    this.#results.clear();
    this.dispatchEvent(new CustomEvent('clear'));
  }
}

export const results = new ResultsStore();
