import { useState } from 'react';
import type { Phone, PhoneSnapshot } from '../phone/phone.ts';
import { ConferencePanel } from './ConferencePanel.tsx';
import { DevicePanel } from './DevicePanel.tsx';
import { DialForm } from './DialForm.tsx';
import { IncomingCall } from './IncomingCall.tsx';
import { LineCard } from './LineCard.tsx';
import { useRinger } from './ringer.ts';
import { useNow } from './usePhone.ts';

export function PhoneView({ phone, snap }: { phone: Phone; snap: PhoneSnapshot }) {
  // One preference shared by dialling and answering.
  const [video, setVideo] = useState(false);
  const [joinMuted, setJoinMuted] = useState(false);
  const incoming = snap.lines.filter(
    (l) => l.direction === 'incoming' && l.state === 'ringing' && l.phase === 'ringing',
  );
  const hasActive = snap.lines.some((l) => l.state === 'active');
  const ticking = snap.lines.some((l) => l.state === 'active' || l.state === 'held');
  const now = useNow(ticking);
  useRinger(incoming.length > 0, incoming[0]?.displayName ?? null);
  const self = { uri: snap.account?.uri ?? '', name: snap.account?.user ?? 'You' };
  const conference = snap.conference;

  return (
    <div className="phone-view">
      {incoming.map((line) => (
        <IncomingCall
          key={line.id}
          line={line}
          otherActive={hasActive}
          onAnswer={(holdOthers) => void phone.answer(line.id, { video, holdOthers, muted: joinMuted })}
          onDecline={() => phone.decline(line.id)}
        />
      ))}

      <DialForm
        phone={phone}
        snap={snap}
        video={video}
        onVideoChange={setVideo}
        joinMuted={joinMuted}
        onJoinMutedChange={setJoinMuted}
        hasActive={hasActive}
      />

      <section className="lines" aria-labelledby="lines-title">
        <h2 id="lines-title" className="section-title">
          Calls
        </h2>
        {snap.lines.length === 0 ? (
          <p className="empty" data-testid="no-calls">
            No calls. Type a name above — for example <span className="mono">bob</span> — and press Enter.
          </p>
        ) : (
          <ul className="line-list">
            {/* Ended lines go below the live ones: when they fade out, nothing moves under the user's pointer. */}
            {[...snap.lines]
              .sort((a, b) => Number(a.state === 'ended') - Number(b.state === 'ended'))
              .map((line) => (
                <LineCard
                  key={line.id}
                  line={line}
                  now={now}
                  phone={phone}
                  speakerId={snap.devices.selected.speaker}
                  self={self}
                  roster={conference !== null && conference.lineId === line.id ? conference.roster : null}
                />
              ))}
          </ul>
        )}
      </section>

      {(snap.lines.length > 0 || snap.conference !== null) && <ConferencePanel phone={phone} snap={snap} />}

      <DevicePanel phone={phone} snap={snap} />
    </div>
  );
}
