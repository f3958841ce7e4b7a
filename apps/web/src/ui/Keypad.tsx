import { useId } from 'react';
import type { LineSnapshot } from '../phone/line.ts';
import './keypad.css';

export const KEYPAD_KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'] as const;

const LETTERS: Record<string, string> = {
  '2': 'ABC',
  '3': 'DEF',
  '4': 'GHI',
  '5': 'JKL',
  '6': 'MNO',
  '7': 'PQRS',
  '8': 'TUV',
  '9': 'WXYZ',
  '0': '+',
};

const SPOKEN: Record<string, string> = { '*': 'star', '#': 'hash' };

/** True for a key the keypad sends (digits, * and #). */
export function isKeypadKey(key: string): boolean {
  return key.length === 1 && /[0-9*#]/.test(key);
}

interface Props {
  /** Element id (the Keypad button's aria-controls). */
  id?: string;
  line: LineSnapshot;
  onKey: (key: string) => void;
  /** The key last typed on the keyboard (lit briefly); `at` makes repeats visible. */
  flash: { key: string; at: number } | null;
}

/**
 * 12-key DTMF pad for one call. Keys go out as SIP INFO, one per key, spaced like tones (the focus's
 * mediasoup would drop RFC 4733 telephone-events); the display shows the keys as they were sent.
 */
export function Keypad({ id: elementId, line, onKey, flash }: Props) {
  const id = useId();
  const name = line.displayName;
  return (
    <div id={elementId} className="keypad" data-testid="dtmf-keypad" role="group" aria-labelledby={`${id}-title`}>
      <div className="keypad-display">
        <span id={`${id}-title`} className="keypad-title">
          Keypad
        </span>
        <output
          className="keypad-sent mono"
          data-testid="dtmf-sent"
          data-digits={line.dtmfSent}
          aria-live="polite"
          aria-label={`Tones sent to ${name}`}
        >
          {line.dtmfSent === '' ? <span className="keypad-placeholder">type or press a key</span> : line.dtmfSent}
        </output>
      </div>
      <div className="keypad-keys">
        {KEYPAD_KEYS.map((key) => (
          <button
            key={key}
            type="button"
            className={`keypad-key${flash?.key === key ? ' is-lit' : ''}`}
            data-testid="dtmf-key"
            data-key={key}
            aria-label={`Send ${SPOKEN[key] ?? key} to ${name}`}
            onClick={() => onKey(key)}
          >
            <span className="keypad-digit">{key}</span>
            <span className="keypad-letters" aria-hidden="true">
              {LETTERS[key] ?? '\u00a0'}
            </span>
          </button>
        ))}
      </div>
      {line.dtmfError !== null && (
        <p className="line-error" role="alert" data-testid="dtmf-error">
          {line.dtmfError}
        </p>
      )}
    </div>
  );
}
