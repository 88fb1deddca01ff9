/**
 * `pchat-dr console`: the approval console (docs/console.md), a small web server that shows open runs and answers
 * their gates from a browser or a phone, signed with a passkey. It listens on loopback unless told otherwise, reads
 * runs with its own Temporal connection (the usual TEMPORAL_* settings), and runs until SIGINT/SIGTERM.
 */
import { Command } from 'commander';
import { loadTopology } from '../../topology/load';
import { CliError, EXIT } from '../../runtime/exit';
import { printLine } from '../output';
import {
  connectTemporal,
  firstLine,
  taskQueueOf,
  temporalClient,
  withTemporalOptions,
  type TemporalFlags,
} from '../run-access';
import { untilStopped } from '../until-stopped';

interface ConsoleFlags extends TemporalFlags {
  listen?: string;
  url?: string;
  estate?: string;
}

export const DEFAULT_CONSOLE_LISTEN = '127.0.0.1:8090';
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i;

/** host:port (an IPv6 host in brackets); port 0 takes a free one. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65_535)
    throw new CliError(
      `--listen ${value}: give host:port, e.g. ${DEFAULT_CONSOLE_LISTEN} (0.0.0.0:8090 for every interface)`,
    );
  return { host: match[1].replace(/^\[|\]$/g, ''), port };
}

/** The address people open: --url, else PCHAT_DR_CONSOLE_URL, else the estate's console.url. */
function consoleUrlOf(flags: ConsoleFlags): string | undefined {
  const given = flags.url ?? (process.env.PCHAT_DR_CONSOLE_URL || undefined);
  const url = given ?? (flags.estate ? loadTopology(flags.estate).topology.console?.url : undefined);
  if (flags.estate && !url)
    throw new CliError(`${flags.estate} has no console.url: add it (the address people open), or give --url`);
  if (url) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new CliError(`--url ${url}: not an address (e.g. https://dr-console.example.com)`);
    }
    if (
      parsed.protocol !== 'https:' &&
      !(parsed.protocol === 'http:' && /^(localhost|127\.0\.0\.1)$/.test(parsed.hostname))
    )
      throw new CliError(`--url ${url}: passkeys work only on https:// addresses (or http://localhost)`);
  }
  return url;
}

export function consoleCommand(): Command {
  const command = new Command('console')
    .description('serve the approval console: open runs, their gates, answers signed with passkeys (until SIGINT)')
    .option(
      '--listen <host:port>',
      `where to listen (env PCHAT_DR_CONSOLE_LISTEN; default ${DEFAULT_CONSOLE_LISTEN}: this machine only)`,
    )
    .option(
      '--url <address>',
      "the address people open, which passkeys sign for (env PCHAT_DR_CONSOLE_URL; default the estate's console.url, else http://localhost:PORT)",
    )
    .option('-f, --estate <file>', "a topology file whose console.url is the console's address");
  return withTemporalOptions(command).action(async (flags: ConsoleFlags) => {
    const { host, port } = parseListen(flags.listen ?? (process.env.PCHAT_DR_CONSOLE_LISTEN || DEFAULT_CONSOLE_LISTEN));
    const url = consoleUrlOf(flags);
    const { connection, namespace, address } = await connectTemporal(flags);
    const { startConsole } = require('../console/server') as typeof import('../console/server');
    const taskQueue = taskQueueOf(flags);
    let running;
    try {
      running = await startConsole({
        client: new (temporalClient().Client)({ connection, namespace }),
        taskQueue,
        host,
        port,
        url,
      });
    } catch (error) {
      await connection.close();
      throw new CliError(`--listen ${host}:${port}: cannot listen there (${firstLine(error)})`, EXIT.failed);
    }
    printLine(
      `pchat-dr console: ${running.url} (listening on ${running.listening}; Temporal ${address}, namespace ${namespace}, task queue ${taskQueue})`,
    );
    if (!LOOPBACK.test(host))
      printLine(`listening beyond this machine (${host}): serve it to people over https (a reverse proxy with TLS)`);
    await untilStopped();
    await running.close();
    await connection.close();
  });
}
