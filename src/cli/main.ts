// The `sessionmesh` command: parses the subcommand and hands off to one file per command.

import { SessionMeshError } from '../errors.js';
import { UsageError } from './args.js';

const HELP = `sessionmesh — sessions for Node apps that run as several instances

Usage: sessionmesh <command> [options]

Commands:
  demo      start a proxy, several nodes and a live dashboard on this machine
  node      run an app node (cluster member, HTTP server)
  proxy     run the sticky load balancer
  status    show members, partitions, sessions and health
  help      show this text

Run 'sessionmesh <command> --help' for a command's options.`;

/** Runs the command line; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(HELP);
    return 0;
  }
  if (command === '--version' || command === '-v') {
    console.log(process.env.npm_package_version ?? '0.1.0');
    return 0;
  }
  const handler = COMMANDS[command];
  if (!handler) {
    console.error(
      `sessionmesh: unknown command "${command}"; valid commands: ${Object.keys(COMMANDS).join(', ')}, help`,
    );
    return 2;
  }
  try {
    return await handler(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(err.message);
      return 2;
    }
    if (err instanceof SessionMeshError) {
      console.error(`sessionmesh ${command}: ${err.message} (${err.code})`);
      return 2;
    }
    throw err;
  }
}

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  demo: (argv) => import('./demo-command.js').then((m) => m.demoCommand(argv)),
  node: (argv) => import('./node-command.js').then((m) => m.nodeCommand(argv)),
  proxy: (argv) => import('./proxy-command.js').then((m) => m.proxyCommand(argv)),
  status: (argv) => import('./status-command.js').then((m) => m.statusCommand(argv)),
};
