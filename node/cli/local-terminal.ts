// The terminal side of `kvorum local`: lines that scroll (warnings, errors,
// member exits) and one status line. On a TTY the status line is redrawn in
// place below the scrolling lines; elsewhere (a pipe, a CI log) it is printed
// as a plain line when it changes and at least every PLAIN_STATUS_EVERY_MS.
import type { Writable } from 'node:stream';

const PLAIN_STATUS_EVERY_MS = 10_000;
const CLEAR_LINE = '\r\x1b[2K';
const COLORS: Record<string, string> = { WARN: '\x1b[33m', ERROR: '\x1b[31m', FATAL: '\x1b[31m' };
const RESET = '\x1b[0m';

export class LocalTerminal {
  private status = '';
  private lastPlain = { line: '', at: -Infinity };

  constructor(
    private readonly out: Writable & { isTTY?: boolean; columns?: number },
    private readonly now: () => number = Date.now,
  ) {}

  get isTTY(): boolean {
    return this.out.isTTY === true;
  }

  /** Prints a line above the status line; `level` colors it on a TTY. */
  print(text: string, level?: string): void {
    if (!this.isTTY) {
      this.out.write(text + '\n');
      return;
    }
    const color = level ? COLORS[level] : undefined;
    this.out.write(CLEAR_LINE + (color ? color + text + RESET : text) + '\n' + this.fitted());
  }

  /** Shows the cluster status: in place on a TTY, as a timestamped line otherwise. */
  setStatus(line: string): void {
    this.status = line;
    if (this.isTTY) {
      this.out.write(CLEAR_LINE + this.fitted());
      return;
    }
    const now = this.now();
    if (line === this.lastPlain.line && now - this.lastPlain.at < PLAIN_STATUS_EVERY_MS) return;
    this.lastPlain = { line, at: now };
    this.out.write(`${new Date(now).toISOString().slice(11, 19)} status: ${line}\n`);
  }

  /** Leaves the status line on screen and moves below it. */
  end(): void {
    if (this.isTTY && this.status) this.out.write('\n');
    this.status = '';
  }

  /** The status line cut to the terminal's width, so redrawing never wraps. */
  private fitted(): string {
    const width = this.out.columns || 120;
    return this.status.length < width ? this.status : this.status.slice(0, Math.max(0, width - 2)) + '…';
  }
}
