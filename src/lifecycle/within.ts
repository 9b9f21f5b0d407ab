import { setTimeout as sleep } from "node:timers/promises";

/**
 * Waits for `work`, but no longer than `ms`: past that, resolves with `fallback` and lets `work` go on
 * unobserved. For steps a silent peer could hold forever (a database that stops answering).
 * @param work - what to wait for
 * @param ms - the bound; an infinite one waits for `work` as it is
 * @param fallback - the value when the bound passes first
 */
export function within<T, F>(work: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  if (!Number.isFinite(ms)) return work;
  return Promise.race([work, sleep(Math.max(0, ms), fallback, { ref: false })]);
}
