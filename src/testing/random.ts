/**
 * A small deterministic generator (mulberry32): tests that draw random data from a fixed seed replay the
 * same data when they fail.
 * @returns numbers in [0, 1)
 */
export function randomSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @returns a draw of whole numbers in [0, below) from randomSource(seed) */
export function integerSource(seed: number): (below: number) => number {
  const next = randomSource(seed);
  return (below) => Math.floor(next() * below);
}
