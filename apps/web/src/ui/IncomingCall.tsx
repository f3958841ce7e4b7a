import { useEffect, useId, useRef } from 'react';
import type { LineSnapshot } from '../phone/line.ts';

interface Props {
  line: LineSnapshot;
  /** Another call is active: offer to hold it (the user's choice). */
  otherActive: boolean;
  onAnswer: (holdOthers: boolean) => void;
  onDecline: () => void;
}

export function IncomingCall({ line, otherActive, onAnswer, onDecline }: Props) {
  const id = useId();
  const answerRef = useRef<HTMLButtonElement>(null);

  // Bring the keyboard to the call, unless the user is typing somewhere.
  useEffect(() => {
    const active = document.activeElement;
    if (!active || active === document.body) answerRef.current?.focus();
  }, []);

  const kind =
    line.role === 'conference' ? 'Conference call' : line.offersVideo ? 'Incoming video call' : 'Incoming call';
  const answering = line.phase !== 'ringing';

  return (
    <section
      className="card incoming"
      role="alertdialog"
      aria-labelledby={`${id}-title`}
      aria-describedby={`${id}-caller`}
      data-testid="incoming-call"
      data-party={line.party}
      data-line-id={line.id}
    >
      <div className="incoming-pulse" aria-hidden="true">
        {initial(line.displayName)}
      </div>
      <div className="incoming-body">
        <h2 id={`${id}-title`} className="incoming-kind">
          {kind}
        </h2>
        <p id={`${id}-caller`} className="incoming-caller" data-testid="incoming-caller">
          <span className="party-name">{line.displayName}</span>
          <span className="party-uri mono">{line.party}</span>
        </p>
      </div>
      <div className="incoming-actions">
        <button
          ref={answerRef}
          type="button"
          className="button button-call"
          data-testid="answer-button"
          disabled={answering}
          onClick={() => onAnswer(false)}
          aria-label={`Answer ${line.displayName}${otherActive ? ' and keep the current call active' : ''}`}
        >
          Answer
        </button>
        {otherActive && (
          <button
            type="button"
            className="button button-call-alt"
            data-testid="hold-and-answer-button"
            disabled={answering}
            onClick={() => onAnswer(true)}
            aria-label={`Hold the current call and answer ${line.displayName}`}
          >
            Hold current &amp; answer
          </button>
        )}
        <button
          type="button"
          className="button button-hangup"
          data-testid="decline-button"
          disabled={answering}
          onClick={onDecline}
          aria-label={`Decline the call from ${line.displayName}`}
        >
          Decline
        </button>
      </div>
    </section>
  );
}

export function initial(name: string): string {
  const c = name.trim().charAt(0);
  return c ? c.toUpperCase() : '?';
}
