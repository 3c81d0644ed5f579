// The replicated state machine the simulator runs on top of Raft: a tiny
// key-value map with get/put/append/cas. Commands carry (client, op) so a
// command that reaches the log twice (a duplicated forwarded proposal) takes
// effect once, as a real server's request IDs would ensure.

export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string }
  | { op: 'cas'; key: string; expect: string; value: string };

export type KvOutput = { value: string } | { ok: boolean } | Record<string, never>;

export interface KvCommand {
  client: number;
  op: number;
  input: KvInput;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export function executeKv(data: Map<string, string>, input: KvInput): KvOutput {
  const current = data.get(input.key) ?? '';
  switch (input.op) {
    case 'get':
      return { value: current };
    case 'put':
      data.set(input.key, input.value);
      return {};
    case 'append':
      data.set(input.key, current + input.value);
      return {};
    case 'cas':
      if (current !== input.expect) return { ok: false };
      data.set(input.key, input.value);
      return { ok: true };
  }
}

export class KvMachine {
  data = new Map<string, string>();
  /** Result of every command applied, by "client:op". */
  results = new Map<string, KvOutput>();
  applied = 0;

  /** Applies a command at `index`; returns its result (the first result, for a duplicate). */
  apply(index: number, cmd: KvCommand): KvOutput {
    this.applied = index;
    const key = `${cmd.client}:${cmd.op}`;
    const seen = this.results.get(key);
    if (seen) return seen;
    const out = executeKv(this.data, cmd.input);
    this.results.set(key, out);
    return out;
  }

  read(key: string): string {
    return this.data.get(key) ?? '';
  }

  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ data: [...this.data], results: [...this.results], applied: this.applied }));
  }

  static restore(bytes: Uint8Array): KvMachine {
    const m = new KvMachine();
    if (bytes.length === 0) return m;
    const parsed = JSON.parse(decoder.decode(bytes)) as { data: [string, string][]; results: [string, KvOutput][]; applied: number };
    m.data = new Map(parsed.data);
    m.results = new Map(parsed.results);
    m.applied = parsed.applied;
    return m;
  }

  fingerprint(): string {
    return JSON.stringify([...this.data].sort(([a], [b]) => a.localeCompare(b)));
  }
}
