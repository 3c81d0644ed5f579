// Kubernetes quantities, Go-style durations and cron expressions: the string
// formats that appear in the custom resources. The regular expressions are the
// ones in the CRD schemas (tests compare them), so a value accepted here is
// accepted by the API server and the other way round.

/** Byte quantities (storage size, quota): no sign, no milli suffix. */
export const BYTE_QUANTITY_PATTERN = '^(\\d+(\\.\\d+)?|\\.\\d+)([KMGTPE]i|[kMGTPE]|[eE]\\d+)?$';
/** Resource quantities (CPU, memory): as above plus the milli suffix "m". */
export const RESOURCE_QUANTITY_PATTERN = '^(\\d+(\\.\\d+)?|\\.\\d+)([KMGTPE]i|[mkMGTPE]|[eE]\\d+)?$';
/** Go-style duration limited to h, m, s and ms, e.g. "168h" or "1h30m". */
export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(h|m|s|ms))+$';
/** Five whitespace-separated cron fields (checked in detail by cronProblems), or an @-macro. */
export const CRON_PATTERN = '^(\\s*[0-9A-Za-z*/,?-]+(\\s+[0-9A-Za-z*/,?-]+){4}\\s*|@(yearly|annually|monthly|weekly|daily|midnight|hourly))$';

const byteQuantityRe = new RegExp(BYTE_QUANTITY_PATTERN);
const resourceQuantityRe = new RegExp(RESOURCE_QUANTITY_PATTERN);
const durationRe = new RegExp(DURATION_PATTERN);
const cronRe = new RegExp(CRON_PATTERN);

const suffixFactor: Record<string, number> = {
  '': 1,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

export function isByteQuantity(value: unknown): boolean {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0;
  return typeof value === 'string' && byteQuantityRe.test(value) && parseQuantity(value) > 0;
}

export function isResourceQuantity(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0;
  return typeof value === 'string' && resourceQuantityRe.test(value);
}

/** The numeric value of a quantity ("1Gi" -> 1073741824, "500m" -> 0.5). Throws on malformed input. */
export function parseQuantity(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`invalid quantity ${value}`);
    return value;
  }
  if (!resourceQuantityRe.test(value)) throw new Error(`invalid quantity "${value}"`);
  const m = /^(\d+(?:\.\d+)?|\.\d+)(.*)$/.exec(value);
  if (!m) throw new Error(`invalid quantity "${value}"`);
  const base = Number(m[1]);
  const suffix = m[2];
  if (suffix.startsWith('e') || suffix.startsWith('E')) return base * 10 ** Number(suffix.slice(1));
  return base * suffixFactor[suffix];
}

/** A byte quantity as a whole number of bytes, rounded up as Kubernetes does. */
export function quantityToBytes(value: string | number): number {
  return Math.ceil(parseQuantity(value));
}

export function isDuration(value: unknown): boolean {
  return typeof value === 'string' && durationRe.test(value);
}

/** Milliseconds in a duration such as "168h" or "1h30m15s". Throws on malformed input. */
export function parseDuration(value: string): number {
  if (!durationRe.test(value)) throw new Error(`invalid duration "${value}"`);
  const unitMs: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const part of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)/g)) total += Number(part[1]) * unitMs[part[2]];
  return total;
}

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const cronFields: CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'] },
  { name: 'day of week', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function cronValue(text: string, field: CronField): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= field.min && n <= field.max ? n : undefined;
  }
  const i = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (i < 0) return undefined;
  return field.name === 'month' ? i + 1 : i;
}

/** The @-macros a schedule may use instead of five fields. */
export const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/**
 * Problems with a five-field cron expression (empty when it is valid). Each
 * field is a comma list of `*`, `?` (day fields), `n`, `a-b`, each optionally
 * followed by `/step`; months and weekdays may be given by English abbreviations.
 */
export function cronProblems(expr: string): string[] {
  if (CRON_MACROS.includes(expr.trim())) return [];
  if (expr.trim().startsWith('@')) return [`unknown macro; use one of ${CRON_MACROS.join(', ')} or five fields`];
  if (!cronRe.test(expr)) return ['must have five fields: minute hour day-of-month month day-of-week'];
  const problems: string[] = [];
  const parts = expr.trim().split(/\s+/);
  parts.forEach((part, idx) => {
    const field = cronFields[idx];
    for (const item of part.split(',')) {
      const [range, step, ...extra] = item.split('/');
      const bad = (): void => {
        problems.push(`${field.name} field "${part}" is not valid (allowed ${field.min}-${field.max})`);
      };
      if (extra.length > 0 || (step !== undefined && !/^[1-9]\d*$/.test(step))) {
        bad();
        continue;
      }
      if (range === '*' || (range === '?' && (idx === 2 || idx === 4))) continue;
      const ends = range.split('-');
      if (ends.length > 2) {
        bad();
        continue;
      }
      const values = ends.map((e) => cronValue(e, field));
      if (values.some((v) => v === undefined) || (values.length === 2 && (values[0] as number) > (values[1] as number))) bad();
    }
  });
  return problems;
}
