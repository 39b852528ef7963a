/**
 * Resolves on SIGTERM or SIGINT (a supervisor's stop, Ctrl-C), or when `stop` resolves (tests), and
 * removes its signal listeners either way: the long-running commands (controller, proxy) wait here.
 */
export async function untilStopped(stop?: Promise<void>): Promise<void> {
  let done: () => void = () => undefined;
  await new Promise<void>((resolve) => {
    done = () => resolve();
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
    void stop?.then(done);
  });
  process.off('SIGTERM', done);
  process.off('SIGINT', done);
}
