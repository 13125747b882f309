/**
 * The CLI's own error, in a module of its own: a command throws it without
 * loading output.ts (chalk and every error class it tells apart) — that is
 * loaded only when something is printed (main.ts).
 */

/** An error meant for the user: a message, an exit status, and how to fix it. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly hint?: string,
  ) {
    super(message);
  }
}
