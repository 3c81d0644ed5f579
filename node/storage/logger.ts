import { pino, type Logger } from 'pino';

/** The logger used when the caller passes none. */
export function defaultStorageLogger(): Logger {
  return pino({ name: 'kvorum-storage' });
}

export type { Logger };
