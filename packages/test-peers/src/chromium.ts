/**
 * The system Chromium for tests and page scripts (Playwright drives it; its own browser downloads are
 * not used), and the command-line switches every caller wants: quiet (no GPU, QUIC, first-run, sync or
 * update traffic) and, for pages that call, fake media devices granted without a prompt, with WebRTC
 * over loopback using plain host candidates.
 */

export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export interface ChromiumArgsOptions {
  /** Fake camera and microphone, granted without a prompt; autoplay; loopback WebRTC. Default true. */
  media?: boolean;
  /** A WAV file the fake microphone plays (else Chromium's beep). */
  audioFile?: string;
  /** A Y4M file the fake camera plays (else Chromium's test pattern). */
  videoFile?: string;
  /**
   * Render audio to Chromium's fake output stream, paced by a timer: WebAudio analysis (tone checks)
   * then never depends on the machine's sound devices, which CI machines lack or starve.
   */
  fakeAudioOutput?: boolean;
}

export function chromiumArgs(options: ChromiumArgsOptions = {}): string[] {
  const args = [
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ];
  if (options.media ?? true) {
    args.push('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream');
    if (options.audioFile) args.push(`--use-file-for-fake-audio-capture=${options.audioFile}`);
    if (options.videoFile) args.push(`--use-file-for-fake-video-capture=${options.videoFile}`);
    args.push(
      '--autoplay-policy=no-user-gesture-required',
      '--allow-loopback-in-peer-connection',
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    );
  }
  if (options.fakeAudioOutput) args.push('--disable-audio-output');
  return args;
}
