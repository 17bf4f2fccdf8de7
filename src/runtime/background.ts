/**
 * Work that must outlive the response. On Supabase, `EdgeRuntime.waitUntil`
 * keeps the isolate alive until the promise settles. Elsewhere (Node tests,
 * plain Deno) the promise is kept in a local registry that the local stack
 * awaits on shutdown and tests can await with `settleBackgroundTasks`.
 *
 * Either way this is only the fast path: the event is already committed in
 * the outbox, so a task lost with its isolate is picked up by the sweeper.
 */
type WaitUntil = (promise: Promise<unknown>) => void;

const pending = new Set<Promise<unknown>>();

function edgeRuntimeWaitUntil(): WaitUntil | undefined {
  const runtime = (globalThis as { EdgeRuntime?: { waitUntil?: WaitUntil } }).EdgeRuntime;
  return typeof runtime?.waitUntil === "function" ? runtime.waitUntil.bind(runtime) : undefined;
}

export function runInBackground(task: Promise<unknown>): void {
  const guarded = task.catch(() => {}); // failures are logged by the task itself
  const waitUntil = edgeRuntimeWaitUntil();
  if (waitUntil) {
    waitUntil(guarded);
    return;
  }
  pending.add(guarded);
  guarded.finally(() => pending.delete(guarded));
}

/** Resolves once every task started so far (and those they start) has settled. */
export async function settleBackgroundTasks(): Promise<void> {
  while (pending.size > 0) await Promise.allSettled([...pending]);
}
