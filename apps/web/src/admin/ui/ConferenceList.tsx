import { useEffect, useId, useRef, useState, type KeyboardEvent } from 'react';
import type { AdminConsole, AdminSnapshot, ConferenceView } from '../admin-console.ts';
import { endpointStatusText, joiningMethodText } from '../admin-words.ts';
import type { AdminRosterEntry } from '../roster-merge.ts';
import { sipKey } from '../api-types.ts';
import { userPart } from '../../phone/target.ts';
import { formatDuration, useNow } from '../../ui/usePhone.ts';

export function ConferenceList({ admin, snap }: { admin: AdminConsole; snap: AdminSnapshot }) {
  const id = useId();
  const now = useNow(snap.conferences.length > 0);
  const headingRef = useRef<HTMLHeadingElement>(null);
  const count = snap.conferences.length;
  const stale = snap.feed.state !== 'live';
  const previous = useRef(count);
  // A conference that ends takes the focused button with it: keep keyboard users on the list.
  useEffect(() => {
    if (count < previous.current && (document.activeElement === document.body || document.activeElement === null)) {
      headingRef.current?.focus();
    }
    previous.current = count;
  }, [count]);

  return (
    <section className="admin-conferences" aria-labelledby={`${id}-title`}>
      <div className="admin-list-head">
        <h1 id={`${id}-title`} className="admin-title" ref={headingRef} tabIndex={-1}>
          Conferences
          <span className="admin-count" data-testid="conference-count">
            {count}
          </span>
        </h1>
        <p className="sr-only" role="status" aria-live="polite" data-testid="admin-notice">
          {snap.notice ?? ''}
        </p>
      </div>
      {snap.notice !== null && (
        <p className="admin-notice" aria-hidden="true">
          <span>{snap.notice}</span>
          <button type="button" className="icon-button" aria-label="Dismiss" onClick={() => admin.dismissNotice()}>
            ×
          </button>
        </p>
      )}
      {stale && count > 0 && (
        <p className="hint admin-stale" id={`${id}-stale`} data-testid="conference-list-stale">
          Not connected to the server: this list may be out of date.
        </p>
      )}
      {count === 0 ? (
        <p className="empty" data-testid="conference-list-empty">
          {snap.listLoaded ? 'No conference is running.' : 'Loading the conference list…'}
        </p>
      ) : (
        <ul
          className={`admin-conference-list${stale ? ' is-stale' : ''}`}
          data-testid="conference-list"
          data-stale={String(stale)}
          aria-describedby={stale ? `${id}-stale` : undefined}
        >
          {snap.conferences.map((c) => (
            <ConferenceItem key={c.id} admin={admin} conference={c} now={now} />
          ))}
        </ul>
      )}
    </section>
  );
}

function shortName(uri: string): string {
  return userPart(uri);
}

function ConferenceItem({
  admin,
  conference: c,
  now,
}: {
  admin: AdminConsole;
  conference: ConferenceView;
  now: number;
}) {
  const id = useId();
  const [confirming, setConfirming] = useState(false);
  const endRef = useRef<HTMLButtonElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const lockBusy = c.pending.includes('lock');
  const endBusy = c.pending.includes('end');
  const present = c.entries.filter((e) => e.present).length;

  useEffect(() => {
    if (confirming) cancelRef.current?.focus();
  }, [confirming]);

  const closeConfirm = (): void => {
    setConfirming(false);
    queueMicrotask(() => endRef.current?.focus());
  };
  const onConfirmKey = (e: KeyboardEvent<HTMLDivElement>): void => {
    if (e.key === 'Escape') {
      e.preventDefault();
      closeConfirm();
    }
  };
  const started = c.createdAt === null ? null : new Date(c.createdAt);

  return (
    <li
      className={`card admin-conference${c.locked ? ' is-locked' : ''}`}
      data-testid="conference-item"
      data-conference-uri={c.uri}
      data-conference-id={c.id}
      data-locked={String(c.locked)}
      data-participant-count={c.participantCount}
      aria-labelledby={`${id}-name`}
    >
      <div className="admin-conference-head">
        <div className="admin-conference-who">
          <h2 className="admin-conference-name" id={`${id}-name`}>
            <span className="sr-only">Conference </span>
            {c.subject ?? shortName(c.uri)}
            {c.locked && (
              <span className="tag" data-testid="conference-locked">
                locked
              </span>
            )}
          </h2>
          <span className="mono admin-conference-uri" data-testid="conference-uri" title={c.uri}>
            {c.uri}
          </span>
        </div>
        <div className="admin-conference-actions">
          <button
            type="button"
            className={`button button-toggle${c.locked ? ' is-on' : ''}`}
            data-testid="lock-button"
            data-action={c.locked ? 'unlock' : 'lock'}
            aria-pressed={c.locked}
            aria-label={`${c.locked ? 'Unlock' : 'Lock'} conference ${shortName(c.uri)}`}
            disabled={lockBusy || endBusy}
            aria-busy={lockBusy}
            onClick={() => void admin.toggleLock(c.id)}
          >
            <LockIcon locked={c.locked} />
            {c.locked ? 'Unlock' : 'Lock'}
          </button>
          <button
            type="button"
            ref={endRef}
            className="button button-hangup"
            data-testid="end-button"
            aria-label={`End conference ${shortName(c.uri)}`}
            aria-expanded={confirming}
            aria-controls={`${id}-confirm`}
            disabled={endBusy}
            aria-busy={endBusy}
            onClick={() => setConfirming(true)}
          >
            {endBusy ? 'Ending…' : 'End'}
          </button>
        </div>
      </div>

      <dl className="admin-facts">
        <div>
          <dt>Created by</dt>
          <dd data-testid="conference-creator" title={c.creator}>
            {userPart(c.creator)} <span className="mono muted">{c.creator}</span>
          </dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>
            {started ? (
              <time dateTime={started.toISOString()} data-testid="conference-started">
                {started.toLocaleTimeString()}
              </time>
            ) : (
              '—'
            )}
          </dd>
        </div>
        <div>
          <dt>Running</dt>
          <dd className="duration" data-testid="conference-duration">
            {c.createdAt === null ? '—' : formatDuration(now - c.createdAt)}
          </dd>
        </div>
        <div>
          <dt>Participants</dt>
          <dd data-testid="conference-participant-count" data-count={c.participantCount}>
            {c.participantCount}
            {c.maxParticipants !== null && <span className="muted"> / {c.maxParticipants}</span>}
          </dd>
        </div>
      </dl>

      {confirming && (
        <div
          className="admin-confirm"
          id={`${id}-confirm`}
          role="alertdialog"
          aria-labelledby={`${id}-confirm-text`}
          data-testid="end-confirm"
          onKeyDown={onConfirmKey}
        >
          <p id={`${id}-confirm-text`}>
            End this conference?{' '}
            {present === 1 ? 'The participant' : `All ${present > 0 ? present : c.participantCount} participants`} will
            be hung up.
          </p>
          <div className="admin-confirm-actions">
            <button
              type="button"
              className="button button-hangup"
              data-testid="end-confirm-button"
              onClick={() => {
                setConfirming(false);
                void admin.end(c.id);
              }}
            >
              End conference
            </button>
            <button
              type="button"
              ref={cancelRef}
              className="button"
              data-testid="end-cancel-button"
              onClick={closeConfirm}
            >
              Cancel
            </button>
          </div>
        </div>
      )}

      {c.error !== null && (
        <p className="line-error admin-error" role="alert" data-testid="conference-action-error">
          <span>{c.error}</span>
          <button
            type="button"
            className="icon-button"
            aria-label="Dismiss the error"
            onClick={() => admin.dismissError(c.id)}
          >
            ×
          </button>
        </p>
      )}

      <AdminRoster admin={admin} conference={c} now={now} />
    </li>
  );
}

const ROSTER_STATE_TEXT: Record<string, string> = {
  waiting: 'waiting for the SIP connection…',
  pending: 'subscribing to the conference…',
  retrying: 'subscribing again…',
};

function AdminRoster({ admin, conference: c, now }: { admin: AdminConsole; conference: ConferenceView; now: number }) {
  const showEntries = c.rosterLoaded || c.rosterState === 'failed';
  return (
    <div
      className="admin-roster-wrap"
      data-testid="admin-roster"
      data-subscription={c.rosterState}
      data-loaded={String(c.rosterLoaded)}
    >
      {c.rosterError !== null && (c.rosterState === 'failed' || c.rosterState === 'retrying') && (
        <p className="hint admin-roster-error" data-testid="admin-roster-error">
          Live roster {c.rosterState === 'failed' ? 'unavailable' : 'interrupted'}: {c.rosterError}
          {c.rosterState === 'failed' && ' (showing the participants the server lists)'}
        </p>
      )}
      {!showEntries ? (
        <p className="hint" data-testid="admin-roster-loading">
          {ROSTER_STATE_TEXT[c.rosterState] ?? 'waiting for the participant list…'}
        </p>
      ) : (
        <ul className="roster admin-roster" aria-label={`Participants of ${shortName(c.uri)}`}>
          {c.entries.map((e) => (
            <RosterEntryRow key={e.entity} admin={admin} conference={c} entry={e} now={now} />
          ))}
          {c.entries.length === 0 && <li className="hint">Nobody is in the conference.</li>}
        </ul>
      )}
    </div>
  );
}

function RosterEntryRow({
  admin,
  conference: c,
  entry: e,
  now,
}: {
  admin: AdminConsole;
  conference: ConferenceView;
  entry: AdminRosterEntry;
  now: number;
}) {
  const muteBusy = c.pending.includes(`mute:${sipKey(e.entity)}`);
  const kickBusy = c.pending.includes(`kick:${sipKey(e.entity)}`);
  const actionable = e.present && !c.pending.includes('end');
  const name = e.displayName;
  return (
    <li
      className={`admin-entry roster-${e.status}${e.speaking ? ' is-speaking' : ''}`}
      data-testid="roster-entry"
      data-entity={e.entity}
      data-status={e.status}
      data-speaking={String(e.speaking)}
      data-muted-by-focus={String(e.mutedByFocus)}
      data-participant-id={e.participantId ?? ''}
      data-present={String(e.present)}
      data-source={e.source}
    >
      <span className="avatar avatar-small" aria-hidden="true">
        {name.charAt(0).toUpperCase()}
      </span>
      <div className="admin-entry-who">
        <span className="roster-name" data-testid="roster-entry-name">
          {name}
          {e.roles.includes('creator') && <span className="tag tag-role">creator</span>}
        </span>
        <span className="roster-uri mono" title={e.entity}>
          {e.entity}
        </span>
      </div>
      <div className="admin-entry-meta">
        <div className="admin-entry-state">
          <span className={`chip chip-roster chip-${e.status}`} data-testid="roster-entry-status">
            {endpointStatusText(e.status)}
          </span>
          {e.present && (
            <span
              className={`speaking${e.speaking ? ' is-on' : ''}`}
              data-testid="speaking-indicator"
              data-speaking={String(e.speaking)}
            >
              <span className="speaking-bars" aria-hidden="true">
                <i />
                <i />
                <i />
              </span>
              <span className={e.speaking ? '' : 'sr-only'}>{e.speaking ? 'speaking' : 'not speaking'}</span>
            </span>
          )}
        </div>
        {e.present && (
          <span className="admin-entry-join muted">
            <span data-testid="roster-entry-joining">{joiningMethodText(e.joiningMethod)}</span>
            {e.joinedAt !== null && (
              <>
                {' · '}
                <span
                  className="duration"
                  data-testid="roster-entry-duration"
                  title={`joined at ${new Date(e.joinedAt).toLocaleTimeString()}`}
                >
                  {formatDuration(now - e.joinedAt)}
                </span>
              </>
            )}
          </span>
        )}
      </div>
      {e.present && (
        <div className="admin-entry-actions">
          <button
            type="button"
            className={`button button-quiet button-toggle${e.mutedByFocus ? ' is-on' : ''}`}
            data-testid="mute-participant-button"
            data-action={e.mutedByFocus ? 'unmute' : 'mute'}
            aria-pressed={e.mutedByFocus}
            aria-label={`${e.mutedByFocus ? 'Unmute' : 'Mute'} ${name}`}
            disabled={!actionable || muteBusy || kickBusy}
            aria-busy={muteBusy}
            onClick={() => void admin.toggleMute(c.id, e.entity)}
          >
            {e.mutedByFocus ? 'Unmute' : 'Mute'}
          </button>
          <button
            type="button"
            className="button button-quiet button-danger"
            data-testid="kick-button"
            aria-label={`Remove ${name} from the conference`}
            disabled={!actionable || kickBusy}
            aria-busy={kickBusy}
            onClick={() => void admin.kick(c.id, e.entity)}
          >
            {kickBusy ? 'Removing…' : 'Remove'}
          </button>
        </div>
      )}
    </li>
  );
}

/** A padlock, closed or open (text glyphs are not in every font). */
function LockIcon({ locked }: { locked: boolean }) {
  return (
    <svg className="lock-icon" width="16" height="16" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <rect x="2.5" y="7" width="11" height="7.5" rx="1.5" fill="currentColor" />
      <path
        d={locked ? 'M5 7V5a3 3 0 0 1 6 0v2' : 'M5 7V5a3 3 0 0 1 5.8-1.1'}
        fill="none"
        stroke="currentColor"
        strokeWidth="1.6"
        strokeLinecap="round"
      />
    </svg>
  );
}
