// WCAG contrast: luminance and ratio against the definition's known values, colour parsing as the
// browser reports it, alpha compositing, and the stylesheet's text colours on the backgrounds they are
// used on (renderer/src/app.css), each at least AA's 4.5:1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AA_NORMAL_TEXT, contrastRatio, cssContrast, mixColours, over, parseColour, relativeLuminance } from './contrast.js';

const near = (a: number, b: number, eps = 0.01) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('black on white is 21:1, equal colours 1:1, and the ratio is symmetric', () => {
  near(relativeLuminance([255, 255, 255, 1]), 1, 1e-9);
  near(relativeLuminance([0, 0, 0, 1]), 0, 1e-9);
  near(contrastRatio([0, 0, 0, 1], [255, 255, 255, 1]), 21);
  near(contrastRatio([120, 30, 200, 1], [120, 30, 200, 1]), 1);
  near(contrastRatio([255, 255, 255, 1], [0, 0, 0, 1]), 21);
  // Known values: #777 on white is 4.48:1 (just fails AA), #767676 is 4.54:1 (the lightest grey that passes).
  near(cssContrast('#777777', '#ffffff'), 4.48);
  near(cssContrast('#767676', '#ffffff'), 4.54);
});

test('colours parse as getComputedStyle and stylesheets write them', () => {
  assert.deepEqual(parseColour('rgb(10, 20, 30)'), [10, 20, 30, 1]);
  assert.deepEqual(parseColour('rgba(10, 20, 30, 0.5)'), [10, 20, 30, 0.5]);
  assert.deepEqual(parseColour('rgb(10 20 30 / 25%)'), [10, 20, 30, 0.25]);
  assert.deepEqual(parseColour('#fff'), [255, 255, 255, 1]);
  assert.deepEqual(parseColour('#11223380'), [17, 34, 51, 128 / 255]);
  assert.deepEqual(parseColour('transparent'), [0, 0, 0, 0]);
  assert.equal(parseColour('oklch(0.5 0.1 20)'), null);
  assert.equal(parseColour('#12345'), null);
});

test('translucent colours are judged composited: half-transparent black text on white is mid grey', () => {
  assert.deepEqual(over([0, 0, 0, 0.5], [255, 255, 255, 1]), [127.5, 127.5, 127.5, 1]);
  assert.deepEqual(over([0, 0, 0, 0], [9, 9, 9, 1]), [9, 9, 9, 1]);
  assert.deepEqual(mixColours([255, 255, 255, 1], [0, 0, 0, 1], 0.25), [191.25, 191.25, 191.25, 1]);
  // A button at opacity 0.5 (the old disabled style) drops dark ink below AA.
  assert.ok(cssContrast('rgba(29, 36, 48, 0.5)', '#ffffff') < AA_NORMAL_TEXT);
});

test('the stylesheet\'s text colours meet AA on the backgrounds they are used on', () => {
  const css = readFileSync(new URL('../app.css', import.meta.url), 'utf8');
  const token = (name: string) => {
    const m = new RegExp(`--${name}:\\s*(#[0-9a-fA-F]{3,8})`).exec(css);
    assert.ok(m, `--${name} is declared`);
    return m[1]!;
  };
  const [muted, ink, accent, ok, warn, danger, bg, panel] = ['muted', 'ink', 'accent', 'ok', 'warn', 'danger', 'bg', 'panel'].map(token);
  // Tinted backgrounds muted text sits on: selected and hovered rows, code/tags, toggles, the bad thumbnail, disabled buttons.
  const tints = ['#eaf2ff', '#f3f6fb', '#eef1f5', '#e6efff', '#fffaf0'];
  const pairs: [string, string, string][] = [
    ...[panel!, bg!, ...tints].map((b): [string, string, string] => ['--muted', muted!, b]),
    ['--ink on --bg', ink!, bg!],
    ['--accent (links, link buttons)', accent!, panel!],
    ['--accent on --bg', accent!, bg!],
    ['white on --accent (primary buttons, active page)', '#ffffff', accent!],
    ['--ok', ok!, panel!],
    ['--warn (import problems)', warn!, panel!],
    ['--warn on --bg', warn!, bg!],
    ['--danger', danger!, panel!],
    ['sidebar muted text', /\.side \.muted \{ color: (#[0-9a-f]+)/.exec(css)![1]!, '#18202c'],
    ['disabled primary button', /button\.primary:disabled \{ color: (#[0-9a-f]+); background: (#[0-9a-f]+)/.exec(css)![1]!, /button\.primary:disabled \{ color: (#[0-9a-f]+); background: (#[0-9a-f]+)/.exec(css)![2]!],
  ];
  const low = pairs.map(([what, fg, b]) => ({ what, fg, b, ratio: cssContrast(fg, b) })).filter((p) => p.ratio < AA_NORMAL_TEXT);
  assert.deepEqual(low, []);
  assert.doesNotMatch(css, /button:disabled \{[^}]*opacity/, 'disabled buttons are not made translucent');
});
