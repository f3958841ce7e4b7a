import { useEffect, useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import type { LineSnapshot } from '../phone/line.ts';
import type { Phone } from '../phone/phone.ts';
import './transfer.css';

/**
 * Blind transfer of one call: "Transfer" opens a small form for the target; the REFER's progress
 * (NOTIFY sipfrag) is shown in words under it. A successful transfer ends the line.
 */
export function TransferButton({
  line,
  open,
  controls,
  onToggle,
}: {
  line: LineSnapshot;
  open: boolean;
  controls: string;
  onToggle: () => void;
}) {
  const busy = line.transfer !== null && !line.transfer.done;
  return (
    <button
      type="button"
      className="button button-expander"
      data-testid="transfer-button"
      aria-expanded={open}
      aria-controls={open ? controls : undefined}
      disabled={busy || (line.state !== 'active' && line.state !== 'held')}
      onClick={onToggle}
      aria-label={`Transfer ${line.displayName} to someone else`}
    >
      Transfer
    </button>
  );
}

export function TransferForm({
  id: formId,
  line,
  phone,
  onClose,
}: {
  id: string;
  line: LineSnapshot;
  phone: Phone;
  onClose: (sent: boolean) => void;
}) {
  const id = useId();
  const [target, setTarget] = useState('');
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    inputRef.current?.focus();
  }, []);

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    if (target.trim() === '') {
      setError('type who should take the call, e.g. carol');
      return;
    }
    const problem = phone.transfer(line.id, target);
    if (problem !== null) {
      setError(problem);
      return;
    }
    onClose(true);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLFormElement>): void => {
    if (e.key === 'Escape') {
      e.preventDefault();
      onClose(false);
    }
  };

  return (
    <form
      id={formId}
      className="transfer-form"
      data-testid="transfer-form"
      onSubmit={submit}
      onKeyDown={onKeyDown}
      noValidate
      aria-label={`Transfer ${line.displayName}`}
    >
      <label htmlFor={`${id}-target`} className="transfer-label">
        Transfer {line.displayName} to
      </label>
      <div className="transfer-row">
        <input
          ref={inputRef}
          id={`${id}-target`}
          data-testid="transfer-input"
          className="transfer-input"
          type="text"
          inputMode="email"
          enterKeyHint="send"
          autoComplete="off"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          placeholder="carol  or  sip:carol@host"
          aria-invalid={error !== null}
          aria-describedby={error !== null ? `${id}-error` : `${id}-help`}
          value={target}
          onChange={(e) => {
            setTarget(e.target.value);
            setError(null);
          }}
        />
        <button type="submit" className="button button-primary" data-testid="transfer-submit">
          Transfer
        </button>
        <button
          type="button"
          className="button button-quiet"
          data-testid="transfer-cancel"
          onClick={() => onClose(false)}
        >
          Cancel
        </button>
      </div>
      {error !== null ? (
        <p id={`${id}-error`} className="form-error" role="alert" data-testid="transfer-error">
          {error}
        </p>
      ) : (
        <p id={`${id}-help`} className="hint">
          {line.displayName} is asked to call them; your call ends once they answer.
        </p>
      )}
    </form>
  );
}

export function TransferStatus({ line }: { line: LineSnapshot }) {
  const t = line.transfer;
  if (!t || line.state === 'ended') return null;
  return (
    <p
      className={`transfer-status transfer-${t.phase}`}
      data-testid="transfer-status"
      data-phase={t.phase}
      data-target={t.target}
      role={t.phase === 'failed' ? 'alert' : 'status'}
    >
      {t.text}
    </p>
  );
}
