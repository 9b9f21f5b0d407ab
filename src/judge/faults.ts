/**
 * A failure of the judge itself, never of the submission: the sandbox could not start, a cgroup could
 * not be written, a slot's user still had processes. The worker retries the job on another attempt
 * instead of giving a verdict, so a broken judge machine can never blame a student's program.
 */
export class JudgeFault extends Error {
  override name = "JudgeFault";
}

/** Turns any error from a step of the judge's own machinery into a fault naming that step. */
export function faultOf(step: string, error: unknown): JudgeFault {
  if (error instanceof JudgeFault) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new JudgeFault(`${step}: ${detail}`, { cause: error });
}
