/**
 * Polls `condition` every 10 ms until it holds, for things that settle a moment after the call that
 * caused them (a stream counted off, a lease released, a folder removed).
 * @param condition - checked as it is, sync or async
 * @param timeoutMs - how long to wait before failing
 * @throws Error when the condition does not hold in time
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
