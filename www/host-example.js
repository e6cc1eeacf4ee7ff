// Example host page: a Zooniverse-like subject viewer that embeds <glitch-classifier>.
// The subjects are real Gravity Spy O1 glitches (four time windows each) that scripts/serve.py exposes under
// /samples/ from ../shared/data/real when that folder exists; they are not part of the repository.

const SAMPLES = 'samples/o1_full_plots';
const DURATIONS = ['0.5', '1.0', '2.0', '4.0'];
const SUBJECTS = [
  { id: 'H1_0Sug0tqkoL', label: 'Blip' },
  { id: 'L1_FOjcfFqddp', label: 'Whistle' },
  { id: 'H1_0BydFQWn2G', label: 'Scratchy' },
  { id: 'H1_0VKvV8c8Ra', label: 'Blip' },
  { id: 'L1_GwpR7j2czx', label: 'Whistle' },
];

const $ = (id) => document.getElementById(id);
const classifier = $('classifier');
const image = $('subject-image');
const durationButtons = [...document.querySelectorAll('[data-duration]')];
let index = 0;
let duration = '1.0';

const viewUrl = (subject, d) => `${SAMPLES}/${subject.label}/${subject.id}_spectrogram_${d}.png`;

function showSubject() {
  const subject = SUBJECTS[index];
  $('subject-title').textContent = `Subject ${subject.id}`;
  $('subject-counter').textContent = `${index + 1} of ${SUBJECTS.length}`;
  $('gold-label').textContent = `Gravity Spy expert label: ${subject.label.replaceAll('_', ' ')}`;
  showDuration(duration);
  // Setting src makes the widget classify the new subject.
  classifier.setAttribute('src', DURATIONS.map((d) => viewUrl(subject, d)).join(' '));
}

function showDuration(d) {
  duration = d;
  const subject = SUBJECTS[index];
  image.src = viewUrl(subject, d);
  image.alt = `Spectrogram of glitch ${subject.id}, ${d} s window`;
  $('subject-caption').textContent = `${subject.id}, ${d} s window (frequency against time, colour = normalised energy)`;
  for (const button of durationButtons) button.setAttribute('aria-pressed', String(button.dataset.duration === d));
}

for (const button of durationButtons) button.addEventListener('click', () => showDuration(button.dataset.duration));
$('previous-subject').addEventListener('click', () => {
  index = (index + SUBJECTS.length - 1) % SUBJECTS.length;
  showSubject();
});
$('next-subject').addEventListener('click', () => {
  index = (index + 1) % SUBJECTS.length;
  showSubject();
});

// What a host page would do with the widget's answer: here, just say it.
classifier.addEventListener('classified', (event) => {
  const result = event.detail;
  $('event-log').textContent = result.ok
    ? `"classified" event: ${result.key} looks like ${result.top5[0].label.replaceAll('_', ' ')} ` +
      `(${(result.top5[0].probability * 100).toFixed(1)} %).`
    : `"classified" event: ${result.key} could not be classified (${result.error}).`;
});
classifier.addEventListener('classifier-error', (event) => {
  $('event-log').textContent = event.detail.message;
});

// Triggers of a strain file the visitor picks (issue 26): the widget's classifyTriggers method.
$('trigger-classify').addEventListener('click', async () => {
  const file = $('trigger-strain').files?.[0];
  const list = $('trigger-list').files?.[0];
  const gps = $('trigger-gps').value.split(/[\s,;]+/).filter(Boolean).map(Number);
  if (!file) {
    $('trigger-log').textContent = 'Choose a strain file first.';
    return;
  }
  try {
    const results = await $('trigger-classifier').classifyTriggers(file, list ?? gps);
    const ok = results.filter((r) => r.ok).length;
    $('trigger-log').textContent = `classifyTriggers resolved: ${ok} of ${results.length} triggers classified.`;
  } catch (err) {
    $('trigger-log').textContent = `classifyTriggers failed: ${err.message}`;
  }
});

// The samples exist only when the shared data folder is next to the repository.
async function samplesAvailable() {
  try {
    const response = await fetch(viewUrl(SUBJECTS[0], '1.0'), { method: 'HEAD' });
    return response.ok;
  } catch {
    return false;
  }
}

if (await samplesAvailable()) {
  showSubject();
} else {
  const note = $('samples-note');
  note.textContent =
    'The sample Gravity Spy images are missing: scripts/serve.sh serves them under /samples/ from ' +
    '../shared/data/real (next to the repository) when that folder exists. Without them this example has ' +
    'nothing to show; the widget itself works with any image URLs.';
  note.hidden = false;
  for (const button of [...durationButtons, $('previous-subject'), $('next-subject')]) button.disabled = true;
  document.querySelector('.subject-figure').hidden = true;
  document.querySelector('.gold-label').hidden = true;
}
