/**
 * A small structured logger shared by every Conclave process.
 *
 * One line per event: `2026-11-25T14:00:00.000Z INFO  [sip-server] message key=value …`.
 * Child loggers carry context (a component name, a Call-ID) so every line about a call can be
 * found with one grep. Output goes to stderr so stdout stays free for a command's own output.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export type LogFields = Record<string, unknown>;

export interface LogSink {
  (line: string, level: Exclude<LogLevel, 'silent'>): void;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; defaults to process.stderr. Tests pass an array-backed sink. */
  sink?: LogSink;
}

const defaultSink: LogSink = (line) => {
  process.stderr.write(line + '\n');
};

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === 'string') return /^[\w.:@/+-]*$/.test(value) && value !== '' ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined)
    return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return '[unserialisable]';
  }
}

export class Logger {
  readonly #level: LogLevel;
  readonly #sink: LogSink;
  readonly #scope: string;
  readonly #context: LogFields;

  constructor(scope: string, options: LoggerOptions = {}, context: LogFields = {}) {
    this.#scope = scope;
    this.#level = options.level ?? levelFromEnv();
    this.#sink = options.sink ?? defaultSink;
    this.#context = context;
  }

  get level(): LogLevel {
    return this.#level;
  }

  /** A logger for a sub-component or a single call; fields are added to every line. */
  child(scopeOrFields: string | LogFields, fields: LogFields = {}): Logger {
    const scope = typeof scopeOrFields === 'string' ? `${this.#scope}/${scopeOrFields}` : this.#scope;
    const extra = typeof scopeOrFields === 'string' ? fields : scopeOrFields;
    return new Logger(scope, { level: this.#level, sink: this.#sink }, { ...this.#context, ...extra });
  }

  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.#level];
  }

  debug(message: string, fields?: LogFields): void {
    this.#write('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#write('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#write('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#write('error', message, fields);
  }

  #write(level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    const all = { ...this.#context, ...fields };
    const tail = Object.entries(all)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${formatValue(v)}`)
      .join(' ');
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} [${this.#scope}] ${message}${tail ? ' ' + tail : ''}`;
    this.#sink(line, level);
  }
}

export function levelFromEnv(): LogLevel {
  const raw = process.env['CONCLAVE_LOG_LEVEL'];
  return raw && raw in LEVEL_RANK ? (raw as LogLevel) : 'info';
}

export function createLogger(scope: string, options?: LoggerOptions): Logger {
  return new Logger(scope, options);
}
