// Text contrast of a rendered page, for any browser end-to-end test: every visible element that shows
// text (its own text nodes, or the value of a form field) is judged by its computed text colour (fill for
// SVG text) over its effective background, found by walking up its ancestors and compositing their
// background colours and opacities from the page's white canvas down, with WCAG 2.x relative luminance
// (the functions of renderer/src/lib/contrast.ts, run in the page). Limits: only CSS background
// colours count (text over a canvas or an image is judged against the element's own backgrounds), and
// positioned content is assumed to sit over its ancestors.
import type { Page } from 'playwright-core';
import { AA_NORMAL_TEXT, contrastRatio, mixColours, over, parseColour, relativeLuminance, type Rgba } from '../../renderer/src/lib/contrast.js';
import { runInPage } from './a11y.js';

export interface ContrastOffender {
  text: string;
  path: string;
  colour: string;
  background: string;
  ratio: number;
  fontSize: string;
}

function scanText(min: number): ContrastOffender[] {
  const skip = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'OPTION', 'OPTGROUP', 'TITLE', 'HEAD']);
  const textInputs = new Set(['text', 'number', 'password', 'url', 'search', 'email', 'tel']);
  const ownText = (el: Element) =>
    Array.from(el.childNodes).filter((n) => n.nodeType === Node.TEXT_NODE).map((n) => n.textContent ?? '').join(' ').replace(/\s+/g, ' ').trim();
  const fieldText = (el: Element) => {
    if (el instanceof HTMLSelectElement) return el.selectedOptions[0]?.text ?? '';
    if (el instanceof HTMLTextAreaElement) return el.value;
    if (el instanceof HTMLInputElement && textInputs.has(el.type)) return el.type === 'password' ? '•'.repeat(el.value.length) : el.value;
    return '';
  };
  const describe = (el: Element) => {
    const parts: string[] = [];
    for (let e: Element | null = el; e && e !== document.body && parts.length < 5; e = e.parentElement) {
      const id = e.getAttribute('data-testid');
      parts.unshift(e.tagName.toLowerCase() + (id ? `[data-testid=${id}]` : '') + (e.classList.length ? `.${Array.from(e.classList).join('.')}` : ''));
    }
    return parts.join(' > ');
  };
  const css = (c: Rgba) => `rgb(${c.slice(0, 3).map((v) => Math.round(v)).join(', ')})`;
  const out: ContrastOffender[] = [];
  for (const el of Array.from(document.body.querySelectorAll('*'))) {
    if (skip.has(el.tagName.toUpperCase()) || el.closest('svg title')) continue;
    const text = ownText(el) || fieldText(el);
    if (!text) continue;
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 || rect.height === 0) continue;
    if (!el.checkVisibility({ opacityProperty: true, visibilityProperty: true })) continue;
    const style = getComputedStyle(el);
    const isSvg = el instanceof SVGElement;
    const fg = parseColour(isSvg ? style.fill : style.color);
    const chain: Element[] = [];
    for (let e: Element | null = el; e; e = e.parentElement) chain.unshift(e);
    // Down from the white canvas: each ancestor's background over what lies behind it (SVG shapes
    // inside an <svg> paint no CSS background).
    let backdrop: Rgba = [255, 255, 255, 1];
    const behind: Rgba[] = [];
    for (const node of chain) {
      behind.push(backdrop);
      if (node instanceof SVGElement && !(node instanceof SVGSVGElement)) continue;
      const bg = parseColour(getComputedStyle(node).backgroundColor);
      if (bg) backdrop = over(bg, backdrop);
    }
    if (!fg) {
      out.push({ text: text.slice(0, 60), path: describe(el), colour: isSvg ? style.fill : style.color, background: css(backdrop), ratio: 0, fontSize: style.fontSize });
      continue;
    }
    let textPixel = over(fg, backdrop);
    let backPixel = backdrop;
    // Back up: a group with opacity < 1 lands on what was behind it at that strength.
    for (let i = chain.length - 1; i >= 0; i--) {
      const o = parseFloat(getComputedStyle(chain[i]!).opacity);
      if (o < 1) {
        textPixel = mixColours(behind[i]!, textPixel, o);
        backPixel = mixColours(behind[i]!, backPixel, o);
      }
    }
    const ratio = contrastRatio(textPixel, backPixel);
    if (ratio < min) out.push({ text: text.slice(0, 60), path: describe(el), colour: css(textPixel), background: css(backPixel), ratio: Math.round(ratio * 100) / 100, fontSize: style.fontSize });
  }
  return out;
}

/** Visible text of the page whose contrast is below min (WCAG AA for normal text by default). */
export function lowContrastText(page: Page, min = AA_NORMAL_TEXT): Promise<ContrastOffender[]> {
  return runInPage(page, scanText, min, [parseColour, over, mixColours, relativeLuminance, contrastRatio]);
}
