// Colour contrast as WCAG 2.x defines it: relative luminance of sRGB colours, the contrast ratio of two
// colours, and alpha compositing so a translucent text colour or background is judged as it is seen.
// Used by contrast.test.ts (the stylesheet's colour pairs) and by the browser end-to-end checker
// (test/e2e/contrast.ts), which runs these same functions inside the page: every function here is
// therefore self-contained (it uses only its arguments and the other functions of this file).

/** r, g, b in 0..255 and alpha in 0..1. */
export type Rgba = [number, number, number, number];

/** WCAG 2.x success criterion 1.4.3 (AA): normal text needs at least 4.5:1. */
export const AA_NORMAL_TEXT = 4.5;

/**
 * A CSS colour as getComputedStyle or a stylesheet writes it: #rgb, #rgba, #rrggbb, #rrggbbaa,
 * rgb()/rgba() with commas or spaces (an optional / alpha, numbers or percentages) and 'transparent'.
 * Anything else (named colours, other colour spaces) gives null.
 */
export function parseColour(css: string): Rgba | null {
  const s = css.trim().toLowerCase();
  if (s === 'transparent') return [0, 0, 0, 0];
  const hex = /^#([0-9a-f]{3,8})$/.exec(s);
  if (hex) {
    const h = hex[1]!;
    if (h.length === 3 || h.length === 4) {
      const d = h.split('').map((ch) => parseInt(ch + ch, 16));
      return [d[0]!, d[1]!, d[2]!, h.length === 4 ? d[3]! / 255 : 1];
    }
    if (h.length === 6 || h.length === 8) {
      const d = [0, 2, 4, 6].map((i) => parseInt(h.slice(i, i + 2), 16));
      return [d[0]!, d[1]!, d[2]!, h.length === 8 ? d[3]! / 255 : 1];
    }
    return null;
  }
  const fn = /^rgba?\(([^)]*)\)$/.exec(s);
  if (!fn) return null;
  const parts = fn[1]!.replace(/\//g, ' ').split(/[\s,]+/).filter((p) => p.length > 0);
  if (parts.length !== 3 && parts.length !== 4) return null;
  const num = (p: string, scale: number) => (p.endsWith('%') ? (parseFloat(p) / 100) * scale : parseFloat(p));
  const rgb = parts.slice(0, 3).map((p) => num(p, 255));
  const a = parts.length === 4 ? num(parts[3]!, 1) : 1;
  if (rgb.some((v) => !Number.isFinite(v)) || !Number.isFinite(a)) return null;
  return [rgb[0]!, rgb[1]!, rgb[2]!, Math.min(1, Math.max(0, a))];
}

/** Source-over compositing of a (possibly translucent) colour on an opaque backdrop; the result is opaque. */
export function over(top: Rgba, backdrop: Rgba): Rgba {
  const a = top[3];
  return [top[0] * a + backdrop[0] * (1 - a), top[1] * a + backdrop[1] * (1 - a), top[2] * a + backdrop[2] * (1 - a), 1];
}

/** backdrop where t = 0, colour where t = 1: how a group with opacity t lands on what is behind it. */
export function mixColours(backdrop: Rgba, colour: Rgba, t: number): Rgba {
  return [backdrop[0] + (colour[0] - backdrop[0]) * t, backdrop[1] + (colour[1] - backdrop[1]) * t, backdrop[2] + (colour[2] - backdrop[2]) * t, 1];
}

/** WCAG relative luminance of an sRGB colour (alpha ignored: composite first). */
export function relativeLuminance(c: Rgba): number {
  const lin = (v: number) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2]);
}

/** (L_lighter + 0.05) / (L_darker + 0.05): 1 for equal colours up to 21 for black on white. */
export function contrastRatio(a: Rgba, b: Rgba): number {
  const la = relativeLuminance(a);
  const lb = relativeLuminance(b);
  return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
}

/** The contrast of a CSS text colour over a CSS background colour, each composited on an opaque base (white by default). */
export function cssContrast(text: string, background: string, base = '#ffffff'): number {
  const t = parseColour(text);
  const b = parseColour(background);
  const root = parseColour(base);
  if (!t || !b || !root) throw new Error(`cssContrast: cannot read ${!t ? text : !b ? background : base}`);
  const bg = over(b, over(root, [255, 255, 255, 1]));
  return contrastRatio(over(t, bg), bg);
}
