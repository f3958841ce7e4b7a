import { useEffect, useId, useRef, useState } from 'react';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';
import type { RosterEntry } from '../phone/roster.ts';
import { userPart } from '../phone/target.ts';
import { sameUser } from '../phone/participant-media.ts';

const STATUS_LABEL: Record<string, string> = {
  connected: 'connected',
  disconnected: 'left',
  'on-hold': 'on hold',
  'muted-via-focus': 'muted by the moderator',
  pending: 'pending',
  alerting: 'ringing',
  'dialing-in': 'joining',
  'dialing-out': 'being called',
  disconnecting: 'leaving',
};

export function ConferencePanel({ phone, snap }: { phone: Phone; snap: PhoneSnapshot }) {
  const id = useId();
  const conference = snap.conference;
  const hint = snap.conferenceExists
    ? 'Adds your other calls to the conference.'
    : snap.canConference
      ? 'Merges the held and the active calls into one conference.'
      : 'To start a conference, put one call on hold and keep another one active.';

  return (
    <section className="card conference" aria-labelledby={`${id}-title`}>
      <div className="conference-head">
        <h2 id={`${id}-title`} className="section-title">
          Conference
        </h2>
        <button
          type="button"
          className="button button-primary"
          data-testid="conference-button"
          disabled={!snap.canConference}
          aria-describedby={`${id}-hint`}
          onClick={() => void phone.startConference()}
        >
          {snap.conferenceExists ? 'Add calls' : 'Merge calls'}
        </button>
      </div>
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>

      {conference && (
        <div
          className="conference-body"
          data-testid="conference"
          data-phase={conference.phase}
          data-uri={conference.uri ?? ''}
        >
          <p className="muted">
            {conference.phase === 'creating' ? (
              'Creating the conference…'
            ) : conference.phase === 'ended' ? (
              'The conference call ended.'
            ) : (
              <>
                Conference <span className="mono">{conference.uri}</span>
              </>
            )}
            {conference.roster?.locked === true && <span className="tag">locked</span>}
          </p>
          {conference.error !== null && (
            <p className="line-error" role="alert" data-testid="conference-error">
              {conference.error}
            </p>
          )}
          {conference.invitees.filter((i) => i.status !== 'joined').length > 0 && (
            <ul className="invitees" aria-label="Calls being added">
              {conference.invitees
                .filter((i) => i.status !== 'joined')
                .map((i) => (
                  <li key={i.party} data-testid="invitee" data-party={i.party} data-status={i.status}>
                    {i.displayName}: {i.status === 'inviting' ? 'adding…' : (i.error ?? 'could not be added')}
                  </li>
                ))}
            </ul>
          )}
          <ModeratorMuteNotice entries={conference.roster?.entries ?? null} me={snap.account?.uri ?? null} />
          <Roster
            entries={conference.roster?.entries ?? null}
            me={snap.account?.uri ?? null}
            selfMuted={snap.lines.some((l) => l.role === 'conference' && l.state !== 'ended' && l.muted)}
            phone={phone}
            onRemove={(entity) => phone.removeParticipant(entity)}
          />
        </div>
      )}
    </section>
  );
}

/**
 * Tells you when the moderator muted you (the focus stops forwarding your voice: your own mute
 * button cannot undo it) and when you were unmuted again (that note goes after 10 s).
 */
function ModeratorMuteNotice({ entries, me }: { entries: readonly RosterEntry[] | null; me: string | null }) {
  const mine = entries && me ? entries.find((e) => sameUser(e.entity, me)) : undefined;
  const muted = mine?.mutedByFocus === true;
  const was = useRef(muted);
  const [unmutedAt, setUnmutedAt] = useState<number | null>(null);
  useEffect(() => {
    if (was.current && !muted) setUnmutedAt(Date.now());
    if (muted) setUnmutedAt(null);
    was.current = muted;
  }, [muted]);
  useEffect(() => {
    if (unmutedAt === null) return;
    const timer = setTimeout(() => setUnmutedAt(null), 10_000);
    return () => clearTimeout(timer);
  }, [unmutedAt]);
  if (!muted && unmutedAt === null) return <div role="status" aria-live="polite" className="moderator-notice-slot" />;
  return (
    <div role="status" aria-live="polite" className="moderator-notice-slot">
      <p
        className={`moderator-notice${muted ? ' is-muted' : ''}`}
        data-testid="moderator-mute-notice"
        data-state={muted ? 'muted' : 'unmuted'}
      >
        {muted
          ? 'The moderator muted you: nobody in the conference hears you until you are unmuted.'
          : 'The moderator unmuted you: the others hear you again.'}
      </p>
    </div>
  );
}

/** This listener's volume and mute for one participant (their own playback only). */
function ListenControls({ entry, phone }: { entry: RosterEntry; phone: Phone }) {
  const name = entry.displayText ?? userPart(entry.entity);
  const { volume, muted } = phone.listeningTo(entry.entity);
  return (
    <div className="roster-listen" role="group" aria-label={`Your playback of ${name}`}>
      <input
        type="range"
        min={0}
        max={100}
        step={1}
        value={volume}
        data-testid="participant-volume"
        aria-label={`Volume of ${name}, for you only`}
        aria-valuetext={`${volume} percent${muted ? ', muted for you' : ''}`}
        onChange={(e) => phone.setParticipantVolume(entry.entity, Number(e.target.value))}
      />
      <span className="roster-volume mono" aria-hidden="true">
        {volume}%
      </span>
      <button
        type="button"
        className={`btn btn-small button-toggle${muted ? ' is-on' : ''}`}
        data-testid="participant-local-mute"
        aria-pressed={muted}
        aria-label={muted ? `Unmute ${name} for you` : `Mute ${name} for you only`}
        onClick={() => phone.setParticipantLocalMute(entry.entity, !muted)}
      >
        {muted ? 'Unmute for me' : 'Mute for me'}
      </button>
    </div>
  );
}

function Roster({
  entries,
  me,
  selfMuted,
  phone,
  onRemove,
}: {
  entries: readonly RosterEntry[] | null;
  me: string | null;
  selfMuted: boolean;
  phone: Phone;
  onRemove: (entity: string) => void;
}) {
  if (entries === null) {
    return (
      <p className="hint" data-testid="roster-loading">
        Waiting for the participant list…
      </p>
    );
  }
  // The creator may remove others (the focus enforces it; the button only shows where it would work).
  const iAmCreator = entries.some((e) => e.entity === me && e.roles.includes('creator'));
  return (
    <ul className="roster" data-testid="roster" aria-label="Participants">
      {entries.map((e) => (
        <li
          key={e.entity}
          className={`roster-entry roster-${e.status}${e.speaking ? ' is-speaking' : ''}`}
          data-testid="roster-entry"
          data-entity={e.entity}
          data-status={e.status}
          data-speaking={String(e.speaking)}
          data-muted-by-focus={String(e.mutedByFocus)}
          data-self={String(me !== null && sameUser(e.entity, me))}
          data-listen-volume={me !== null && sameUser(e.entity, me) ? undefined : phone.listeningTo(e.entity).volume}
          data-listen-muted={
            me !== null && sameUser(e.entity, me) ? undefined : String(phone.listeningTo(e.entity).muted)
          }
        >
          <span className="avatar avatar-small" aria-hidden="true">
            {(e.displayText ?? userPart(e.entity)).charAt(0).toUpperCase()}
          </span>
          <span className="roster-name">
            {e.displayText ?? userPart(e.entity)}
            {e.speaking && <span className="tag tag-speaking">speaking</span>}
            {e.mutedByFocus && e.status !== 'muted-via-focus' && <span className="tag">muted by the moderator</span>}
            {me !== null && sameUser(e.entity, me) && (
              <span className="tag tag-self">you{selfMuted ? ', muted' : ''}</span>
            )}
            {me !== null && !sameUser(e.entity, me) && phone.listeningTo(e.entity).muted && (
              <span className="tag" data-testid="participant-muted-for-me">
                muted for you
              </span>
            )}
          </span>
          <span className="roster-uri mono">{e.entity}</span>
          <span className={`chip chip-roster chip-${e.status}`}>{STATUS_LABEL[e.status] ?? e.status}</span>
          {iAmCreator && e.entity !== me && e.status !== 'disconnected' && (
            <button
              type="button"
              className="btn btn-small"
              data-testid="remove-participant-button"
              aria-label={`Remove ${e.displayText ?? userPart(e.entity)} from the conference`}
              onClick={() => onRemove(e.entity)}
            >
              Remove
            </button>
          )}
          {me !== null && !sameUser(e.entity, me) && e.status !== 'disconnected' && (
            <ListenControls entry={e} phone={phone} />
          )}
        </li>
      ))}
      {entries.length === 0 && <li className="hint">Nobody has joined yet.</li>}
    </ul>
  );
}
