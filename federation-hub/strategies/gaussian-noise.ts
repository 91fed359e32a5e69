// Seeded Gaussian noise for site-level differential privacy (docs/security.md §8). The uniform bits are
// the AES-256-CTR keystream of a key derived (SHA-256) from the run's secret noise seed and the round's
// global model, so a run is reproducible from its seed, every round draws fresh noise, and whoever lacks
// the seed cannot predict the noise (Math.random or a small PRNG would let a site that guessed its state
// subtract the noise). Normals by Box-Muller from 53-bit uniforms. Known limit: floating-point sampling
// of the Gaussian is not exactly the ideal distribution (Mironov, CCS 2012); §8 says so.
import { createCipheriv, createHash } from 'node:crypto';

const CHUNK = 64 * 1024;
const TWO_POW_53 = 2 ** 53;

export class GaussianNoise {
  private readonly cipher;
  private readonly zeros = new Uint8Array(CHUNK);
  private buf = new Uint8Array(0);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  private spare: number | null = null;

  /** `material`: the parts the key is derived from (the seed first); order and boundaries matter. */
  constructor(...material: string[]) {
    const h = createHash('sha256');
    for (const m of material) h.update(`${m.length}:${m};`);
    this.cipher = createCipheriv('aes-256-ctr', h.digest(), Buffer.alloc(16));
  }

  /** A uniform in (0, 1): 53 random bits, offset by half a step so 0 never occurs (log(0) in Box-Muller). */
  uniform(): number {
    if (this.pos + 8 > this.buf.byteLength) {
      const b = this.cipher.update(this.zeros);
      this.buf = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
      this.pos = 0;
    }
    const hi = this.view.getUint32(this.pos) >>> 5; // 27 bits
    const lo = this.view.getUint32(this.pos + 4) >>> 6; // 26 bits
    this.pos += 8;
    return (hi * 67108864 + lo + 0.5) / TWO_POW_53;
  }

  /** A standard normal N(0, 1). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const t = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(t);
    return r * Math.cos(t);
  }
}
