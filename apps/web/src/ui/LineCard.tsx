import { useCallback, useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { LineSnapshot } from '../phone/line.ts';
import type { Phone } from '../phone/phone.ts';
import type { ConferenceRoster } from '../phone/roster.ts';
import { gainOf, participantOfTrack } from '../phone/participant-media.ts';
import { initial } from './IncomingCall.tsx';
import { isKeypadKey, Keypad } from './Keypad.tsx';
import { RemoteTrack } from './RemoteMedia.tsx';
import { TransferButton, TransferForm, TransferStatus } from './TransferControl.tsx';
import { formatDuration } from './usePhone.ts';
import { VideoTiles } from './VideoTiles.tsx';

function phaseText(line: LineSnapshot): string {
  switch (line.state) {
    case 'ringing':
      if (line.direction === 'incoming')
        return line.phase === 'answering' ? 'Connecting…' : 'Incoming call: answer or decline above';
      return line.phase === 'calling' ? 'Calling…' : 'Ringing…';
    case 'active':
      // Being held by the other side is shown by the remote-hold notice below.
      return line.role === 'conference' ? 'In conference' : 'In call';
    case 'held':
      return line.holdPending ? 'Putting on hold…' : 'On hold';
    case 'ended':
      return line.end ? line.end.text : 'call ended';
  }
}

const STATE_LABEL: Record<LineSnapshot['state'], string> = {
  ringing: 'ringing',
  active: 'active',
  held: 'on hold',
  ended: 'ended',
};

interface LineCardProps {
  line: LineSnapshot;
  now: number;
  phone: Phone;
  /** Chosen speaker ('' = default). */
  speakerId?: string;
  /** Our own AOR and name (the local video tile). */
  self?: { uri: string; name: string };
  /** Roster of the conference this line talks to (video tiles: names, active speaker). */
  roster?: ConferenceRoster | null;
}

const NO_SELF = { uri: '', name: 'You' };

export function LineCard({ line, now, phone, speakerId, self = NO_SELF, roster = null }: LineCardProps) {
  const ended = line.state === 'ended';
  const connected = line.state === 'active' || line.state === 'held';
  const duration = line.answeredAt !== null ? formatDuration((line.endedAt ?? now) - line.answeredAt) : null;
  const name = line.displayName;
  const audioTracks = line.remoteTracks.filter((t) => t.kind === 'audio');
  const canKeypad = line.state === 'active';
  const canTransfer = line.role === 'call' && connected;
  // Open by default on calls (menus, PINs); on a conference leg (which a line may become later) it
  // is rarely needed. Once the user opens or closes it, that choice holds.
  const [keypadChoice, setKeypadChoice] = useState<boolean | null>(null);
  const keypadOpen = keypadChoice ?? line.role === 'call';
  const [transferOpen, setTransferOpen] = useState(false);
  const [flash, setFlash] = useState<{ key: string; at: number } | null>(null);
  const panelId = useId();
  const keypadShown = canKeypad && keypadOpen && !transferOpen;
  const transferButtonRef = useRef<HTMLDivElement>(null);
  const onSinkError = useCallback((message: string) => phone.showError(message), [phone]);
  const endIsError = ended && line.end?.isError === true;
  // An unanswered incoming call is handled by its alert (answer / decline); no second set of buttons.
  const incomingRinging = line.direction === 'incoming' && line.phase === 'ringing';
  const hangupRef = useRef<HTMLButtonElement>(null);

  // Answering removes the alert that had the focus: give the keyboard the new call's controls.
  useEffect(() => {
    if (line.direction !== 'incoming' || line.state !== 'active') return;
    const active = document.activeElement;
    if (!active || active === document.body) hangupRef.current?.focus();
  }, [line.direction, line.state]);

  useEffect(() => {
    if (!flash) return;
    const timer = setTimeout(() => setFlash(null), 160);
    return () => clearTimeout(timer);
  }, [flash]);

  useEffect(() => {
    if (!canTransfer) setTransferOpen(false);
  }, [canTransfer]);

  const sendKey = (key: string): void => phone.sendDtmf(line.id, key);

  // Typing 0-9, * or # anywhere in an active line (not in a text field) plays the tone.
  const onKeyDown = (e: KeyboardEvent<HTMLLIElement>): void => {
    if (!canKeypad || e.ctrlKey || e.metaKey || e.altKey || !isKeypadKey(e.key)) return;
    const target = e.target as HTMLElement;
    if (target.closest('input, textarea, select, [contenteditable="true"]')) return;
    e.preventDefault();
    sendKey(e.key);
    setFlash({ key: e.key, at: Date.now() });
  };

  const closeTransfer = (sent: boolean): void => {
    setTransferOpen(false);
    // Back to the button that opened the form (Escape / Cancel), for keyboard users.
    if (!sent) transferButtonRef.current?.querySelector<HTMLButtonElement>('[data-testid="transfer-button"]')?.focus();
  };

  return (
    <li
      className={`line line-${line.state}${endIsError ? ' line-failed' : ''}`}
      data-testid="line"
      data-state={line.state}
      data-party={line.party}
      data-line-id={line.id}
      data-direction={line.direction}
      data-role={line.role}
      data-muted={String(line.muted)}
      data-remote-hold={String(line.remoteHold)}
      tabIndex={canKeypad ? 0 : undefined}
      onKeyDown={onKeyDown}
      aria-keyshortcuts={canKeypad ? '0 1 2 3 4 5 6 7 8 9 * #' : undefined}
      aria-label={`${line.role === 'conference' ? 'Conference' : 'Call with'} ${name}, ${STATE_LABEL[line.state]}${duration ? `, ${duration}` : ''}`}
    >
      <div className="line-head">
        <div className={`avatar avatar-${line.state}`} aria-hidden="true">
          {line.role === 'conference' ? '⁂' : initial(name)}
        </div>
        <div className="line-who">
          <span className="party-name">{line.role === 'conference' ? 'Conference' : name}</span>
          <span className="party-uri mono" data-testid="line-party">
            {line.party}
          </span>
        </div>
        <div className="line-meta">
          <span className={`chip chip-${line.state}`} data-testid="line-state">
            {STATE_LABEL[line.state]}
          </span>
          <span className="duration mono" data-testid="line-duration" aria-hidden={duration === null}>
            {duration ?? (line.direction === 'incoming' ? '↓' : '↑')}
          </span>
        </div>
      </div>

      <p
        className={`line-detail${endIsError ? ' line-detail-error' : ''}`}
        data-testid="line-detail"
        role={endIsError ? 'alert' : undefined}
      >
        {phaseText(line)}
        {line.muted && connected && <span className="tag">muted</span>}
      </p>

      {line.remoteHold && !ended && (
        <p className="remote-hold" role="status" data-testid="remote-hold" data-party={line.party}>
          <span aria-hidden="true">⏸ </span>
          On hold by {name}
        </p>
      )}

      {line.dtmfReceived !== '' && !ended && (
        <p
          className="dtmf-received"
          role="status"
          data-testid="dtmf-received"
          data-digits={line.dtmfReceived}
          aria-label={`Keys ${name} sent: ${line.dtmfReceived}`}
        >
          Keys from {name}: <span className="mono">{line.dtmfReceived}</span>
        </p>
      )}

      {line.error !== null && !ended && (
        <p className="line-error" role="alert" data-testid="line-error">
          {line.error}
        </p>
      )}

      {!ended && !incomingRinging && (
        <div className="line-actions" role="group" aria-label={`Controls for the call with ${name}`}>
          <button
            type="button"
            className={`button button-toggle${line.muted ? ' is-on' : ''}`}
            data-testid="mute-button"
            aria-pressed={line.muted}
            disabled={!connected}
            onClick={() => phone.setMuted(line.id, !line.muted)}
            aria-label={line.muted ? `Unmute your microphone for ${name}` : `Mute your microphone for ${name}`}
          >
            {line.muted ? 'Unmute' : 'Mute'}
          </button>
          {line.state === 'held' ? (
            <button
              type="button"
              className="button button-toggle is-on"
              data-testid="resume-button"
              disabled={line.holdPending}
              onClick={() => phone.resume(line.id)}
              aria-label={`Resume the call with ${name}`}
            >
              Resume
            </button>
          ) : (
            <button
              type="button"
              className="button button-toggle"
              data-testid="hold-button"
              disabled={line.state !== 'active' || line.holdPending}
              onClick={() => phone.hold(line.id)}
              aria-label={`Hold the call with ${name}`}
            >
              Hold
            </button>
          )}
          <button
            ref={hangupRef}
            type="button"
            className="button button-hangup"
            data-testid="hangup-button"
            onClick={() => phone.hangup(line.id)}
            aria-label={
              line.state === 'ringing'
                ? line.direction === 'incoming'
                  ? `Decline the call from ${name}`
                  : `Cancel the call to ${name}`
                : `Hang up the call with ${name}`
            }
          >
            {line.state === 'ringing' ? (line.direction === 'incoming' ? 'Decline' : 'Cancel') : 'Hang up'}
          </button>
        </div>
      )}

      {(canKeypad || canTransfer) && (
        <div className="line-more" role="group" aria-label={`More for the call with ${name}`} ref={transferButtonRef}>
          {canKeypad && (
            <button
              type="button"
              className="button button-expander"
              data-testid="keypad-button"
              aria-expanded={keypadShown}
              aria-controls={keypadShown ? `${panelId}-keypad` : undefined}
              onClick={() => {
                setTransferOpen(false);
                setKeypadChoice(!keypadShown);
              }}
              aria-label={keypadShown ? `Hide the keypad for ${name}` : `Show the keypad for ${name}`}
            >
              Keypad
            </button>
          )}
          {canTransfer && (
            <TransferButton
              line={line}
              open={transferOpen}
              controls={`${panelId}-transfer`}
              onToggle={() => setTransferOpen((v) => !v)}
            />
          )}
        </div>
      )}

      {canTransfer && transferOpen && (
        <TransferForm id={`${panelId}-transfer`} line={line} phone={phone} onClose={closeTransfer} />
      )}
      <TransferStatus line={line} />

      {keypadShown && <Keypad id={`${panelId}-keypad`} line={line} onKey={sendKey} flash={flash} />}

      <VideoTiles line={line} phone={phone} self={self} roster={roster} />

      {audioTracks.length > 0 && (
        <div className="line-audio">
          {audioTracks.map((track) => {
            // Whose voice: the roster entry the focus labelled this stream with (1:1: the other party).
            const source = line.remoteTrackSources.get(track.id);
            const entity =
              line.role === 'conference'
                ? (participantOfTrack(roster?.entries ?? [], {
                    streamId: source?.streamId ?? null,
                    mid: source?.mid ?? null,
                  })?.entity ?? null)
                : line.party;
            return (
              <RemoteTrack
                key={track.id}
                track={track}
                party={line.party}
                lineId={line.id}
                sinkId={speakerId}
                onSinkError={onSinkError}
                playback={phone.playback}
                participant={entity}
                gain={entity === null ? 1 : gainOf(phone.listeningTo(entity))}
              />
            );
          })}
        </div>
      )}
    </li>
  );
}
