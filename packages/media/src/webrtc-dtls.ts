/**
 * The DTLS/ICE side of a WebRtcLeg's session with its party: our DTLS role (chosen once, never
 * flipped: Chromium refuses a flip), the party's fingerprint and ICE ufrag, and how a transport is
 * connected with them (first description, ICE restart by the party, new transport after a worker crash).
 */
import type * as ms from 'mediasoup/types';
import type { Logger } from '@conclave/log';
import { SdpNegotiationError } from './errors.ts';
import type { RemoteDescription } from './sdp/remote-description.ts';

export class DtlsSession {
  /** Our DTLS setup once chosen; never changes afterwards (Chromium refuses a flip). */
  #localSetup: 'active' | 'passive' | undefined;
  #remoteFingerprint: string | undefined;
  #remoteFingerprintAlgorithm: string | undefined;
  #remoteUfrag: string | undefined;

  get localSetup(): 'active' | 'passive' | undefined {
    return this.#localSetup;
  }
  get remoteFingerprint(): string | undefined {
    return this.#remoteFingerprint;
  }

  /**
   * Connects `transport` with the first description of the party (either kind), or restarts ICE when a
   * later offer brings a new ufrag. `assertOpen` throws if the leg closed meanwhile.
   */
  async apply(
    transport: ms.WebRtcTransport,
    desc: RemoteDescription,
    kind: 'offer' | 'answer',
    log: Logger,
    assertOpen: (op: string) => void,
  ): Promise<void> {
    if (this.#localSetup === undefined) {
      // Answering: we are passive (the DTLS server, as mediasoup-client does) unless the party insists
      // on being passive. Offering (actpass): the party chose; an answer without a=setup means active.
      const remoteIsServer = desc.setup === 'passive';
      this.#localSetup = remoteIsServer ? 'active' : 'passive';
      const fingerprint = {
        algorithm: desc.fingerprint.algorithm as ms.FingerprintAlgorithm,
        value: desc.fingerprint.value,
      };
      try {
        await transport.connect({
          dtlsParameters: { role: remoteIsServer ? 'server' : 'client', fingerprints: [fingerprint] },
        });
      } catch (err) {
        this.#localSetup = undefined;
        assertOpen('connect');
        throw new SdpNegotiationError(`cannot use the ${kind}'s DTLS parameters: ${(err as Error).message}`, {
          cause: err,
        });
      }
      this.#remoteFingerprint = desc.fingerprint.value;
      this.#remoteFingerprintAlgorithm = desc.fingerprint.algorithm;
      this.#remoteUfrag = desc.iceUfrag;
      log.info('transport connecting', { localSetup: this.#localSetup });
      return;
    }
    if (kind === 'offer' && this.#remoteUfrag !== undefined && desc.iceUfrag !== this.#remoteUfrag) {
      // The party restarted ICE: it expects fresh credentials from us in the answer.
      await transport.restartIce();
      log.info('ice restarted by the remote party');
    }
    this.#remoteUfrag = desc.iceUfrag;
  }

  /**
   * The transport was replaced (worker crash). It connects with the next description of the party, as
   * a fresh one does: Chromium restarts DTLS while it applies our re-offer, and a DTLS server started
   * earlier answers the handshake it abandons (measured: 'unexpected message' alert, DTLS failed). Only
   * a remote offer already applied (`answerIsNext`: our answer is next) connects it now, with the role
   * we had.
   */
  async moveTo(
    transport: ms.WebRtcTransport,
    answerIsNext: boolean,
    label: string,
    assertOpen: (op: string) => void,
  ): Promise<void> {
    const setup = this.#localSetup;
    this.#localSetup = undefined;
    if (!answerIsNext || !setup || !this.#remoteFingerprint || !this.#remoteFingerprintAlgorithm) return;
    try {
      await transport.connect({
        dtlsParameters: {
          role: setup === 'active' ? 'client' : 'server',
          fingerprints: [
            {
              algorithm: this.#remoteFingerprintAlgorithm as ms.FingerprintAlgorithm,
              value: this.#remoteFingerprint,
            },
          ],
        },
      });
      this.#localSetup = setup;
    } catch (err) {
      assertOpen('rebuild');
      throw new Error(`cannot connect the new transport of leg '${label}': ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
