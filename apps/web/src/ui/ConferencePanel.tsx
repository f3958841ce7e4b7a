import { useId } from 'react';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';
import type { RosterEntry } from '../phone/roster.ts';
import { userPart } from '../phone/target.ts';

const STATUS_LABEL: Record<string, string> = {
  connected: 'connected',
  disconnected: 'left',
  'on-hold': 'on hold',
  'muted-via-focus': 'muted by the conference',
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
        <div className="conference-body" data-testid="conference" data-phase={conference.phase} data-uri={conference.uri ?? ''}>
          <p className="muted">
            {conference.phase === 'creating'
              ? 'Creating the conference…'
              : conference.phase === 'ended'
                ? 'The conference call ended.'
                : <>Conference <span className="mono">{conference.uri}</span></>}
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
                    {i.displayName}: {i.status === 'inviting' ? 'adding…' : i.error ?? 'could not be added'}
                  </li>
                ))}
            </ul>
          )}
          <Roster
            entries={conference.roster?.entries ?? null}
            me={snap.account?.uri ?? null}
            onRemove={(entity) => phone.removeParticipant(entity)}
          />
        </div>
      )}
    </section>
  );
}

function Roster({ entries, me, onRemove }: { entries: readonly RosterEntry[] | null; me: string | null; onRemove: (entity: string) => void }) {
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
        >
          <span className="avatar avatar-small" aria-hidden="true">
            {(e.displayText ?? userPart(e.entity)).charAt(0).toUpperCase()}
          </span>
          <span className="roster-name">
            {e.displayText ?? userPart(e.entity)}
            {e.speaking && <span className="tag tag-speaking">speaking</span>}
            {e.mutedByFocus && e.status !== 'muted-via-focus' && <span className="tag">muted</span>}
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
        </li>
      ))}
      {entries.length === 0 && <li className="hint">Nobody has joined yet.</li>}
    </ul>
  );
}
