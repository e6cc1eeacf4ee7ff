// Pure result helpers of the page (www/results-export.js): rows, sorting, CSV and JSON export.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortRows, toCsv, toJson, toRow } from '../../www/results-export.js';

const LABELS = ['Blip', 'Whistle', 'Koi_Fish'];
const ok = (key, probabilities, ms = 10) => {
  const top5 = probabilities.map((p, i) => ({ label: LABELS[i], probability: p })).sort((a, b) => b.probability - a.probability);
  return {
    key, ok: true, top5, probabilities, embedding: [0.5, -1], backend: 'cpu', ms,
    views: [{ name: `${key}_spectrogram_1.0.png`, duration: 1, ok: true, thumbnail: new Uint8Array([1, 2, 3]) }],
  };
};
const failed = (key, error) => ({
  key, ok: false, error, top5: [], probabilities: [], embedding: [], backend: 'cpu', ms: 3,
  views: [{ name: `${key}.png`, duration: null, ok: false, error }],
});

test('a row holds the first and second class of the top-5', () => {
  const row = toRow(ok('H1_a', [0.2, 0.7, 0.1]));
  assert.deepEqual([row.top_class, row.top_probability, row.second_class, row.second_probability], ['Whistle', 0.7, 'Blip', 0.2]);
  assert.equal(row.views, 1);
  const bad = toRow(failed('broken', 'broken.png: not a PNG'));
  assert.equal(bad.top_class, null);
  assert.equal(bad.error, 'broken.png: not a PNG');
});

test('sorting by a number puts failed glitches last in both directions', () => {
  const rows = [ok('b', [0.9, 0.05, 0.05]), failed('x', 'bad'), ok('a', [0.4, 0.5, 0.1]), ok('c', [0.3, 0.3, 0.4])].map(toRow);
  assert.deepEqual(sortRows(rows, 'top_probability', 'ascending').map((r) => r.key), ['c', 'a', 'b', 'x']);
  assert.deepEqual(sortRows(rows, 'top_probability', 'descending').map((r) => r.key), ['b', 'a', 'c', 'x']);
  assert.deepEqual(sortRows(rows, 'key', 'descending').map((r) => r.key), ['x', 'c', 'b', 'a']);
  assert.deepEqual(sortRows(rows, 'top_class').map((r) => r.key), ['b', 'c', 'a', 'x']); // Blip, Koi_Fish, Whistle
  assert.throws(() => sortRows(rows, 'nope'), /unknown column/);
});

test('CSV: header, one probability column per class, quoting, and no formula injection', () => {
  const csv = toCsv([ok('H1_a', [0.2, 0.7, 0.1]), failed('=HYPERLINK("x")', 'cannot decode, "really"')], LABELS);
  const lines = csv.split('\r\n');
  assert.equal(lines.at(-1), '', 'ends with a line break');
  assert.equal(lines[0], 'key,ok,views,top_class,top_probability,second_class,second_probability,backend,ms,error,p_Blip,p_Whistle,p_Koi_Fish');
  assert.equal(lines[1], 'H1_a,true,1,Whistle,0.7,Blip,0.2,cpu,10,,0.2,0.7,0.1');
  assert.equal(lines[2], `"'=HYPERLINK(""x"")",false,0,,,,,cpu,3,"cannot decode, ""really""",,,`);
});

test('JSON keeps probabilities and embeddings but not thumbnail bytes', () => {
  const parsed = JSON.parse(toJson([ok('H1_a', [0.2, 0.7, 0.1])], { labels: LABELS, card: { name: 'm' }, backend: 'cpu' }));
  assert.equal(parsed.model, 'm');
  assert.deepEqual(parsed.labels, LABELS);
  assert.deepEqual(parsed.glitches[0].probabilities, [0.2, 0.7, 0.1]);
  assert.deepEqual(parsed.glitches[0].embedding, [0.5, -1]);
  assert.equal('thumbnail' in parsed.glitches[0].views[0], false);
  assert.equal(parsed.glitches[0].views[0].name, 'H1_a_spectrogram_1.0.png');
});
