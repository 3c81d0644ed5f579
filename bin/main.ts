// Subcommand dispatch for the `kvorum` binary. Each subcommand lives in its
// own module and is loaded only when asked for, so `kvorum node` does not pay
// for the operator's Kubernetes client and the other way round.

type Command = { summary: string; run: (args: string[]) => Promise<number> };

const commands: Record<string, Command> = {};

/** Registers a subcommand; modules call this from bin/commands.ts. */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}

function usage(): string {
  const lines = ['usage: kvorum <command> [flags]', '', 'commands:'];
  for (const [name, cmd] of Object.entries(commands).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`  ${name.padEnd(10)} ${cmd.summary}`);
  }
  return lines.join('\n') + '\n';
}

export async function main(argv: string[]): Promise<number> {
  await import('./commands.js');
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`kvorum: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}
