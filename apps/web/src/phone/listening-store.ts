/** This listener's volume / local mute per participant, remembered for the browser session (this tab). */
import { parseListening, type Listening } from './participant-media.ts';

const LISTENING_KEY = 'conclave.listening';

/** Participants are remembered by their user URI, parameters and case ignored. */
export function listeningKey(entity: string): string {
  return entity
    .replace(/^sips?:/i, '')
    .replace(/[;?].*$/, '')
    .toLowerCase();
}

/** Remembered for the browser session (this tab), like the call itself. */
export function loadListening(): Map<string, Listening> {
  const out = new Map<string, Listening>();
  try {
    const raw: unknown = JSON.parse(globalThis.sessionStorage?.getItem(LISTENING_KEY) ?? '{}');
    if (typeof raw !== 'object' || raw === null) return out;
    for (const [k, v] of Object.entries(raw)) {
      const parsed = parseListening(v);
      if (parsed) out.set(k, Object.freeze(parsed));
    }
  } catch {
    // No storage or a damaged entry: start from the defaults.
  }
  return out;
}

export function saveListening(map: ReadonlyMap<string, Listening>): void {
  try {
    globalThis.sessionStorage?.setItem(LISTENING_KEY, JSON.stringify(Object.fromEntries(map)));
  } catch {
    // Storage full or forbidden: the choice still holds until the page is closed.
  }
}
