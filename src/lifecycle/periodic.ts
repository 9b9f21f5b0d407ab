import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "../logging/logger.js";

/** Marks what a periodic job runs, down every await of it. */
const periodicRuns = new AsyncLocalStorage<string>();

/**
 * @returns whether the caller runs inside a periodic job (a lease heartbeat, the sweep, retention), so
 * work can be told from the background's (the tests that count a request's SQL statements ask)
 */
export const inPeriodicJob = (): boolean => periodicRuns.getStore() !== undefined;

/** Background work of the server process, stopped at shutdown. */
export interface BackgroundJob {
  /** Cancels the next runs and resolves once a run in progress has finished, so the pool can close after it. */
  stop(): Promise<void>;
}

/**
 * Runs `run` off the request path: first after `firstAfterMs`, then `everyMs` after each run ends, so
 * two runs never overlap. A failed run is logged and the schedule goes on. Timers do not keep the
 * process alive.
 * @param name - the job's name in the log
 * @param run - one round of the work
 * @param timing - delay of the first round and pause between rounds
 * @param logger - receives failures
 */
export function startPeriodicJob(
  name: string,
  run: () => Promise<void>,
  timing: { firstAfterMs: number; everyMs: number },
  logger: Logger,
): BackgroundJob {
  let stopped = false;
  let running: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const schedule = (delay: number) => {
    timer = setTimeout(() => {
      running = periodicRuns
        .run(name, run)
        .catch((error: unknown) => logger.warn({ err: error, job: name }, "background job failed; will retry"))
        .finally(() => {
          running = undefined;
          if (!stopped) schedule(timing.everyMs);
        });
    }, delay);
    timer.unref();
  };
  schedule(timing.firstAfterMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
