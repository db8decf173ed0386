/**
 * A small seeded PRNG (mulberry32) so fuzz cases and random byte splits are reproducible:
 * the same seed always yields the same sequence. Not for cryptography.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A random element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from an empty array');
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** A new generator seeded from this one (for independent sub-streams). */
  fork(): SeededRandom {
    return new SeededRandom(Math.floor(this.next() * 4294967296));
  }
}

/** mulberry32 as a plain function: returns a () => float in [0, 1). */
export function mulberry32(seed: number): () => number {
  const r = new SeededRandom(seed);
  return () => r.next();
}

/**
 * Split `data` into pieces at `cuts` random points (sorted, distinct, never empty pieces).
 * With cuts >= data.length - 1 this degenerates to byte-by-byte.
 */
export function randomSplit(data: Uint8Array, rng: SeededRandom, cuts?: number): Buffer[] {
  const buf = Buffer.from(data);
  if (buf.length <= 1) return [buf];
  const n = Math.min(cuts ?? rng.int(1, Math.min(8, buf.length - 1)), buf.length - 1);
  const points = new Set<number>();
  while (points.size < n) points.add(rng.int(1, buf.length - 1));
  const sorted = [...points].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of sorted) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}
