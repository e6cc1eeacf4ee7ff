// Load the reference set (.gsref) a model card names in its optional `reference` field, checked against the
// card's sha256, into a wasm ReferenceIndex. Used by both workers (worker.js scores every result against it;
// discovery-worker.js searches it for similar glitches). Same-origin fetch only, like the weights.
//
//   const { index, info, error } = await loadReference(wasmModule, card, cardUrl);
// `index` is null when the card has no reference set or it could not be used (`error` then says why): the page
// still classifies, only without the unfamiliar score and reference neighbours.

async function sha256Hex(bytes) {
  if (!self.crypto?.subtle) return null; // not a secure context: the check is skipped, not failed
  const digest = await self.crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export async function loadReference(module, card, cardUrl) {
  const spec = card?.reference;
  if (!spec?.file) return { index: null, info: null, error: null };
  const url = new URL(spec.file, cardUrl).href;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    const digest = await sha256Hex(bytes);
    if (digest && spec.sha256 && digest !== spec.sha256.toLowerCase()) {
      throw new Error(`its sha256 ${digest.slice(0, 12)}… differs from the card's ${spec.sha256.slice(0, 12)}… (rerun scripts/make-reference-set.sh)`);
    }
    const index = module.ReferenceIndex.fromBytes(bytes, spec.file);
    // Embeddings of another model's weights would give meaningless distances: refuse rather than mislead.
    if (index.model && card.name && index.model !== card.name) {
      index.free();
      throw new Error(`it was made with model "${index.model}", not "${card.name}" (rerun scripts/make-reference-set.sh)`);
    }
    const info = { file: spec.file, length: index.length, model: index.model ?? null, flagPercentile: index.flagPercentile ?? null };
    return { index, info, error: null };
  } catch (err) {
    return { index: null, info: null, error: `reference set ${spec.file}: ${err?.message ?? String(err)}` };
  }
}
