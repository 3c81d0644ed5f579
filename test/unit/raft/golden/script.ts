// The golden script format. A line `> command` is a step; the lines right
// after it, up to the next blank line, `#` comment or step, are the output it
// is expected to print. Comments and blank lines are kept as they are, so a
// rewritten script differs from the old one only in outputs.

export interface Step {
  /** 1-based line number of the `> ` line, for error messages. */
  line: number;
  command: string;
  expected: string[];
}

export type Item = { text: string } | { step: Step };

const PROMPT = '> ';

export function parseScript(source: string): Item[] {
  const items: Item[] = [];
  let current: Step | undefined;
  const lines = source.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((text, i) => {
    if (text.startsWith(PROMPT)) {
      current = { line: i + 1, command: text.slice(PROMPT.length).trim(), expected: [] };
      items.push({ step: current });
    } else if (text.trim() === '' || text.startsWith('#')) {
      current = undefined;
      items.push({ text });
    } else if (current) {
      current.expected.push(text);
    } else {
      throw new Error(`line ${i + 1}: output with no step before it: ${text}`);
    }
  });
  return items;
}

/** The script with each step's output replaced by `outputs[k]` (k counting steps). */
export function renderScript(items: Item[], outputs: string[][]): string {
  const out: string[] = [];
  let k = 0;
  for (const item of items) {
    if ('text' in item) out.push(item.text);
    else out.push(PROMPT + item.step.command, ...outputs[k++]!);
  }
  return out.join('\n') + '\n';
}

/**
 * A line diff by longest common subsequence: `  ` for lines in both, `- ` for
 * expected lines missing, `+ ` for actual lines not expected.
 */
export function diffLines(expected: string[], actual: string[]): string[] {
  const n = expected.length;
  const m = actual.length;
  // lcs[i][j]: length of the common subsequence of expected[i..] and actual[j..].
  const lcs = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = expected[i] === actual[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && expected[i] === actual[j]) {
      out.push(`  ${expected[i++]}`);
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${expected[i++]}`);
    } else {
      out.push(`+ ${actual[j++]}`);
    }
  }
  return out;
}

export interface ScriptResult {
  /** What each step printed, in order. */
  outputs: string[][];
  /** One readable report per step whose output differs from its expectation. */
  failures: string[];
}

/** Runs every step through `run` and compares what it prints with the script. */
export function runScript(name: string, items: Item[], run: (command: string) => string[]): ScriptResult {
  const outputs: string[][] = [];
  const failures: string[] = [];
  for (const item of items) {
    if (!('step' in item)) continue;
    const { line, command, expected } = item.step;
    let actual: string[];
    try {
      actual = run(command);
    } catch (err) {
      throw new Error(`${name}:${line}: > ${command}: ${(err as Error).message}`, { cause: err });
    }
    outputs.push(actual);
    if (actual.length !== expected.length || actual.some((l, i) => l !== expected[i])) {
      failures.push([`${name}:${line}: > ${command}`, ...diffLines(expected, actual)].join('\n'));
    }
  }
  return { outputs, failures };
}
