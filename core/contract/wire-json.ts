// JSON framing for the app API over a WebSocket (browser mode). Electron IPC uses structured clone and
// needs none of this. Uint8Array and Float32Array values (pictures, masks, spectra) travel as tagged
// base64 strings: {"$u8": "..."} / {"$f32": "..."} so the zod schemas in app-api.ts see real typed arrays
// on both sides. Pure: runs in Node and in the browser (btoa/atob are globals in both).
import { FedSegError } from './errors.js';

const CHUNK = 0x8000;

export function bytesToBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += CHUNK) s += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + CHUNK)));
  return globalThis.btoa(s);
}

export function base64ToBytes(s: string): Uint8Array {
  let bin: string;
  try {
    bin = globalThis.atob(s);
  } catch {
    throw new FedSegError('PROTOCOL_ERROR', 'malformed base64 in a message');
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeWire(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { $u8: bytesToBase64(v) };
    if (v instanceof Float32Array) return { $f32: bytesToBase64(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) };
    return v;
  });
}

export function decodeWire(text: string): unknown {
  try {
    return JSON.parse(text, (_k, v: unknown) => {
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        const keys = Object.keys(o);
        if (keys.length === 1 && typeof o.$u8 === 'string') return base64ToBytes(o.$u8);
        if (keys.length === 1 && typeof o.$f32 === 'string') {
          const b = base64ToBytes(o.$f32);
          if (b.length % 4 !== 0) throw new FedSegError('PROTOCOL_ERROR', 'float array with a length that is not a multiple of 4 bytes');
          return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
        }
      }
      return v;
    });
  } catch (e) {
    if (e instanceof FedSegError) throw e;
    throw new FedSegError('PROTOCOL_ERROR', `message is not valid JSON: ${(e as Error).message}`);
  }
}

/** Frames of the browser-mode WebSocket protocol. */
export type WireRequest = { t: 'call'; id: number; method: string; args: unknown };
export type WireFrame =
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: { code: string; message: string } }
  | { t: 'event'; event: string; payload: unknown };
