import { useId, useState, type FormEvent } from 'react';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';

interface Props {
  phone: Phone;
  snap: PhoneSnapshot;
  video: boolean;
  onVideoChange: (video: boolean) => void;
  /** Start calls (and conferences joined by dialling or answering) with the microphone muted. */
  joinMuted: boolean;
  onJoinMutedChange: (muted: boolean) => void;
  hasActive: boolean;
}

export function DialForm({ phone, snap, video, onVideoChange, joinMuted, onJoinMutedChange, hasActive }: Props) {
  const [target, setTarget] = useState('');
  const [holdOthers, setHoldOthers] = useState(false);
  const id = useId();
  const connected = snap.status.connection === 'connected';

  const submit = (e: FormEvent<HTMLFormElement>): void => {
    e.preventDefault();
    if (snap.dialing) return;
    const value = target;
    void phone.dial(value, { video, holdOthers: hasActive && holdOthers, muted: joinMuted }).then(() => {
      // Keep what was typed if it was not accepted, so it can be corrected.
      if (phone.getSnapshot().dialError === null) setTarget((current) => (current === value ? '' : current));
    });
  };

  const describedBy = [`${id}-help`, snap.dialError !== null ? `${id}-error` : ''].filter(Boolean).join(' ');

  return (
    <form className="card dial" onSubmit={submit} aria-label="Place a call">
      <label htmlFor={`${id}-target`} className="dial-label">
        Call someone
      </label>
      <div className="dial-row">
        <input
          id={`${id}-target`}
          data-testid="dial-input"
          className="dial-input"
          type="text"
          inputMode="email"
          enterKeyHint="go"
          autoComplete="off"
          autoCapitalize="none"
          autoCorrect="off"
          spellCheck={false}
          placeholder="bob  or  sip:bob@host"
          aria-describedby={describedBy}
          aria-invalid={snap.dialError !== null}
          value={target}
          onChange={(e) => {
            setTarget(e.target.value);
            phone.clearDialError();
          }}
        />
        <button
          type="submit"
          className="button button-call"
          data-testid="dial-button"
          disabled={!connected || snap.dialing || target.trim() === ''}
          aria-busy={snap.dialing}
        >
          <span aria-hidden="true" className="glyph">
            ✆
          </span>
          {snap.dialing ? 'Calling…' : 'Call'}
        </button>
      </div>
      <p id={`${id}-help`} className="hint">
        A user name calls <span className="mono">name@{snap.config.domain}</span>; a full SIP address works too.
        {!connected && ' Calling is possible once the server is reachable.'}
      </p>
      {snap.dialError !== null && (
        <p id={`${id}-error`} className="form-error" role="alert" data-testid="dial-error">
          {snap.dialError}
        </p>
      )}
      <div className="dial-options">
        <label className="check">
          <input
            type="checkbox"
            data-testid="video-toggle"
            checked={video}
            onChange={(e) => onVideoChange(e.target.checked)}
          />
          <span>Video</span>
        </label>
        <label className="check">
          <input
            type="checkbox"
            data-testid="join-muted-toggle"
            checked={joinMuted}
            onChange={(e) => onJoinMutedChange(e.target.checked)}
          />
          <span>Start muted</span>
        </label>
        {hasActive && (
          <label className="check">
            <input
              type="checkbox"
              data-testid="dial-hold-others"
              checked={holdOthers}
              onChange={(e) => setHoldOthers(e.target.checked)}
            />
            <span>Put the current call on hold first</span>
          </label>
        )}
      </div>
    </form>
  );
}
