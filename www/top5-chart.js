// The top-5 bar chart of one glitch, shared by the page (app.js) and the Web Component.
// Bars are sized through a CSS custom property set with the CSSOM (allowed under our CSP, which forbids
// inline style attributes), so the markup stays free of inline styles.

/** Probability as a percentage with one decimal ("93.1 %"), or "–" when missing. */
export function formatProbability(p) {
  return Number.isFinite(p) ? `${(p * 100).toFixed(1)} %` : '–';
}

/**
 * An <ol class="top5"> with one item per class: name, bar, percentage. Each <li> carries data-label and
 * data-probability (the raw number) so that tests and host pages can read the values back.
 */
export function renderTop5(doc, top5, accessibleName) {
  const list = doc.createElement('ol');
  list.className = 'top5';
  list.setAttribute('aria-label', accessibleName);
  for (const { label, probability } of top5) {
    const item = doc.createElement('li');
    item.dataset.label = label;
    item.dataset.probability = String(probability);

    const name = doc.createElement('span');
    name.className = 'top5-label';
    name.textContent = label.replaceAll('_', ' ');

    const bar = doc.createElement('span');
    bar.className = 'top5-bar';
    bar.setAttribute('aria-hidden', 'true');
    const fill = doc.createElement('span');
    fill.className = 'top5-fill';
    fill.style.setProperty('--p', String(Math.max(0, Math.min(1, probability))));
    bar.append(fill);

    const value = doc.createElement('span');
    value.className = 'top5-value';
    value.textContent = formatProbability(probability);

    item.append(name, bar, value);
    list.append(item);
  }
  return list;
}
