/**
 * `pipeline <command>`: the operator's command line (bin entry of this package; also
 * `npm run pipeline -- <command>`). Every command has --help; read commands have --json.
 */
import { parseArgs } from 'node:util';
import { COMMANDS, UsageError, type Command } from './cli-commands.js';
import { exitQuietlyOnClosedPipe, exitWhenFlushed } from './cli-output.js';

function synopsis(c: Command): string {
  const flags = Object.entries(c.options ?? {}).map(([name, o]) =>
    o.type === 'boolean' ? `[--${name}]` : `[--${name} V]`,
  );
  return [c.name, ...(c.operands ?? []), ...flags, ...(c.json ? ['[--json]'] : [])].join(' ');
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length + (c.operands ?? []).join(' ').length + 1));
  const lines = COMMANDS.map(
    (c) => `  ${[c.name, ...(c.operands ?? [])].join(' ').padEnd(width)}  ${c.summary}`,
  );
  return `usage: pipeline <command> [options]     (from the checkout: npx pipeline ..., or npm run pipeline -- ...)

${lines.join('\n')}

pipeline <command> --help    options and exit codes of a command
Read commands (show, list, reconcile) take --json: one JSON document on stdout.
Configuration comes from environment variables (see the README); the defaults reach \`npm start\`'s local stack.
`;
}

function commandHelp(c: Command): string {
  const options = Object.keys(c.options ?? {}).map(
    (name) => `  --${name.padEnd(16)} ${c.optionHelp?.[name] ?? ''}`,
  );
  if (c.json) options.push(`  --${'json'.padEnd(16)} one JSON document on stdout instead of text`);
  options.push(`  --${'help'.padEnd(16)} this text`);
  return `usage: pipeline ${synopsis(c)}

${c.summary}${c.details ? `\n${c.details}` : ''}

options:
${options.join('\n')}
`;
}

/** The command named by the longest run of leading words, and what follows it. */
function findCommand(argv: string[]): { command: Command; rest: string[] } | null {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const command = COMMANDS.find((c) => c.name === name);
    if (command) return { command, rest: argv.slice(words) };
  }
  return null;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(overview());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    process.stderr.write(`unknown command: ${argv.slice(0, 2).join(' ')}\n\n${overview()}`);
    return 2;
  }
  const { command, rest } = found;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      options: {
        ...command.options,
        help: { type: 'boolean', short: 'h' },
        ...(command.json ? { json: { type: 'boolean' } } : {}),
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${commandHelp(command)}`);
    return 2;
  }
  if (parsed.values.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  const expected = command.operands ?? [];
  if (parsed.positionals.length !== expected.length) {
    const problem = expected.length
      ? `${command.name} takes ${expected.join(' ')}`
      : `${command.name} takes no operands, got: ${parsed.positionals.join(' ')}`;
    process.stderr.write(`${problem}\n\n${commandHelp(command)}`);
    return 2;
  }
  try {
    return await command.run({
      operands: parsed.positionals,
      values: parsed.values,
      json: parsed.values.json === true,
    });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${commandHelp(command)}`);
    return 2;
  }
}

exitQuietlyOnClosedPipe();
main(process.argv.slice(2)).then(
  (code) => exitWhenFlushed(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    return exitWhenFlushed(1);
  },
);
