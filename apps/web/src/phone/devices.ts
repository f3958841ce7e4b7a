/**
 * Devices: which microphones, cameras and speakers the browser offers, and which ones the user
 * chose (remembered in localStorage as `conclave.devices`). Knows nothing of calls; Phone applies
 * a new choice to live calls.
 *
 * Browsers hide device labels (and sometimes ids) until the page has been granted a microphone or
 * camera once; the lists are refreshed after every getUserMedia and on `devicechange`.
 */
import { EnhancedEventEmitter } from '@conclave/events';

export type DeviceKind = 'microphone' | 'camera' | 'speaker';

export interface DeviceOption {
  /** deviceId ('' never appears: the "system default" choice is the empty selection). */
  readonly id: string;
  readonly label: string;
}

/** '' = the system default. */
export type DeviceChoice = Readonly<Record<DeviceKind, string>>;

export interface DevicesSnapshot {
  readonly microphones: readonly DeviceOption[];
  readonly cameras: readonly DeviceOption[];
  readonly speakers: readonly DeviceOption[];
  readonly selected: DeviceChoice;
  /** HTMLMediaElement.setSinkId exists (Chromium, Firefox ≥ 116 behind permission; not Safari). */
  readonly speakerSelectable: boolean;
  /** Labels are hidden until a microphone or camera has been allowed once. */
  readonly labelsHidden: boolean;
}

export type DeviceEvents = { change: [] };

export const DEVICES_KEY = 'conclave.devices';

const KIND_OF: Record<MediaDeviceKind, DeviceKind> = {
  audioinput: 'microphone',
  videoinput: 'camera',
  audiooutput: 'speaker',
};

const NOUN: Record<DeviceKind, string> = { microphone: 'Microphone', camera: 'Camera', speaker: 'Speaker' };

/** Reads a stored choice; anything malformed counts as "system default". Pure. */
export function parseDeviceChoice(raw: string | null): DeviceChoice {
  const choice = { microphone: '', camera: '', speaker: '' };
  if (raw === null) return choice;
  try {
    const value = JSON.parse(raw) as Record<string, unknown> | null;
    if (value && typeof value === 'object') {
      for (const kind of ['microphone', 'camera', 'speaker'] as const) {
        const v = value[kind];
        if (typeof v === 'string' && v.length <= 512) choice[kind] = v;
      }
    }
  } catch {
    // corrupt entry: defaults
  }
  return choice;
}

/**
 * Turns enumerateDevices() output into the three lists. The pseudo-devices "default" and
 * "communications" (Chromium) are left out: the empty choice already means "system default".
 * Unlabelled devices get "Microphone 2"-style names. Pure.
 */
export function groupDevices(
  devices: readonly Pick<MediaDeviceInfo, 'deviceId' | 'kind' | 'label'>[],
): Record<DeviceKind, DeviceOption[]> {
  const out: Record<DeviceKind, DeviceOption[]> = { microphone: [], camera: [], speaker: [] };
  for (const d of devices) {
    const kind = KIND_OF[d.kind];
    if (!kind || d.deviceId === '' || d.deviceId === 'default' || d.deviceId === 'communications') continue;
    const list = out[kind];
    if (list.some((o) => o.id === d.deviceId)) continue;
    list.push({ id: d.deviceId, label: d.label.trim() || `${NOUN[kind]} ${list.length + 1}` });
  }
  return out;
}

export class DeviceManager {
  readonly events = new EnhancedEventEmitter<DeviceEvents>();
  #storage: Storage | null;
  #lists: Record<DeviceKind, DeviceOption[]> = { microphone: [], camera: [], speaker: [] };
  #labelsHidden = true;
  #selected: DeviceChoice;
  #snapshot: DevicesSnapshot | null = null;
  #watching = false;
  #refreshing: Promise<void> | null = null;
  #refreshAgain = false;

  constructor(storage: Storage | null = DeviceManager.#defaultStorage()) {
    this.#storage = storage;
    let raw: string | null;
    try {
      raw = storage?.getItem(DEVICES_KEY) ?? null;
    } catch {
      raw = null;
    }
    this.#selected = parseDeviceChoice(raw);
  }

  static #defaultStorage(): Storage | null {
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null;
    }
  }

  get selected(): DeviceChoice {
    return this.#selected;
  }

  get snapshot(): DevicesSnapshot {
    this.#snapshot ??= Object.freeze({
      microphones: this.#lists.microphone,
      cameras: this.#lists.camera,
      speakers: this.#lists.speaker,
      selected: this.#selected,
      speakerSelectable:
        typeof globalThis.HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype,
      labelsHidden: this.#labelsHidden,
    });
    return this.#snapshot;
  }

  /** Starts following `devicechange` and reads the lists once. */
  watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    globalThis.navigator?.mediaDevices?.addEventListener?.('devicechange', this.#onDeviceChange);
    void this.refresh();
  }

  close(): void {
    if (!this.#watching) return;
    this.#watching = false;
    globalThis.navigator?.mediaDevices?.removeEventListener?.('devicechange', this.#onDeviceChange);
  }

  /** Re-reads the device lists (after a permission grant labels appear). */
  refresh(): Promise<void> {
    if (this.#refreshing) {
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = this.#read().finally(() => {
      this.#refreshing = null;
      if (this.#refreshAgain) {
        this.#refreshAgain = false;
        void this.refresh();
      }
    });
    return this.#refreshing;
  }

  /** Remembers a choice ('' = system default). */
  select(kind: DeviceKind, id: string): void {
    if (this.#selected[kind] === id) return;
    this.#selected = { ...this.#selected, [kind]: id };
    try {
      this.#storage?.setItem(DEVICES_KEY, JSON.stringify(this.#selected));
    } catch {
      // storage full or disabled: the choice still holds for this page
    }
    this.#changed();
  }

  /** getUserMedia constraints for the chosen microphone / camera (`exact`: a wrong device is worse than an error). */
  constraint(kind: 'microphone' | 'camera'): MediaTrackConstraints | true {
    const id = this.#selected[kind];
    return id === '' ? true : { deviceId: { exact: id } };
  }

  #onDeviceChange = (): void => {
    void this.refresh();
  };

  async #read(): Promise<void> {
    const md = globalThis.navigator?.mediaDevices;
    if (!md?.enumerateDevices) return;
    let devices: MediaDeviceInfo[];
    try {
      devices = await md.enumerateDevices();
    } catch {
      return;
    }
    const lists = groupDevices(devices);
    const labelsHidden = devices.some((d) => d.kind !== 'audiooutput') && devices.every((d) => d.label === '');
    if (JSON.stringify(lists) === JSON.stringify(this.#lists) && labelsHidden === this.#labelsHidden) return;
    this.#lists = lists;
    this.#labelsHidden = labelsHidden;
    this.#changed();
  }

  #changed(): void {
    this.#snapshot = null;
    this.events.safeEmit('change');
  }
}
