import { useId } from 'react';
import type { DeviceKind, DeviceOption } from '../phone/devices.ts';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';
import { MicLevel } from './MicLevel.tsx';
import './devices.css';

const TITLE: Record<DeviceKind, string> = { microphone: 'Microphone', camera: 'Camera', speaker: 'Speaker' };

/**
 * Microphone, camera and speaker choice (remembered in this browser) and the level meter of your
 * own microphone. A new microphone or camera is switched into calls in progress at once.
 */
export function DevicePanel({ phone, snap }: { phone: Phone; snap: PhoneSnapshot }) {
  const id = useId();
  const d = snap.devices;
  const mic = snap.microphone;
  const lists: Record<DeviceKind, readonly DeviceOption[]> = {
    microphone: d.microphones,
    camera: d.cameras,
    speaker: d.speakers,
  };
  const inCall = mic.source === 'call';

  return (
    <section className="card devices" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className="section-title devices-title">
        Devices
      </h2>
      <div className="device-grid">
        {(['microphone', 'camera', 'speaker'] as const).map((kind) => {
          const options = lists[kind];
          const selected = d.selected[kind];
          const missing = selected !== '' && !options.some((o) => o.id === selected);
          const unsupported = kind === 'speaker' && !d.speakerSelectable;
          return (
            <div className="field device-field" key={kind}>
              <label htmlFor={`${id}-${kind}`}>{TITLE[kind]}</label>
              <select
                id={`${id}-${kind}`}
                className="device-select"
                data-testid={`device-${kind}`}
                value={selected}
                disabled={unsupported || snap.switchingDevice === kind}
                aria-busy={snap.switchingDevice === kind}
                aria-describedby={unsupported ? `${id}-speaker-note` : undefined}
                onChange={(e) => void phone.selectDevice(kind, e.target.value)}
              >
                <option value="">System default</option>
                {options.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.label}
                  </option>
                ))}
                {missing && <option value={selected}>Chosen {kind} (not connected)</option>}
              </select>
            </div>
          );
        })}
      </div>

      <div className="mic-row">
        <span id={`${id}-meter`} className="mic-label">
          Your microphone
        </span>
        <MicLevel mic={mic} labelledBy={`${id}-meter`} />
        {!inCall && (
          <button
            type="button"
            className={`button button-quiet button-toggle${mic.testing ? ' is-on' : ''}`}
            data-testid="mic-test"
            aria-pressed={mic.testing}
            onClick={() => void phone.setMicTest(!mic.testing)}
          >
            {mic.testing ? 'Stop test' : 'Test microphone'}
          </button>
        )}
      </div>

      {!d.speakerSelectable && (
        <p id={`${id}-speaker-note`} className="hint">
          This browser always plays calls on its default speaker.
        </p>
      )}
      {d.labelsHidden && (
        <p className="hint" data-testid="device-labels-hidden">
          Device names appear once the browser may use the microphone: test it or make a call.
        </p>
      )}
    </section>
  );
}
