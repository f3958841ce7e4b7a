import type { ConferenceInfo, Endpoint, User } from '../../src/index.ts';

export const CONF = 'sip:conf-abc@example.com';

export function endpoint(entity: string, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    entity,
    status: 'connected',
    joiningMethod: 'dialed-in',
    joiningInfo: { when: '2026-01-15T10:00:00.000Z' },
    media: [{ id: `${entity}-a`, type: 'audio', label: 'main-audio', srcId: '1234', status: 'sendrecv' }],
    ...extra,
  };
}

export function user(entity: string, extra: Partial<User> = {}): User {
  return {
    entity,
    displayText: entity.replace(/^sip:|@.*$/g, ''),
    roles: ['participant'],
    endpoints: [endpoint(`${entity};ep=1`)],
    ...extra,
  };
}

/** A document that uses every modelled element at least once. */
export function richDocument(version = 0): ConferenceInfo {
  return {
    entity: CONF,
    state: 'full',
    version,
    description: {
      displayText: 'Weekly sync',
      subject: 'Roadmap & <planning>',
      freeText: 'Line one\nLine two',
      keywords: ['roadmap', 'weekly'],
      confUris: { entries: [{ uri: CONF, displayText: 'Join', purpose: 'participation' }] },
      serviceUris: {
        entries: [
          {
            uri: 'https://conclave.example.com/c/abc',
            purpose: 'web-page',
            modified: { when: '2026-01-15T09:00:00Z', by: 'sip:alice@example.com', reason: 'created' },
          },
        ],
      },
      maximumUserCount: 25,
      availableMedia: [
        { label: 'main-audio', type: 'audio', displayText: 'Audio mix', status: 'sendrecv' },
        { label: 'main-video', type: 'video', status: 'sendonly' },
      ],
    },
    hostInfo: {
      displayText: 'Conclave',
      webPage: 'https://conclave.example.com/',
      uris: { entries: [{ uri: 'sip:focus@example.com' }] },
    },
    conferenceState: { userCount: 2, active: true, locked: false },
    users: {
      entries: [
        user('sip:alice@example.com', {
          displayText: 'Alice "Al" O\'Neil',
          roles: ['creator', 'participant'],
          languages: ['en', 'fr-CA'],
          associatedAors: { entries: [{ uri: 'mailto:alice@example.com' }] },
          endpoints: [
            endpoint('sip:alice@192.0.2.10;transport=ws', {
              displayText: 'Alice (browser)',
              referred: { when: '2026-01-15T09:59:00Z', by: 'sip:bob@example.com' },
              callInfo: { callId: 'abc@192.0.2.10', fromTag: 'f1', toTag: 't1', displayText: 'main dialog' },
              speaking: true,
              mutedByFocus: false,
              media: [
                {
                  id: '1',
                  displayText: 'mic',
                  type: 'audio',
                  label: 'main-audio',
                  srcId: '987654321',
                  status: 'sendrecv',
                },
                { id: '2', type: 'video', label: 'main-video', status: 'recvonly' },
              ],
            }),
          ],
        }),
        user('sip:bob@example.com', {
          endpoints: [
            endpoint('sip:bob@pc33.example.com', {
              status: 'disconnected',
              joiningMethod: 'dialed-out',
              disconnectionMethod: 'booted',
              disconnectionInfo: {
                when: '2026-01-15T10:05:00+01:00',
                reason: 'misbehaving',
                by: 'sip:alice@example.com',
              },
            }),
          ],
        }),
      ],
    },
  };
}
