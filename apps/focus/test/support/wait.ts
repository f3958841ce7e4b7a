/** Polls until `predicate` holds; fails with `what` (and optional detail) after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  what = 'condition',
  timeoutMs = 8000,
  detail?: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
