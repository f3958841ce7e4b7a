import type { AppConnection } from './control/app-connection.ts';
import type { Dialog } from './dialog.ts';

/**
 * Dialogs by drachtio id and by (Call-ID, local tag, remote tag) for matching network requests. A dialog
 * added here is forgotten when it closes.
 */
export class DialogTable {
  readonly #byId = new Map<string, Dialog>();
  readonly #byTags = new Map<string, Dialog>();

  add(d: Dialog): void {
    this.#byId.set(d.id, d);
    this.#byTags.set(tagKey(d.callId, d.localTag, d.remoteTag), d);
    d.on('closed', () => this.#remove(d));
  }

  /** Re-index after the remote tag changed (a different fork answered). */
  setRemoteTag(d: Dialog, remoteTag: string): void {
    this.#byTags.delete(tagKey(d.callId, d.localTag, d.remoteTag));
    d.remoteTag = remoteTag;
    this.#byTags.set(tagKey(d.callId, d.localTag, d.remoteTag), d);
  }

  get(id: string): Dialog | undefined {
    return this.#byId.get(id);
  }

  /** For a request from the network: local tag = To tag, remote tag = From tag. */
  match(callId: string, localTag: string, remoteTag: string): Dialog | undefined {
    return this.#byTags.get(tagKey(callId, localTag, remoteTag));
  }

  ownedBy(app: AppConnection): Dialog[] {
    return [...this.#byId.values()].filter((d) => d.app === app);
  }

  get size(): number {
    return this.#byId.size;
  }

  #remove(d: Dialog): void {
    if (this.#byId.get(d.id) === d) this.#byId.delete(d.id);
    const k = tagKey(d.callId, d.localTag, d.remoteTag);
    if (this.#byTags.get(k) === d) this.#byTags.delete(k);
  }
}

function tagKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}\u0000${localTag}\u0000${remoteTag}`;
}
