/**
 * Local media: acquiring the microphone (and camera) before a call is placed or answered, so a
 * missing camera degrades to audio instead of failing the call.
 */
export interface LocalMedia {
  readonly stream: MediaStream;
  /** True if the stream has a video track. */
  readonly video: boolean;
  /** Set when video was wanted but could not be had. */
  readonly note: string | null;
}

export class MediaError extends Error {
  override readonly name = 'MediaError';
}

function explain(error: unknown): string {
  const name = (error as { name?: string } | null)?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
      return 'microphone access was denied: allow it in the browser and try again';
    case 'NotFoundError':
    case 'OverconstrainedError':
      return 'no microphone found';
    case 'NotReadableError':
    case 'AbortError':
      return 'the microphone is in use by another application';
    default:
      return `microphone unavailable (${String(error)})`;
  }
}

export async function acquireLocalMedia(wantVideo: boolean): Promise<LocalMedia> {
  const devices = globalThis.navigator?.mediaDevices;
  if (!devices?.getUserMedia) {
    throw new MediaError('this browser cannot capture audio here (a secure origin — https or localhost — is required)');
  }
  if (wantVideo) {
    try {
      const stream = await devices.getUserMedia({ audio: true, video: true });
      return { stream, video: true, note: null };
    } catch {
      // Fall through to audio only: a call without video beats no call.
    }
  }
  try {
    const stream = await devices.getUserMedia({ audio: true, video: false });
    return { stream, video: false, note: wantVideo ? 'camera unavailable: calling with audio only' : null };
  } catch (error) {
    throw new MediaError(explain(error), { cause: error });
  }
}

export function stopStream(stream: MediaStream | null | undefined): void {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
}
