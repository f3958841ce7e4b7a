/**
 * A conference member as the focus sees it: one participant (its roster id and address) and the media
 * dialog that carries its call — the SIP dialog with the focus's `;isfocus` Contact bound to its leg in
 * the conference's media room. The member owns that media dialog: nothing else ends or re-offers it.
 */
import type { MediaLeg } from '@conclave/media';
import type { MediaDialog } from '../media-dialog.ts';
import type { SrfDialog } from '../srf.ts';

export interface MemberIdentity {
  participantId: string;
  /** The participant's SIP URI (address of record). */
  aor: string;
  /** Local user name when the participant is one of ours. */
  user: string | undefined;
}

export class Member {
  readonly participantId: string;
  readonly aor: string;
  readonly user: string | undefined;
  readonly media: MediaDialog;

  constructor(identity: MemberIdentity, media: MediaDialog) {
    this.participantId = identity.participantId;
    this.aor = identity.aor;
    this.user = identity.user;
    this.media = media;
  }

  get leg(): MediaLeg {
    return this.media.leg;
  }

  get dialog(): SrfDialog {
    return this.media.dialog;
  }

  get callId(): string {
    return this.media.callId;
  }

  get gone(): boolean {
    return this.media.gone;
  }

  /** Ends the member's call from the focus side (BYE with the reason). */
  hangup(reason: string): void {
    this.media.end(reason, 'ended');
  }
}
