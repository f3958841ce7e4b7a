/**
 * Local media: acquiring the microphone (and camera) before a call is placed or answered, so a
 * missing camera degrades to audio instead of failing the call; and single tracks for switching
 * devices during a call.
 */
export interface LocalMedia {
  readonly stream: MediaStream;
  /** True if the stream has a video track. */
  readonly video: boolean;
  /** Set when video was wanted but could not be had, or a chosen device was missing. */
  readonly note: string | null;
}

/** getUserMedia constraints per kind (`true` = the system default device). */
export interface MediaChoice {
  readonly audio?: MediaTrackConstraints | true;
  readonly video?: MediaTrackConstraints | true;
}

export class MediaError extends Error {
  override readonly name = 'MediaError';
}

type Device = 'microphone' | 'camera';

function errorName(error: unknown): string {
  return (error as { name?: string } | null)?.name ?? '';
}

export function explainMediaError(error: unknown, device: Device = 'microphone'): string {
  switch (errorName(error)) {
    case 'NotAllowedError':
    case 'SecurityError':
      return `${device} access was denied: allow it in the browser and try again`;
    case 'NotFoundError':
    case 'OverconstrainedError':
      return `no ${device} found`;
    case 'NotReadableError':
    case 'AbortError':
      return `the ${device} is in use by another application`;
    default:
      return `${device} unavailable (${String(error)})`;
  }
}

/** The chosen device is gone (unplugged, or ids changed): worth retrying with the default one. */
function deviceMissing(error: unknown): boolean {
  const name = errorName(error);
  return name === 'OverconstrainedError' || name === 'NotFoundError';
}

function mediaDevices(): MediaDevices {
  const devices = globalThis.navigator?.mediaDevices;
  if (!devices?.getUserMedia) {
    throw new MediaError('this browser cannot capture audio here (a secure origin — https or localhost — is required)');
  }
  return devices;
}

export async function acquireLocalMedia(wantVideo: boolean, choice: MediaChoice = {}): Promise<LocalMedia> {
  const devices = mediaDevices();
  const audio = choice.audio ?? true;
  const video = choice.video ?? true;
  if (wantVideo) {
    try {
      const stream = await devices.getUserMedia({ audio, video });
      return { stream, video: true, note: null };
    } catch (error) {
      if (deviceMissing(error) && (audio !== true || video !== true)) {
        try {
          const stream = await devices.getUserMedia({ audio: true, video: true });
          return {
            stream,
            video: true,
            note: 'the chosen microphone or camera is not available: using the default ones',
          };
        } catch {
          // fall through
        }
      }
      // Fall through to audio only: a call without video beats no call.
    }
  }
  const videoNote = wantVideo ? 'camera unavailable: calling with audio only' : null;
  try {
    const stream = await devices.getUserMedia({ audio, video: false });
    return { stream, video: false, note: videoNote };
  } catch (error) {
    if (deviceMissing(error) && audio !== true) {
      try {
        const stream = await devices.getUserMedia({ audio: true, video: false });
        return {
          stream,
          video: false,
          note: videoNote ?? 'the chosen microphone is not available: using the default one',
        };
      } catch {
        // report the first error
      }
    }
    throw new MediaError(explainMediaError(error), { cause: error });
  }
}

/** One new track from a chosen device (switching microphone or camera during a call). */
export async function acquireTrack(
  kind: 'audio' | 'video',
  constraint: MediaTrackConstraints | true,
): Promise<MediaStreamTrack> {
  const devices = mediaDevices();
  const device: Device = kind === 'audio' ? 'microphone' : 'camera';
  try {
    const stream = await devices.getUserMedia(
      kind === 'audio' ? { audio: constraint, video: false } : { audio: false, video: constraint },
    );
    const track = stream.getTracks().find((t) => t.kind === kind);
    if (!track) {
      stopStream(stream);
      throw new MediaError(`no ${device} track was delivered`);
    }
    return track;
  } catch (error) {
    if (error instanceof MediaError) throw error;
    throw new MediaError(explainMediaError(error, device), { cause: error });
  }
}

export function stopStream(stream: MediaStream | null | undefined): void {
  if (!stream) return;
  for (const track of stream.getTracks()) track.stop();
}
