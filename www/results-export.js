// Pure functions over classification results: table rows, sorting, CSV and JSON export.
// No DOM here, so node's test runner can check them directly (tests/e2e/results-export.test.mjs).

/** The sortable table's columns: id, header text, how to read the value from a row, numeric or text. */
export const TABLE_COLUMNS = [
  { id: 'key', title: 'Glitch', numeric: false },
  { id: 'top_class', title: 'Top class', numeric: false },
  { id: 'top_probability', title: 'Probability', numeric: true },
  { id: 'second_class', title: '2nd class', numeric: false },
  { id: 'second_probability', title: '2nd probability', numeric: true },
  // Calibrated unfamiliar score (percentile among known-class glitches), when the model ships a reference set.
  { id: 'unfamiliar', title: 'Unfamiliar', numeric: true },
  { id: 'ms', title: 'Time (ms)', numeric: true },
];

/** One flat row per glitch: what the table shows and the CSV starts with. Failed glitches have nulls. */
export function toRow(result) {
  const [first, second] = result.ok ? result.top5 ?? [] : [];
  return {
    key: result.key,
    ok: Boolean(result.ok),
    views: (result.views ?? []).filter((v) => v.ok).length,
    top_class: first?.label ?? null,
    top_probability: first?.probability ?? null,
    second_class: second?.label ?? null,
    second_probability: second?.probability ?? null,
    unfamiliar: result.ok && Number.isFinite(result.unfamiliar?.percentile) ? result.unfamiliar.percentile : null,
    new_class_candidate: result.ok && result.unfamiliar ? Boolean(result.unfamiliar.new_class_candidate) : null,
    backend: result.backend ?? null,
    ms: Number.isFinite(result.ms) ? result.ms : null,
    error: result.ok ? null : result.error ?? firstViewError(result) ?? 'no usable view',
  };
}

function firstViewError(result) {
  return (result.views ?? []).find((v) => !v.ok && v.error)?.error ?? null;
}

/**
 * Rows sorted by a column (see TABLE_COLUMNS) and direction ("ascending" | "descending").
 * Missing values (failed glitches) always go last; ties keep the key order so the order is stable.
 */
export function sortRows(rows, columnId, direction = 'ascending') {
  const column = TABLE_COLUMNS.find((c) => c.id === columnId);
  if (!column) throw new Error(`unknown column "${columnId}"`);
  const sign = direction === 'descending' ? -1 : 1;
  const compareKeys = (a, b) => a.key.localeCompare(b.key, undefined, { numeric: true });
  return [...rows].sort((a, b) => {
    const x = a[columnId];
    const y = b[columnId];
    if (x == null && y == null) return compareKeys(a, b);
    if (x == null) return 1;
    if (y == null) return -1;
    const order = column.numeric ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
    return order === 0 ? compareKeys(a, b) : sign * order;
  });
}

// Spreadsheet programs run cells that start with these characters as formulas; file names come from users.
const FORMULA_START = /^[=+\-@\t\r]/;

function csvCell(value) {
  if (value == null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let text = String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * CSV (RFC 4180, CRLF line ends) with one row per glitch: the table's columns, then one probability column per
 * class, named `p_<class>`, in the model's label order.
 */
export function toCsv(results, labels) {
  const base = ['key', 'ok', 'views', 'top_class', 'top_probability', 'second_class', 'second_probability',
    'backend', 'ms', 'error'];
  // Triggers in strain files (issue 26) add the CLI catalogue's trigger columns.
  if (results.some((r) => r.trigger)) base.push('ifo', 'files', 'gps', 'snr', 'frequency');
  const header = [...base, ...labels.map((l) => `p_${l}`)];
  const lines = [header.map(csvCell).join(',')];
  for (const result of results) {
    const t = result.trigger;
    const row = { ...toRow(result), ifo: t?.ifo ?? null, files: t?.file ?? null, gps: t?.gps ?? null, snr: t?.snr ?? null, frequency: t?.frequency ?? null };
    const probabilities = result.ok ? result.probabilities ?? [] : [];
    const cells = [...base.map((c) => row[c]), ...labels.map((_, i) => probabilities[i] ?? null)];
    lines.push(cells.map(csvCell).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

/**
 * JSON export: the model, its labels and every result as the classifier returned it, without the thumbnail
 * bytes (they are display-only crops of the inputs). Embeddings are kept for later analysis.
 */
export function toJson(results, { labels, card, backend }) {
  const glitches = results.map((result) => ({
    ...result,
    views: (result.views ?? []).map(({ thumbnail, ...view }) => view),
  }));
  return JSON.stringify(
    {
      generator: 'GlitchScope (browser)',
      created: new Date().toISOString(),
      model: card?.name ?? null,
      backend,
      labels,
      glitches,
    },
    null,
    2,
  );
}
