// The operator's pino logger: JSON lines on stdout.
import { pino, type Logger, type LevelWithSilent } from 'pino';

const LEVELS: LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function createLogger(level: string | undefined, destination?: NodeJS.WritableStream): Logger {
  const lvl = (LEVELS as string[]).includes(level ?? '') ? (level as LevelWithSilent) : 'info';
  const opts = { level: lvl, base: { component: 'kvorum-operator' } };
  return destination ? pino(opts, destination as unknown as pino.DestinationStream) : pino(opts);
}
