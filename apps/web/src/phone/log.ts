/**
 * Browser logger with the same shape as @conclave/log (child loggers carry context).
 * Debug lines are shown only when localStorage["conclave.debug"] is set, so the console stays quiet.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(context: Record<string, unknown>): Logger;
}

function debugEnabled(): boolean {
  try {
    return typeof localStorage !== 'undefined' && localStorage.getItem('conclave.debug') !== null;
  } catch {
    return false;
  }
}

export function createLogger(name: string, context: Record<string, unknown> = {}): Logger {
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (level === 'debug' && !debugEnabled()) return;
    const line = { ...context, ...fields };
    const sink = globalThis.console;
    const text = `[${name}] ${message}`;
    if (Object.keys(line).length === 0) sink[level](text);
    else sink[level](text, line);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (more) => createLogger(name, { ...context, ...more }),
  };
}

/** A logger that discards everything (tests). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
